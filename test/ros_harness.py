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
Helpers for tests over real rclpy and DDS: node processes and a test peer.

Discovery stays on loopback (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, and
``ROS_LOCALHOST_ONLY=1`` under Humble) with a domain id of its own per test process.
"""

import os
import random
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def loopback_discovery() -> Dict[str, str]:
    """:return: the environment variables that keep DDS discovery on this host."""
    variables = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    if os.environ.get('ROS_DISTRO') == 'humble':
        # ROS_AUTOMATIC_DISCOVERY_RANGE came with Iron; Humble only knows this switch.
        variables['ROS_LOCALHOST_ONLY'] = '1'
    return variables


def configure_ros_environment() -> Dict[str, str]:
    """
    Keep DDS on loopback and pick a domain id for this test process.

    :return: the environment for child processes.
    """
    os.environ.update(loopback_discovery())
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 101)))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([ROOT, env.get('PYTHONPATH', '')])
    env['PYTHONUNBUFFERED'] = '1'
    return env


def ros_available() -> bool:
    """:return: True when rclpy, sensor_msgs, diagnostic_msgs and vision_msgs import."""
    try:
        import diagnostic_msgs.msg  # noqa: F401
        import rclpy  # noqa: F401
        import sensor_msgs.msg  # noqa: F401
        import vision_msgs.msg  # noqa: F401
    except ImportError:
        return False
    return True


class NodeProcess:
    """A node started as ``python -m MODULE --ros-args ...`` in a child process."""

    def __init__(self, module: str, parameters: Dict[str, Any],
                 extra_args: Optional[List[str]] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        """Record the command; :meth:`start` runs it."""
        args = [sys.executable, '-m', module, '--ros-args']
        for name, value in parameters.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ['-p', f'{name}:={text}']
        self.args = args + list(extra_args or [])
        self.env = env or configure_ros_environment()
        self.process: Optional['subprocess.Popen[str]'] = None
        self.output = ''

    def start(self) -> 'NodeProcess':
        """Start the child process."""
        self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def stop(self) -> str:
        """Interrupt the child, wait, and return everything it printed."""
        if self.process is None:
            return self.output
        if self.process.poll() is None:
            self.process.send_signal(2)
        try:
            self.output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()
        return self.output

    def __enter__(self) -> 'NodeProcess':
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()


def failed_start(module: str, parameters: Dict[str, Any],
                 extra_args: Optional[List[str]] = None) -> str:
    """
    Start a node process that must refuse to start.

    Asserts exit status 1 and no Python traceback; a node that did start is
    stopped, so it never outlives the test.

    :return: what the process printed.
    """
    node = NodeProcess(module, parameters, extra_args).start()
    assert node.process is not None
    try:
        code = node.process.wait(timeout=60)
    finally:
        log = node.stop()
    assert code == 1, log
    assert 'Traceback' not in log, log
    return log


def image_message(colour: Tuple[int, int, int], frame_id: str, stamp_sec: int) -> Any:
    """:return: a 64x48 rgb8 ``sensor_msgs/Image`` of one colour, with this header."""
    import numpy as np
    from sensor_msgs.msg import Image
    from dla_infer_ros.image_conversion import array_to_image_fields
    pixels = np.zeros((48, 64, 3), np.uint8)
    pixels[...] = colour
    msg = Image()
    for key, value in array_to_image_fields(pixels, 'rgb8').items():
        setattr(msg, key, value)
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = stamp_sec
    return msg


def spin_until(executor: Any, condition: Callable[[], bool], timeout: float) -> bool:
    """
    Spin ``executor`` until ``condition()`` holds or ``timeout`` seconds pass.

    :return: the last value of ``condition()``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.05)
    return condition()
