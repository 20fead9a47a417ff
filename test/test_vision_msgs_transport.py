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
vision_msgs messages cross a process boundary over real rclpy and DDS.

A publisher process (vision_msgs_talker.py) sends, this process receives and checks every
field: a Classification with reliable QoS, and a LabelInfo with transient-local durability
that this process subscribes to only after it was published.
"""

import os
from pathlib import Path
import random
import select
import subprocess
import sys
import time
from typing import Callable, Dict, Iterator, List

import pytest

try:
    import rclpy
except ImportError as error:
    pytest.skip(f'rclpy cannot be imported ({error}); run the tests through '
                'tools/run_tests.sh, which provides ROS 2', allow_module_level=True)

from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from vision_msgs.msg import Classification, LabelInfo

from ros_harness import loopback_discovery

pytestmark = pytest.mark.ros

TALKER = Path(__file__).with_name('vision_msgs_talker.py')
#: Bound on discovery and delivery; generous, as DDS discovery on a busy 2-core host is slow.
TIMEOUT_S = 30.0


@pytest.fixture
def ros_env(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """Keep DDS discovery on this host in one domain, shared with the talker process."""
    for name, value in loopback_discovery().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv('ROS_DOMAIN_ID',
                       os.environ.get('ROS_DOMAIN_ID') or str(random.randint(1, 101)))
    return dict(os.environ)


@pytest.fixture
def executor(ros_env: Dict[str, str]) -> Iterator[SingleThreadedExecutor]:
    """Give an executor with one node, in a context of its own."""
    context = Context()
    rclpy.init(context=context)
    node = Node('vision_msgs_listener', context=context)
    spinner = SingleThreadedExecutor(context=context)
    spinner.add_node(node)
    try:
        yield spinner
    finally:
        spinner.shutdown()
        node.destroy_node()
        context.try_shutdown()


def listener_node(spinner: SingleThreadedExecutor) -> Node:
    """Return the one node of ``spinner``."""
    (node,) = spinner.get_nodes()
    return node


def spin_until(spinner: SingleThreadedExecutor, done: Callable[[], bool]) -> None:
    """Spin until ``done()`` holds; fail the test after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        assert time.monotonic() < deadline, f'nothing received within {TIMEOUT_S} s'
        spinner.spin_once(timeout_sec=0.1)


def start_talker(kind: str, topic: str, env: Dict[str, str]) -> 'subprocess.Popen[str]':
    """Start the publisher process for ``kind`` on ``topic``."""
    return subprocess.Popen([sys.executable, str(TALKER), kind, topic], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def read_line(process: 'subprocess.Popen[str]') -> str:
    """Read one line of the process's stdout; fail the test after TIMEOUT_S."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], TIMEOUT_S)
    assert readable, f'talker printed nothing within {TIMEOUT_S} s'
    return process.stdout.readline().strip()


def finish(process: 'subprocess.Popen[str]') -> str:
    """Close the process's stdin, wait for it and return its stderr (kill it on timeout)."""
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


def test_classification_from_another_process(executor: SingleThreadedExecutor,
                                             ros_env: Dict[str, str]) -> None:
    topic = f'/dla_infer_ros_test/classification_{os.getpid()}'
    received: List[Classification] = []
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    listener_node(executor).create_subscription(Classification, topic, received.append,
                                                reliable)
    talker = start_talker('classification', topic, ros_env)
    try:
        spin_until(executor, lambda: bool(received))
        assert read_line(talker) == 'acked'
    finally:
        stderr = finish(talker)
    assert talker.returncode == 0, stderr

    (message,) = received
    assert message.header.stamp.sec == 1764000000
    assert message.header.stamp.nanosec == 123456789
    assert message.header.frame_id == 'camera_optical_frame'
    assert [(hypothesis.class_id, hypothesis.score) for hypothesis in message.results] == [
        ('n02123045', 0.7), ('n02123159', 0.2), ('n02124075', 0.1)]


def test_label_info_reaches_late_subscriber(executor: SingleThreadedExecutor,
                                            ros_env: Dict[str, str]) -> None:
    topic = f'/dla_infer_ros_test/label_info_{os.getpid()}'
    talker = start_talker('label_info', topic, ros_env)
    try:
        # Subscribe only once the message is out: only durability can deliver it now.
        assert read_line(talker) == 'published subscribers=0'
        received: List[LabelInfo] = []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        listener_node(executor).create_subscription(LabelInfo, topic, received.append,
                                                    latched)
        spin_until(executor, lambda: bool(received))
    finally:
        stderr = finish(talker)
    assert talker.returncode == 0, stderr

    (message,) = received
    assert message.header.stamp.sec == 1764000001
    assert message.header.stamp.nanosec == 5
    assert message.header.frame_id == 'camera'
    assert [(entry.class_id, entry.class_name) for entry in message.class_map] == [
        (0, 'tench'), (281, 'tabby cat'), (65535, 'UNLABELED')]
    assert message.threshold == 0.25
