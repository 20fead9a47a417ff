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


"""
Namespaced sections of a parameters file, over real rclpy and DDS.

The nodes are built as the launch file and ``multi_accel`` build them
(:func:`build_topology`, then the runner's ``create_node`` and ``start_managed``);
frames go to the camera topic the README names, results are read where it says.
"""

import os
import textwrap
from typing import Any, Dict, Iterator, List

import pytest

from conftest import needs_onnxruntime
from dla_infer_ros.topology import build_topology, TopologyOptions
from ros_harness import configure_ros_environment, image_message, ros_available, spin_until

pytestmark = [
    pytest.mark.ros, needs_onnxruntime,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

#: Two robots' classifiers in one file: section robot_a/front_gpu is node front_gpu in
#: namespace /robot_a, whose results the README puts on /robot_a/front_gpu/classification.
PARAMETERS = """
/**:
  ros__parameters:
    backend: onnxruntime
    model_path: {model}
robot_a/front_gpu:
  ros__parameters:
    dla_core: -1
robot_a/rear_dla:
  ros__parameters:
    dla_core: 0
robot_b/front_gpu:
  ros__parameters:
    dla_core: 1
"""
OUTPUTS = ['/robot_a/front_gpu/classification', '/robot_a/rear_dla/classification',
           '/robot_b/front_gpu/classification']


class Graph:
    """The topology's nodes in this process, a camera on /image and listeners."""

    def __init__(self, path: str, use_dispatcher: bool) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from vision_msgs.msg import Classification
        from sensor_msgs.msg import Image
        from dla_infer_ros.cli.multi_accel import create_node, start_managed
        configure_ros_environment()
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.specs = build_topology(path, TopologyOptions(use_dispatcher=use_dispatcher))
        self.nodes: List[Any] = []
        self.peer = rclpy.create_node('camera', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        try:
            for spec in self.specs:
                self.nodes.append(create_node(spec, self.context))
            start_managed(list(zip(self.specs, self.nodes)))
        except BaseException:
            self.close()
            raise
        self.camera = self.peer.create_publisher(Image, '/image', 100)
        self.results: Dict[str, List[Any]] = {}
        for topic in [*OUTPUTS, '/classification']:
            self.results[topic] = []
            self.peer.create_subscription(Classification, topic, self.results[topic].append,
                                          100)
        for node in [*self.nodes, self.peer]:
            self.executor.add_node(node)

    def publish(self, index: int) -> None:
        self.camera.publish(image_message((255, 0, 0), 'camera', 1000 + index))

    def close(self) -> None:
        self.executor.shutdown()
        for node in [*self.nodes, self.peer]:
            node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def params_file(tmp_path: Any, tiny_model: str) -> str:
    path = os.path.join(str(tmp_path), 'two_robots.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(textwrap.dedent(PARAMETERS.format(model=tiny_model)))
    return path


@pytest.fixture(params=[False, True], ids=['camera', 'dispatcher'])
def graph(request: Any, params_file: str) -> Iterator[Graph]:
    graph = Graph(params_file, request.param)
    yield graph
    graph.close()


def test_frames_reach_every_namespaced_node_and_results_come_out_where_documented(
        graph: Graph) -> None:
    names = sorted(node.get_fully_qualified_name() for node in graph.nodes)
    dispatched = any(spec.name == 'dispatcher' for spec in graph.specs)
    assert [n for n in names if n != '/dispatcher'] == [
        '/robot_a/front_gpu', '/robot_a/rear_dla', '/robot_b/front_gpu']
    assert spin_until(graph.executor, lambda: graph.camera.get_subscription_count() > 0, 20.0)
    sent = 0

    def every_output_answered() -> bool:
        outputs = [*OUTPUTS, '/classification'] if dispatched else OUTPUTS
        return all(graph.results[topic] for topic in outputs)

    while not every_output_answered() and sent < 300:
        for _ in range(6):  # a burst fills every classifier (the dispatcher's max_in_flight 2)
            graph.publish(sent)
            sent += 1
        spin_until(graph.executor, lambda: False, 0.1)
    assert every_output_answered(), {t: len(r) for t, r in graph.results.items()}
    for topic in OUTPUTS:
        assert graph.results[topic][0].results[0].class_id == '0'  # red
    if not dispatched:
        assert not graph.results['/classification']  # nothing merged without a dispatcher
