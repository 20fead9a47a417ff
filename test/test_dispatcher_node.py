# Copyright 2026 The dla_infer_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The dispatcher node with three CPU classifiers, over real rclpy, in this process."""

import dataclasses
import os
from typing import Any, Dict, Iterator, List

import pytest

from conftest import needs_onnxruntime
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.topology import build_topology, TopologyOptions
from ros_harness import configure_ros_environment, image_message, ros_available, spin_until

pytestmark = [
    pytest.mark.ros, needs_onnxruntime,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLOURS = [('red', (255, 0, 0)), ('green', (0, 255, 0)), ('blue', (0, 0, 255))]
FRAMES = 48
#: Frames published at once: two for each of the three classifiers (max_in_flight 2).
BURST = 6


class Rig:
    """Three classifiers and the dispatcher built as the launch file does, plus a test peer."""

    def __init__(self, model_path: str) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Classification
        from dla_infer_ros.cli.multi_accel import create_node, start_managed
        configure_ros_environment()
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        specs = build_topology(
            os.path.join(ROOT, 'config', 'multi_accel.yaml'),
            TopologyOptions(image_topic='camera', use_dispatcher=True, model_path=model_path,
                            classifier_overrides={'backend': 'onnxruntime'}))
        # Room for a whole burst in the dispatcher's camera queue (the file's depth is 5).
        dispatcher = dataclasses.replace(specs[-1], parameters={**specs[-1].parameters,
                                                                'image_depth': 100})
        self.specs = [*specs[:-1], dispatcher]
        self.nodes = [create_node(spec, self.context) for spec in self.specs]
        start_managed(list(zip(self.specs, self.nodes)))
        self.dispatcher = self.nodes[-1]
        self.peer = rclpy.create_node('peer', context=self.context)
        self.image_pub = self.peer.create_publisher(
            Image, 'camera', QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.merged: List[Any] = []
        self.peer.create_subscription(Classification, 'classification', self.merged.append, 100)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        for node in [*self.nodes, self.peer]:
            self.executor.add_node(node)

    def publish(self, index: int, stamped: bool = True) -> None:
        self.image_pub.publish(image_message(COLOURS[index % 3][1], 'camera',
                                             1000 + index if stamped else 0))

    def spin_until(self, condition: Any, timeout: float) -> bool:
        return spin_until(self.executor, condition, timeout)

    def close(self) -> None:
        self.executor.shutdown()
        for node in [*self.nodes, self.peer]:
            node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def rig(tiny_model: str) -> Iterator[Rig]:
    rig = Rig(tiny_model)
    yield rig
    rig.close()


def publish_in_bursts(rig: Rig, stamped: bool = True) -> Dict[str, Any]:
    """Publish FRAMES frames in bursts; :return: the dispatcher's counters once all are settled."""
    assert rig.spin_until(lambda: rig.image_pub.get_subscription_count() > 0, 10.0)
    # Bursts fill every classifier, so each one gets frames whatever its speed.
    for index in range(FRAMES):
        rig.publish(index, stamped)
        if index % BURST == BURST - 1:
            rig.spin_until(lambda: False, 0.1)

    def settled() -> bool:
        stats = rig.dispatcher.stats_snapshot()
        return stats['received'] == FRAMES and stats['released'] + stats['dropped'] + \
            stats['skipped'] == FRAMES and len(rig.merged) == stats['released']

    assert rig.spin_until(settled, 20.0), rig.dispatcher.stats_snapshot()
    stats: Dict[str, Any] = rig.dispatcher.stats_snapshot()
    return stats


def test_results_merge_in_frame_order_from_all_three(rig: Rig) -> None:
    stats = publish_in_bursts(rig)
    seconds = [m.header.stamp.sec for m in rig.merged]
    assert seconds == sorted(seconds) and len(set(seconds)) == len(seconds)
    for msg in rig.merged:
        assert msg.results[0].class_id == str((msg.header.stamp.sec - 1000) % 3)  # the index
    assert len(rig.merged) > FRAMES // 2
    # Every classifier queues the frames in flight to it, so none is lost on the way.
    assert (stats['dropped'], stats['late']) == (0, 0), stats
    sent = {name: t['sent'] for name, t in stats['targets'].items()}
    assert set(sent) == {'classifier_gpu', 'classifier_dla0', 'classifier_dla1'}
    assert all(count > 0 for count in sent.values()), sent
    assert all(t['in_flight'] == 0 for t in stats['targets'].values())


def test_targets_are_required(tiny_model: str) -> None:
    import rclpy
    from dla_infer_ros.nodes.dispatcher_node import DispatcherNode
    configure_ros_environment()
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        with pytest.raises(DlaInferError, match='targets is empty'):
            DispatcherNode(context=context)
    finally:
        context.try_shutdown()


def test_frame_key_is_stamp_and_frame_id() -> None:
    from std_msgs.msg import Header
    from dla_infer_ros.nodes.dispatcher_node import frame_key
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    assert frame_key(header) == (12_000_000_345, 'cam')


def test_unstamped_frames_are_merged_by_arrival(rig: Rig) -> None:
    # A camera that leaves the stamp at zero: every frame has the same key.
    stats = publish_in_bursts(rig, stamped=False)
    assert stats['duplicates'] == 0 and (stats['dropped'], stats['late']) == (0, 0), stats
    assert len(rig.merged) == FRAMES - stats['skipped'] > FRAMES // 2


def test_a_quiet_stream_is_shared_by_equal_classifiers(rig: Rig) -> None:
    # Three equal (CPU) classifiers, one frame at a time: they take turns.
    assert rig.spin_until(lambda: rig.image_pub.get_subscription_count() > 0, 10.0)
    for index in range(30):
        rig.publish(index)
        assert rig.spin_until(lambda: len(rig.merged) == index + 1, 10.0)
    sent = {name: t['sent'] for name, t in rig.dispatcher.stats_snapshot()['targets'].items()}
    assert all(count > 0 for count in sent.values()), sent  # was: every frame to one node


def test_frames_wait_for_no_classifier_that_is_not_listening(tiny_model: str) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from dla_infer_ros.nodes.dispatcher_node import DispatcherNode
    configure_ros_environment()
    context = rclpy.Context()
    rclpy.init(context=context)
    node = DispatcherNode(context=context, parameter_overrides=[
        Parameter('targets', value=['gone_a', 'gone_b']),
        Parameter('diagnostics_period', value=0.2)])
    peer = rclpy.create_node('peer', context=context)
    statuses: List[Any] = []
    peer.create_subscription(DiagnosticArray, '/diagnostics', statuses.append, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(peer)
    try:
        rig_publish = peer.create_publisher(Image, 'image', 10)
        assert spin_until(executor, lambda: rig_publish.get_subscription_count() > 0, 10.0)
        for index in range(5):
            msg = Image(height=1, width=1, encoding='rgb8', step=3, data=bytes(3))
            msg.header.stamp.sec = 1000 + index
            rig_publish.publish(msg)
        assert spin_until(executor, lambda: node.stats_snapshot()['received'] == 5, 10.0)
        stats = node.stats_snapshot()
        # Skipped at once, not sent into nowhere to be dropped after the timeout.
        assert stats['skipped'] == 5 and stats['dropped'] == 0
        assert all(t['sent'] == 0 for t in stats['targets'].values())
        assert spin_until(executor, lambda: len(statuses) >= 2, 10.0)
        values = {kv.key: kv.value for kv in statuses[-1].status[0].values}
        assert values['gone_a state'] == 'idle: nothing subscribes to /gone_a/image'
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
        context.try_shutdown()
