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


"""TensorRT's logger and build progress monitor, reporting through Python logging."""

import itertools
import logging
from typing import Any, Iterator

from fake_cuda import FakeCudaApi
from fake_tensorrt import FakeWorld, make_fake_tensorrt
import pytest

from dla_infer_ros.backends.tensorrt.logging_bridge import (BuildProgress, make_logger,
                                                            make_progress_monitor,
                                                            recent_errors_text)


@pytest.fixture
def log(caplog: Any) -> Iterator[logging.Logger]:
    caplog.set_level(logging.DEBUG, logger='test.bridge')
    yield logging.getLogger('test.bridge')


def test_progress_is_rate_limited(log: logging.Logger, caplog: Any) -> None:
    times = iter([0.0, 0.0, 3.0, 9.0, 10.5, 11.0, 30.0, 31.0, 40.0])
    progress = BuildProgress(log, min_interval_s=10.0, clock=lambda: next(times))
    progress.phase_start('Building engine', None, 100)  # t=0
    progress.phase_start('Tactic selection', 'Building engine', 50)  # nested: not logged
    assert progress.step_complete('Tactic selection', 0)  # t=3: too soon
    assert progress.step_complete('Tactic selection', 1)  # t=9: too soon
    assert progress.step_complete('Tactic selection', 2)  # t=10.5: reported
    assert progress.step_complete('Tactic selection', 3)  # t=11: too soon
    progress.phase_finish('Tactic selection')
    assert progress.step_complete('Building engine', 7)  # t=30: reported
    progress.phase_finish('Building engine')  # t=31
    assert [r.getMessage() for r in caplog.records] == [
        'engine build: Building engine started (100 steps)',
        'engine build: Tactic selection: step 3 of 50',
        'engine build: Building engine: step 8 of 100',
        'engine build: Building engine finished in 31.0 s']


@pytest.mark.parametrize('version', ['8.6.1', '10.3.0'])
def test_logger_maps_severities_and_keeps_errors(version: str, log: logging.Logger,
                                                 caplog: Any) -> None:
    trt = make_fake_tensorrt(version, FakeWorld(cuda=FakeCudaApi()))
    trt_logger = make_logger(trt, log)
    assert isinstance(trt_logger, trt.ILogger)
    severity = trt.ILogger.Severity
    for level, text in zip((severity.INTERNAL_ERROR, severity.ERROR, severity.WARNING,
                            severity.INFO, severity.VERBOSE), itertools.count()):
        trt_logger.log(level, f'message {text}')
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.CRITICAL, 'TensorRT: message 0'), (logging.ERROR, 'TensorRT: message 1'),
        (logging.WARNING, 'TensorRT: message 2'), (logging.INFO, 'TensorRT: message 3'),
        (logging.DEBUG, 'TensorRT: message 4')]
    assert recent_errors_text(trt_logger) == '; TensorRT said: message 0 | message 1'
    assert recent_errors_text(object()) == ''


def test_progress_monitor_exists_only_from_tensorrt_10(log: logging.Logger) -> None:
    old = make_fake_tensorrt('8.6.1', FakeWorld(cuda=FakeCudaApi()))
    new = make_fake_tensorrt('10.16.1.11', FakeWorld(cuda=FakeCudaApi()))
    assert make_progress_monitor(old, log) is None
    monitor = make_progress_monitor(new, log)
    assert isinstance(monitor, new.IProgressMonitor)
    assert monitor.step_complete('Building engine', 0) is True
