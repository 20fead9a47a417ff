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
Publish N coloured 640x480 rgb8 frames on ``image`` (a camera stand-in process).

Usage: ``python publish_frames.py COUNT reliable|best_effort``. Waits for a
subscriber, then publishes at about 30 Hz with stamps 1000+i s and frame ids
``camera_i``, colours cycling red, green, blue.
"""

import sys
import time

import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))


def main() -> None:
    count, reliability = int(sys.argv[1]), sys.argv[2]
    rclpy.init()
    node = rclpy.create_node('camera_stand_in')
    policy = ReliabilityPolicy.RELIABLE if reliability == 'reliable' else \
        ReliabilityPolicy.BEST_EFFORT
    publisher = node.create_publisher(Image, 'image', QoSProfile(depth=10, reliability=policy))
    deadline = time.monotonic() + 30
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    time.sleep(1.5)  # let the subscriber's QoS check settle
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    for index in range(count):
        frame[...] = COLOURS[index % 3]
        msg = Image(height=480, width=640, encoding='rgb8', step=640 * 3,
                    data=frame.tobytes())
        msg.header.frame_id = f'camera_{index}'
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1000 + index, 123
        publisher.publish(msg)
        time.sleep(1 / 30)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main()
