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
Latency windows, frame counters and rates for the diagnostics (no ROS).

Samples go into rings allocated once; percentiles are computed only when the
diagnostics ask, not per frame.
"""

import threading
import time
from typing import Dict, Iterable

import numpy as np

PERCENTILES = (50, 90, 99)
#: What becomes of a received frame: received = the sum of these.
OUTCOMES = ('published', 'dropped', 'rejected', 'failed')
#: Frame counters: received, the outcomes, and damaged (published, decoded from damaged data).
COUNTERS = ('received', *OUTCOMES, 'damaged')


class LatencyWindow:
    """The last ``capacity`` samples of one latency, in milliseconds."""

    def __init__(self, capacity: int = 1000) -> None:
        """:param capacity: number of samples kept (older ones are overwritten)."""
        self._samples = np.zeros(capacity, dtype=np.float64)
        self._next = 0
        self._count = 0

    def add(self, milliseconds: float) -> None:
        """Record one sample."""
        self._samples[self._next] = milliseconds
        self._next = (self._next + 1) % self._samples.size
        self._count = min(self._count + 1, self._samples.size)

    def summary(self) -> Dict[str, float]:
        """:return: count, min, mean, p50, p90, p99 and max of the kept samples (empty if none)."""
        if self._count == 0:
            return {}
        kept = self._samples[:self._count]
        values = np.percentile(kept, PERCENTILES)
        result = {'count': float(self._count), 'min': float(kept.min()),
                  'mean': float(kept.mean()), 'max': float(kept.max())}
        result.update({f'p{p}': float(v) for p, v in zip(PERCENTILES, values)})
        return result


class PipelineStats:
    """Counters, per-stage latency windows and the frame rate of one node; thread-safe."""

    def __init__(self, stages: Iterable[str], capacity: int = 1000) -> None:
        """
        Allocate one window per stage.

        :param stages: stage names, e.g. ``convert``, ``inference``, ``end_to_end``.
        :param capacity: samples kept per stage.
        """
        self._lock = threading.Lock()
        self._windows = {stage: LatencyWindow(capacity) for stage in stages}
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._rate_mark = (time.monotonic_ns(), 0)
        self._fps = 0.0

    def count(self, counter: str, amount: int = 1) -> None:
        """Add ``amount`` to a counter (one of :data:`COUNTERS`)."""
        with self._lock:
            self._counters[counter] += amount

    def record(self, timings_ms: Dict[str, float]) -> None:
        """Add one sample to each stage named in ``timings_ms``."""
        with self._lock:
            for stage, value in timings_ms.items():
                window = self._windows.get(stage)
                if window is not None:
                    window.add(value)

    def counters(self) -> Dict[str, int]:
        """:return: a copy of the frame counters; the frame rate is left alone."""
        with self._lock:
            return dict(self._counters)

    def snapshot(self) -> Dict[str, object]:
        """
        Take the current numbers; also updates the frame rate.

        :return: ``{'counters': {...}, 'fps': float, 'stages': {stage: summary}}``;
            fps counts published frames since the previous snapshot.
        """
        with self._lock:
            now = time.monotonic_ns()
            mark_ns, mark_published = self._rate_mark
            published = self._counters['published']
            if now > mark_ns:
                self._fps = (published - mark_published) * 1e9 / (now - mark_ns)
            self._rate_mark = (now, published)
            return {'counters': dict(self._counters), 'fps': self._fps,
                    'stages': {name: w.summary() for name, w in self._windows.items()}}
