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
Publisher process for test_vision_msgs_transport.py.

``vision_msgs_talker.py classification TOPIC`` waits (bounded) for a subscriber, publishes
one Classification with reliable QoS, waits until it is acknowledged, prints ``acked`` and
exits. ``vision_msgs_talker.py label_info TOPIC`` publishes one LabelInfo with reliable,
transient-local QoS at once, prints ``published subscribers=N`` and keeps the publisher
alive until its standard input closes (at most 2 * TIMEOUT_S), so a later subscriber still
gets the message.
Exit status 0 on success, 2 for wrong arguments, 3 when the bounded waits run out.
"""

import select
import sys
import time
from typing import Callable

import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from vision_msgs.msg import Classification, LabelInfo, ObjectHypothesis, VisionClass

#: Bound on every wait of this process, in seconds.
TIMEOUT_S = 30.0


def make_classification() -> Classification:
    """Build the Classification the transport test expects."""
    message = Classification()
    message.header.stamp.sec = 1764000000
    message.header.stamp.nanosec = 123456789
    message.header.frame_id = 'camera_optical_frame'
    # 0.7, 0.2 and 0.1 are not exact in float32: the test sees float64 survive the trip.
    for class_id, score in (('n02123045', 0.7), ('n02123159', 0.2), ('n02124075', 0.1)):
        message.results.append(ObjectHypothesis(class_id=class_id, score=score))
    return message


def make_label_info() -> LabelInfo:
    """Build the LabelInfo the transport test expects."""
    message = LabelInfo()
    message.header.stamp.sec = 1764000001
    message.header.stamp.nanosec = 5
    message.header.frame_id = 'camera'
    for class_id, class_name in ((0, 'tench'), (281, 'tabby cat'), (65535, 'UNLABELED')):
        message.class_map.append(VisionClass(class_id=class_id, class_name=class_name))
    message.threshold = 0.25
    return message


def wait_for_subscriber(subscription_count: Callable[[], int]) -> bool:
    """Poll ``subscription_count()`` until it is not 0; False after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while subscription_count() == 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def publish_classification(node: Node, topic: str) -> int:
    """Publish one Classification once a subscriber matched; return the exit status."""
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    publisher = node.create_publisher(Classification, topic, qos)
    if not wait_for_subscriber(publisher.get_subscription_count):
        print(f'no subscriber on {topic} within {TIMEOUT_S} s', file=sys.stderr)
        return 3
    publisher.publish(make_classification())
    if not publisher.wait_for_all_acked(Duration(seconds=TIMEOUT_S)):
        print(f'Classification on {topic} not acknowledged within {TIMEOUT_S} s',
              file=sys.stderr)
        return 3
    print('acked', flush=True)
    return 0


def publish_label_info(node: Node, topic: str) -> int:
    """Publish one latched LabelInfo and keep it available until stdin closes."""
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
    publisher = node.create_publisher(LabelInfo, topic, qos)
    publisher.publish(make_label_info())
    print(f'published subscribers={publisher.get_subscription_count()}', flush=True)
    # DDS serves the stored sample to late subscribers from its own threads: no spinning.
    stdin_closed, _, _ = select.select([sys.stdin], [], [], 2 * TIMEOUT_S)
    if not stdin_closed:
        print(f'stdin still open after {2 * TIMEOUT_S} s', file=sys.stderr)
        return 3
    return 0


def main() -> int:
    """Run the publisher named by the command line; return the exit status."""
    publishers = {'classification': publish_classification, 'label_info': publish_label_info}
    if len(sys.argv) != 3 or sys.argv[1] not in publishers:
        print(f'usage: {sys.argv[0]} {{{",".join(publishers)}}} TOPIC', file=sys.stderr)
        return 2
    rclpy.init()
    node = Node('vision_msgs_talker')
    try:
        return publishers[sys.argv[1]](node, sys.argv[2])
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
