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
The dispatcher node: one camera stream spread over several classifier nodes.

``image`` in -> :class:`dla_infer_ros.dispatch.Dispatcher` picks a target ->
``<target>/image`` out; ``<target>/classification`` in -> results matched to
their frame by header stamp and frame_id -> ``classification`` out, in frame
order. With one classifier per accelerator (GPU, DLA 0, DLA 1) the merged
stream approaches the sum of their frame rates.
"""

import functools
import threading
import time
from typing import Any, Dict, Hashable, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Classification

from dla_infer_ros.dispatch import Dispatcher
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.nodes.parameters import (declare_parameter, make_descriptor,
                                            reject_unknown_overrides)
from dla_infer_ros.nodes.spin import spin_node

RELIABILITIES = ('auto', 'reliable', 'best_effort')

# name: (default, description, range)
PARAMETERS: Dict[str, Tuple[Any, str, Optional[Tuple[float, float]]]] = {
    'targets': (Parameter.Type.STRING_ARRAY, 'classifier topic prefixes: frames go to '
                '<target>/image, results come from <target>/classification', None),
    'window': (16, 'most frames in flight or waiting for their turn; the oldest unfinished '
               'one is dropped to make room', (1, 1000)),
    'timeout': (1.0, 'seconds a frame waits for its result before it counts as dropped',
                (0.001, 60.0)),
    'max_in_flight': (2, 'frames sent to one target and not yet answered', (1, 64)),
    'service_time_smoothing': (0.2, 'weight of the newest service time in its moving average',
                               (0.01, 1.0)),
    'image_reliability': ('auto', 'auto (match the publishers on the topic) | reliable | '
                          'best_effort', None),
    'image_depth': (5, 'depth of the camera subscription queue', (1, 100)),
    'diagnostics_period': (1.0, 'seconds between /diagnostics messages', (0.1, 60.0)),
}


def _descriptor(name: str) -> ParameterDescriptor:
    default, description, bounds = PARAMETERS[name]
    return make_descriptor(default, description, True, bounds)


def frame_key(header: Any) -> Tuple[int, str]:
    """
    Give what a frame's result carries back: (stamp in ns, frame_id).

    It names one frame when the stamp is set; unstamped frames share it, and the
    dispatcher tells them apart by arrival.
    """
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec, header.frame_id


class DispatcherNode(Node):
    """Sends each camera frame to one classifier and merges their results in frame order."""

    def __init__(self, node_name: str = 'dispatcher', **kwargs: Any) -> None:
        """
        Declare parameters, create the topics of every target and start dispatching.

        :param node_name: the node name.
        :param kwargs: passed to :class:`rclpy.node.Node` (namespace, parameter_overrides, ...).
        :raises DlaInferError: without targets, or for out-of-range settings.
        """
        super().__init__(node_name, **kwargs)
        declared = {name: declare_parameter(self, name, default, _descriptor(name))
                    for name, (default, _, _) in PARAMETERS.items()}
        reject_unknown_overrides(self)
        # An unset string array reads as None here, and raises from get_parameter().
        targets = list(declared['targets'] or [])
        if not targets:
            raise DlaInferError('targets is empty; set it to the classifier topic prefixes, '
                                "e.g. ['classifier_gpu', 'classifier_dla0']")
        if self._param('image_reliability') not in RELIABILITIES:
            raise DlaInferError(f'image_reliability={self._param("image_reliability")!r}; '
                                f'expected one of {", ".join(RELIABILITIES)}')
        self._lock = threading.Lock()
        self._core: Dispatcher[Classification] = Dispatcher(
            targets, self._param('window'), self._param('timeout'),
            self._param('max_in_flight'), self._param('service_time_smoothing'))
        self._group = MutuallyExclusiveCallbackGroup()
        self._sent_before: Dict[str, int] = {}  # per target, at the last status; '': received
        self._create_target_topics(targets)
        self._output = self.create_publisher(Classification, 'classification', 10)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        wanted = self._param('image_reliability')
        self._reliability = 'reliable' if wanted == 'auto' else wanted
        self._subscription = self._subscribe(self._reliability)
        self.create_timer(1.0, self._check_image_qos, callback_group=self._group)
        self.create_timer(min(self._param('timeout') / 4.0, 0.1), self._expire,
                          callback_group=self._group)
        self.create_timer(self._param('diagnostics_period'), self._publish_diagnostics,
                          callback_group=self._group)
        self.get_logger().info(f'dispatching {self._subscription.topic_name} over '
                               f'{", ".join(targets)}')

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _create_target_topics(self, targets: List[str]) -> None:
        # Reliable both ways: a frame lost here would only come back as a timeout drop.
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._target_pubs = {t: self.create_publisher(Image, f'{t}/image', reliable)
                             for t in targets}
        for target in targets:
            self.create_subscription(Classification, f'{target}/classification',
                                     functools.partial(self._on_result, target), reliable,
                                     callback_group=self._group)

    def _subscribe(self, reliability: str) -> Any:
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self._param('image_depth'),
                         durability=DurabilityPolicy.VOLATILE,
                         reliability=ReliabilityPolicy.BEST_EFFORT
                         if reliability == 'best_effort' else ReliabilityPolicy.RELIABLE)
        return self.create_subscription(Image, 'image', self._on_image, qos,
                                        callback_group=self._group)

    def _check_image_qos(self) -> None:
        if self._param('image_reliability') != 'auto':
            return
        publishers = self.get_publishers_info_by_topic(self._subscription.topic_name)
        best_effort = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                          for p in publishers)
        wanted = 'best_effort' if best_effort else 'reliable'
        if wanted != self._reliability:
            self.destroy_subscription(self._subscription)
            self._subscription = self._subscribe(wanted)
            self._reliability = wanted
            self.get_logger().info(f'camera subscription now {wanted} to match the '
                                   f'publishers on {self._subscription.topic_name}')

    def _matched(self) -> List[str]:
        """:return: the targets whose classifier subscribes to the frames sent to it."""
        return [name for name, publisher in self._target_pubs.items()
                if publisher.get_subscription_count() > 0]

    def _on_image(self, msg: Image) -> None:
        # Only to classifiers that are listening: a frame sent before a node's subscription
        # matched would be lost and come back as a timeout drop.
        available = self._matched()
        key = frame_key(msg.header)
        with self._lock:
            target, released = self._core.submit(key, time.monotonic(),
                                                 unique=key[0] != 0, available=available)
        self._publish(released)
        if target is not None:
            self._target_pubs[target].publish(msg)

    def _on_result(self, target: str, msg: Classification) -> None:
        with self._lock:
            released = self._core.complete(target, frame_key(msg.header), msg, time.monotonic())
        self._publish(released)

    def _expire(self) -> None:
        with self._lock:
            released = self._core.expire(time.monotonic())
        self._publish(released)

    def _publish(self, released: List[Tuple[Hashable, Classification]]) -> None:
        for _, msg in released:
            self._output.publish(msg)

    def stats_snapshot(self) -> Dict[str, Any]:
        """
        Take the current counters.

        :return: ``received``, ``skipped``, ``duplicates``, ``released``, ``dropped``,
            ``late`` and, per target, ``sent``, ``completed``, ``in_flight`` and
            ``service_ms`` (moving average; None before the first result).
        """
        with self._lock:
            core, buffer = self._core, self._core.buffer.stats
            balancer = core.balancer
            targets = {name: {'sent': core.stats.per_target[name],
                              'completed': balancer.completed(name),
                              'in_flight': balancer.in_flight(name),
                              'service_ms': _ms(balancer.service_time(name))}
                       for name in balancer.targets}
            return {'received': core.stats.received, 'skipped': core.stats.skipped,
                    'duplicates': core.stats.duplicates, 'released': buffer.released,
                    'dropped': buffer.dropped, 'late': buffer.late, 'targets': targets}

    def _target_state(self, name: str, matched: bool, sent: int, received: int) -> str:
        """:return: why a target is idle, or that it serves (since the last status)."""
        if not matched:
            return f'idle: nothing subscribes to {self._target_pubs[name].topic_name}'
        if sent:
            return 'serving'
        if received:
            return ('idle: faster accelerators had room for every frame (a quiet stream goes '
                    'to the one that finishes first)')
        return 'idle: no camera frames'

    def failure(self) -> str:
        """:return: '' (the dispatcher serves from the executor only)."""
        return ''

    def finished(self) -> bool:
        """:return: False: this node ends with its process only."""
        return False

    def stop_report(self) -> str:
        """:return: one line of what the node did, for its log when it stops."""
        stats = self.stats_snapshot()
        answered = ', '.join(f'{name} {t["completed"]}' for name, t in stats['targets'].items())
        return (f'frames: {stats["received"]} received, {stats["released"]} merged, '
                f'{stats["dropped"]} dropped, {stats["skipped"]} skipped; answered by '
                f'{answered}')

    def _publish_diagnostics(self) -> None:
        snapshot = self.stats_snapshot()
        values = [(key, str(snapshot[key])) for key in
                  ('received', 'skipped', 'duplicates', 'released', 'dropped', 'late')]
        matched = self._matched()
        sent_now = {name: t['sent'] for name, t in snapshot['targets'].items()}
        for name, numbers in snapshot['targets'].items():
            values += [(f'{name} {key}', 'n/a' if value is None else str(value))
                       for key, value in numbers.items()]
            values.append((f'{name} state', self._target_state(
                name, name in matched, sent_now[name] - self._sent_before.get(name, 0),
                snapshot['received'] - self._sent_before.get('', 0))))
        self._sent_before = {**sent_now, '': snapshot['received']}
        level = DiagnosticStatus.WARN if snapshot['dropped'] else DiagnosticStatus.OK
        status = DiagnosticStatus(
            level=level, name=f'{self.get_fully_qualified_name()}: dispatcher',
            message=f'{snapshot["released"]} frames merged, {snapshot["dropped"]} dropped',
            values=[KeyValue(key=k, value=v) for k, v in values])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000.0, 3)


def main(args: Optional[List[str]] = None) -> None:
    """Run the dispatcher until shutdown."""
    spin_node(DispatcherNode, 'dispatcher', args,
              {name: (spec[0], _descriptor(name)) for name, spec in PARAMETERS.items()})


if __name__ == '__main__':
    main()
