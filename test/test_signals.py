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


"""SIGINT and SIGTERM to the node executables, busy, foreground and background."""

import os
import re
import signal
import subprocess
import sys
import time
from typing import Dict, IO, List, Tuple

import pytest

from conftest import needs_onnxruntime
from ros_harness import configure_ros_environment, ros_available

pytestmark = [
    pytest.mark.ros, needs_onnxruntime,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'test', 'data')
#: name: (module, parameters, what its log says once it serves)
NODES: Dict[str, Tuple[str, List[str], str]] = {
    'image_source': ('dla_infer_ros.nodes.image_source_node',
                     [f'source:={DATA}', 'rate:=100.0'], 'publishing folder'),
    'classifier': ('dla_infer_ros.nodes.classifier_node', [], 'model efficientnet_lite0 on'),
    'dispatcher': ('dla_infer_ros.nodes.dispatcher_node', ['targets:=[classifier]'],
                   'dispatching /image'),
}


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does to a background job


@pytest.mark.parametrize('number,background', [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_nodes_stop_on_a_signal_with_their_report(
        tmp_path: 'os.PathLike[str]', number: int, background: bool) -> None:
    env = configure_ros_environment()
    processes = {}
    for name, (module, parameters, _) in NODES.items():
        args = [sys.executable, '-m', module, '--ros-args']
        for parameter in parameters:
            args += ['-p', parameter]
        log = open(os.path.join(str(tmp_path), f'{name}.log'), 'w+')
        processes[name] = (subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_ignore_sigint if background else None), log)
    try:
        deadline = time.monotonic() + 60.0
        for name, (process, log) in processes.items():
            while NODES[name][2] not in _read(log) and time.monotonic() < deadline:
                assert process.poll() is None, _read(log)
                time.sleep(0.1)
        time.sleep(3.0)  # the classifier is busy with the source's frames by now
        for process, _ in processes.values():
            process.send_signal(number)
        for name, (process, log) in processes.items():
            code = process.wait(timeout=15.0)
            text = _read(log)
            assert code == 0, (name, text)
            assert 'Traceback' not in text, (name, text)
            assert 'stopped; ' in text, (name, text)
        received = re.search(r'stopped; frames: (\d+) received',
                             _read(processes['classifier'][1]))
        assert received is not None and int(received.group(1)) > 0
    finally:
        for process, log in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


def _read(log: IO[str]) -> str:
    log.seek(0)
    return log.read()


SLOW_CLASSIFIER = """
import time
from dla_infer_ros.classifier import Classifier
from dla_infer_ros.nodes import classifier_node
classify = Classifier.classify
def slow(self, images, order):
    if images[0].shape[0] == 97:  # the test's frame: a library call that takes 60 s
        time.sleep(60)
    return classify(self, images, order)
Classifier.classify = slow
classifier_node.main()
"""


def test_a_frame_in_progress_delays_the_stop_by_a_second_at_most() -> None:
    import numpy as np
    import rclpy
    from sensor_msgs.msg import Image
    from dla_infer_ros.image_conversion import array_to_image_fields
    env = configure_ros_environment()
    node = subprocess.Popen([sys.executable, '-c', SLOW_CLASSIFIER], env=env, cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        peer = rclpy.create_node('slow_frame_peer', context=context)
        publisher = peer.create_publisher(Image, 'image', 1)
        deadline = time.monotonic() + 60.0
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # matched both ways
        msg = Image(**array_to_image_fields(np.zeros((97, 64, 3), np.uint8), 'rgb8'))
        publisher.publish(msg)
        time.sleep(2.0)  # the node is in its 60 s call now
        start = time.monotonic()
        node.send_signal(signal.SIGINT)
        out, _ = node.communicate(timeout=30)
        seconds = time.monotonic() - start
    finally:
        if node.poll() is None:
            node.kill()
        context.try_shutdown()
    assert node.returncode == 0, out
    assert seconds < 10.0, (seconds, out)  # not 60 s; about 1 s where the machine is idle
    assert 'did not finish within 1.0 s; not waiting for it' in out, out
    assert 'stopped; frames: 1 received' in out and 'Traceback' not in out, out
