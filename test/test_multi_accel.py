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

"""The multi_accel runner: the launch topology in one process, and its report."""

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from conftest import needs_onnxruntime
from ros_harness import configure_ros_environment, ros_available

pytestmark = [
    pytest.mark.ros, needs_onnxruntime,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

COLOURS = ['red', 'green', 'blue']


@pytest.fixture
def image_folder(tmp_path: 'os.PathLike[str]') -> str:
    """:return: a folder of a red, a green and a blue PNG."""
    import cv2
    folder = os.path.join(str(tmp_path), 'frames')
    os.makedirs(folder)
    for index, bgr in enumerate([(0, 0, 255), (0, 255, 0), (255, 0, 0)]):
        image = np.zeros((48, 64, 3), dtype=np.uint8)
        image[...] = bgr
        cv2.imwrite(os.path.join(folder, f'{index}.png'), image)
    return folder


def run_multi_accel(argv: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    from dla_infer_ros.cli.multi_accel import run
    configure_ros_environment()
    code = run(['multi_accel', *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_three_cpu_nodes_serve_frames_on_all_three(
        tiny_model: str, image_folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_multi_accel(
        ['--model-path', tiny_model, '-p', 'backend=onnxruntime', '--images', image_folder,
         '--rate', '30', '--duration', '2.5', '--json'], capsys)
    assert code == 0, err
    report = json.loads(out)
    rows = report['classifiers']
    assert [(r['node'], r['requested'], r['effective']) for r in rows] == [
        ('/classifier_gpu', 'GPU', 'CPU'), ('/classifier_dla0', 'DLA core 0', 'CPU'),
        ('/classifier_dla1', 'DLA core 1', 'CPU')]
    for row in rows:
        assert row['backend'] == 'onnxruntime'
        assert row['fallback_reason'], row  # the fallback is reported, not hidden
        assert row['published'] > 0 and row['fps'] > 0.0
        assert row['published'] <= row['received']
        assert 0.0 < row['p50_ms'] <= row['p99_ms']
        assert row['top1']['label'] in COLOURS and 0.9 < row['top1']['score'] <= 1.0
    assert 'DLA' in rows[1]['fallback_reason']
    assert report['image_source']['published'] >= max(r['received'] for r in rows)
    assert report['dispatcher'] is None


def test_dispatcher_spreads_frames_and_the_text_report(
        tiny_model: str, image_folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_multi_accel(
        ['--model-path', tiny_model, '-p', 'backend=onnxruntime', '--images', image_folder,
         '--rate', '60', '--duration', '2.5', '--use-dispatcher', '--image-topic', 'camera'],
        capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split()[:3] == ['node', 'requested', 'effective']
    table = {line.split()[0]: line for line in lines[3:6]}
    assert set(table) == {'/classifier_gpu', '/classifier_dla0', '/classifier_dla1'}
    assert 'DLA core 1  CPU' in table['/classifier_dla1']
    dispatcher_line = next(line for line in lines if line.startswith('dispatcher:'))
    merged = int(dispatcher_line.split(', ')[1].split()[0])
    assert merged > 0
    assert 'image source:' in lines[-1]


@pytest.mark.parametrize('dispatcher', [False, True])
def test_the_executor_waits_instead_of_spinning(
        tiny_model: str, image_folder: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, dispatcher: bool) -> None:
    """Each wake-up of the executor serves a callback or times out: no busy loop."""
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    wakeups = []
    for executor in (SingleThreadedExecutor, MultiThreadedExecutor):
        def counted(self: Any, timeout_sec: Any = None, _spin_once: Any = executor.spin_once
                    ) -> None:
            wakeups.append(1)
            _spin_once(self, timeout_sec=timeout_sec)
        monkeypatch.setattr(executor, 'spin_once', counted)
    code, out, err = run_multi_accel(
        ['--model-path', tiny_model, '-p', 'backend=onnxruntime', '--images', image_folder,
         '--rate', '30', '--duration', '2', '--json'] + (['--use-dispatcher'] if dispatcher
                                                         else []), capsys)
    assert code == 0, err
    report = json.loads(out)
    frames = report['image_source']['published']
    received = sum(r['received'] for r in report['classifiers'])
    assert frames > 0 and received > 0
    # Each wake-up runs one callback or times out (0.1 s). The callbacks of 2 s: the source's
    # timer per frame; per delivered frame the classifier's subscription (and with the
    # dispatcher its image and result subscriptions); a few 1 Hz timers. The busy loop this
    # guards against (a MultiThreadedExecutor) woke up 2-6 times as often with this model.
    assert len(wakeups) < 2 * (frames + received) + 100, (len(wakeups), frames, received)


def test_a_classifier_that_stops_serving_ends_the_run_with_status_1(
        tiny_model: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dla_infer_ros.nodes.frame_queue import FrameQueue

    def broken(self: Any, most: int, timeout: float) -> Any:
        raise RuntimeError('frame queue broken')
    monkeypatch.setattr(FrameQueue, 'take', broken)
    start = time.monotonic()
    code, out, err = run_multi_accel(
        ['--model-path', tiny_model, '-p', 'backend=onnxruntime', '--duration', '30'], capsys)
    assert code == 1, (out, err)
    assert time.monotonic() - start < 25.0  # ended by the failure, not by --duration
    assert '/classifier_gpu: STOPPED SERVING: RuntimeError: frame queue broken' in out, out


@pytest.mark.parametrize('number', [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_the_run_with_the_report(
        tiny_model: str, image_folder: str, number: int) -> None:
    # Started as a shell starts a background job: with SIGINT ignored.
    env = configure_ros_environment()
    process = subprocess.Popen(
        [sys.executable, '-m', 'dla_infer_ros.cli.multi_accel', '--model-path', tiny_model,
         '-p', 'backend=onnxruntime', '--images', image_folder, '--rate', '30',
         '--duration', '0', '--json'], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        time.sleep(4.0)  # start-up and some frames
        assert process.poll() is None, process.communicate()
        process.send_signal(number)
        sent = time.monotonic()
        out, err = process.communicate(timeout=20.0)
        stopped_after = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert stopped_after < 2.0
    report = json.loads(out)
    assert [r['node'] for r in report['classifiers']] == [
        '/classifier_gpu', '/classifier_dla0', '/classifier_dla1']
    assert all(r['published'] > 0 for r in report['classifiers'])


@pytest.mark.parametrize('argv, message', [
    (['--params-file', '/no/such.yaml'], "parameters file '/no/such.yaml' cannot be read"),
    (['--rate', '5'], '--rate given without --images'),
    (['-p', 'top_k'], "--param 'top_k' given"),
    (['-p', 'top_k=many', '-p', 'backend=onnxruntime'], 'node classifier_gpu:'),
    (['-p', 'dla_cor=1', '-p', 'backend=onnxruntime'],
     "node classifier_gpu: no parameter 'dla_cor' (did you mean 'dla_core'?)"),
    (['--duration', '-1'], '--duration -1.0 given; use 0 or more'),
    (['--ros-args', '--params-file', '/no/such.yaml'], 'the ROS arguments are not valid'),
])
def test_errors_exit_2_with_the_reason(argv: List[str], message: str, tiny_model: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_multi_accel(['--model-path', tiny_model, *argv], capsys)
    assert code == 2
    assert message in err and out == ''


def test_format_report_without_ros() -> None:
    from dla_infer_ros.cli.multi_accel import format_report
    row: Dict[str, Any] = {
        'node': '/classifier_dla0', 'requested': 'DLA core 0', 'effective': 'GPU',
        'fallback_reason': 'this GPU has no DLA', 'backend': 'tensorrt', 'fps': 251.25,
        'p50_ms': 3.94, 'p99_ms': 7.2, 'received': 1000, 'published': 990, 'dropped': 10,
        'top1': {'label': 'tabby cat', 'score': 0.8123}, 'failure': ''}
    text = format_report({'seconds': 4.0, 'classifiers': [row], 'dispatcher': None,
                          'image_source': None})
    lines = text.splitlines()
    assert lines[3].index('DLA core 0') == lines[1].index('requested')  # columns line up
    assert lines[3].index('1000/990/10') == lines[1].index('frames in/out/drop')
    assert lines[3].split() == ['/classifier_dla0', 'DLA', 'core', '0', 'GPU', '251.2', '3.9',
                                '7.2', '1000/990/10', 'tabby', 'cat', '0.81']
    assert lines[4] == '/classifier_dla0: DLA core 0 requested -> GPU (this GPU has no DLA)'
