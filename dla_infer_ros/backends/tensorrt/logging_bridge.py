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
TensorRT's logger and build progress monitor, reporting through Python logging.

Both are subclasses of TensorRT's own interfaces (``trt.ILogger``,
``trt.IProgressMonitor``), so they are made by factories that receive the
imported ``tensorrt`` module: nothing here imports TensorRT itself.
"""

import collections
import logging
import time
from types import ModuleType
from typing import Any, Callable, Deque, Dict, List, Optional

from dla_infer_ros.backends.tensorrt.loader import tensorrt_version


def make_logger(trt: ModuleType, log: logging.Logger) -> Any:
    """
    Create a ``trt.ILogger`` that forwards to ``log``.

    TensorRT's VERBOSE goes to DEBUG, INTERNAL_ERROR to CRITICAL. The last
    errors are kept (``recent_errors()``) so that a failed build or load can
    say what TensorRT reported.

    :param trt: the imported ``tensorrt`` module.
    :param log: the Python logger to forward to.
    :return: the logger instance to pass to ``trt.Builder`` / ``trt.Runtime``.
    """
    severities = trt.ILogger.Severity
    levels = {
        severities.INTERNAL_ERROR: logging.CRITICAL, severities.ERROR: logging.ERROR,
        severities.WARNING: logging.WARNING, severities.INFO: logging.INFO,
        severities.VERBOSE: logging.DEBUG,
    }

    class TrtLogger(trt.ILogger):  # type: ignore[name-defined,misc]
        """Forwards TensorRT messages to Python logging."""

        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self._errors: Deque[str] = collections.deque(maxlen=8)

        def log(self, severity: Any, msg: str) -> None:
            level = levels.get(severity, logging.INFO)
            if level >= logging.ERROR:
                self._errors.append(msg)
            log.log(level, f'TensorRT: {msg}')

        def recent_errors(self) -> List[str]:
            return list(self._errors)

    return TrtLogger()


def recent_errors_text(trt_logger: Any) -> str:
    """:return: ``'; TensorRT said: ...'`` with the last errors, or ''."""
    errors = trt_logger.recent_errors() if hasattr(trt_logger, 'recent_errors') else []
    return '; TensorRT said: ' + ' | '.join(errors) if errors else ''


class BuildProgress:
    """
    Turn TensorRT's build progress callbacks into rate-limited log lines.

    Top-level phases are reported when they start and finish; steps at most
    once every ``min_interval_s`` seconds, since a DLA or INT8 build may take
    many minutes and thousands of steps.
    """

    def __init__(self, log: logging.Logger, min_interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """
        Start reporting.

        :param log: where progress goes (INFO).
        :param min_interval_s: least time between two step reports.
        :param clock: monotonic seconds (tests pass their own).
        """
        self._log = log
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._steps: Dict[str, int] = {}
        self._started: Dict[str, float] = {}
        self._last_report = clock()

    def phase_start(self, phase_name: str, parent_phase: Optional[str], num_steps: int) -> None:
        """Remember the phase; log top-level phases."""
        self._steps[phase_name] = num_steps
        if not parent_phase:
            self._started[phase_name] = self._clock()
            self._log.info(f'engine build: {phase_name} started ({num_steps} steps)')

    def step_complete(self, phase_name: str, step: int) -> bool:
        """Log a step if the last report is old enough; :return: True (go on building)."""
        now = self._clock()
        if now - self._last_report >= self._min_interval_s:
            self._last_report = now
            total = self._steps.get(phase_name, 0)
            self._log.info(f'engine build: {phase_name}: step {step + 1} of {total}')
        return True

    def phase_finish(self, phase_name: str) -> None:
        """Log how long a top-level phase took."""
        self._steps.pop(phase_name, None)
        started = self._started.pop(phase_name, None)
        if started is not None:
            self._log.info(f'engine build: {phase_name} finished in '
                           f'{self._clock() - started:.1f} s')


def make_progress_monitor(trt: ModuleType, log: logging.Logger, min_interval_s: float = 10.0,
                          clock: Callable[[], float] = time.monotonic) -> Optional[Any]:
    """
    Create a ``trt.IProgressMonitor`` that reports through a :class:`BuildProgress`.

    :param trt: the imported ``tensorrt`` module.
    :param log: where progress goes (INFO).
    :param min_interval_s: least time between two step reports.
    :param clock: monotonic seconds (tests pass their own).
    :return: the monitor, or None on TensorRT 8.x, which has no progress monitor.
    """
    if not tensorrt_version(trt).has_progress_monitor:
        return None
    progress = BuildProgress(log, min_interval_s, clock)

    class ProgressMonitor(trt.IProgressMonitor):  # type: ignore[name-defined,misc]
        """TensorRT's progress monitor interface over :class:`BuildProgress`."""

        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: Optional[str],
                        num_steps: int) -> None:
            progress.phase_start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return progress.step_complete(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            progress.phase_finish(phase_name)

    return ProgressMonitor()
