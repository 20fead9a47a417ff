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


"""Latency windows, counters and the diagnostic status content."""

import time

import numpy as np
import pytest

from dla_infer_ros.backends.base import DeviceReport, LayerPlacement
from dla_infer_ros.diagnostics import ERROR, OK, StatusBuilder, WARN
from dla_infer_ros.nodes.frame_queue import Frame, FrameQueue
from dla_infer_ros.stats import LatencyWindow, PipelineStats


def test_latency_window_percentiles_and_wraparound() -> None:
    window = LatencyWindow(capacity=100)
    assert window.summary() == {}
    for value in range(1, 201):  # only 101..200 are kept
        window.add(float(value))
    summary = window.summary()
    assert summary['count'] == 100 and summary['min'] == 101 and summary['max'] == 200
    assert summary['p50'] == pytest.approx(np.percentile(np.arange(101, 201), 50))
    assert summary['p99'] == pytest.approx(np.percentile(np.arange(101, 201), 99))
    assert summary['mean'] == pytest.approx(150.5)


def test_pipeline_stats_counts_and_rate() -> None:
    stats = PipelineStats(['inference'])
    stats.snapshot()
    stats.count('received', 5)
    stats.count('published', 4)
    stats.record({'inference': 2.0, 'unknown_stage': 1.0})
    time.sleep(0.05)
    snap = stats.snapshot()
    assert snap['counters'] == {'received': 5, 'published': 4, 'dropped': 0, 'rejected': 0,
                                'failed': 0, 'damaged': 0}
    assert 4 / 1.0 < snap['fps'] < 4 / 0.05 + 1  # type: ignore[operator]
    assert snap['stages'] == {'inference': {'count': 1.0, 'min': 2.0, 'mean': 2.0,
                                            'max': 2.0, 'p50': 2.0, 'p90': 2.0, 'p99': 2.0}}


def _snapshot(published: int = 0, rejected: int = 0, failed: int = 0) -> dict:
    return {'counters': {'received': published + rejected + failed, 'published': published,
                         'dropped': 0, 'rejected': rejected, 'failed': failed},
            'fps': 12.5, 'stages': {'inference': {'p50': 1.25, 'max': 3.0}}}


def test_status_tells_requested_and_effective_device() -> None:
    report = DeviceReport('tensorrt', 'DLA core 1', 'GPU 0', 'no DLA on this host',
                          LayerPlacement((('conv1', 'GPU'),)))
    content = StatusBuilder().build(report, _snapshot(published=3))
    values = dict(content.values)
    assert content.level == WARN
    assert content.message.startswith('DLA core 1 requested -> GPU 0 (no DLA on this host)')
    assert values['requested_device'] == 'DLA core 1' and values['effective_device'] == 'GPU 0'
    assert values['layer_placement'] == 'layers: 1 on GPU'
    assert values['frames_published'] == '3' and values['inference p50 ms'] == '1.250'


def test_status_level_follows_changes_since_last_status() -> None:
    report = DeviceReport('onnxruntime', 'GPU', 'GPU 0')
    builder = StatusBuilder()
    assert builder.build(report, _snapshot(published=5)).level == OK
    assert builder.build(report, _snapshot(published=6, rejected=1)).level == WARN
    assert builder.build(report, _snapshot(published=7, rejected=1)).level == OK
    assert builder.build(report, _snapshot(published=7, rejected=1, failed=2)).level == ERROR


def test_a_node_that_stopped_serving_is_an_error() -> None:
    report = DeviceReport('onnxruntime', 'GPU', 'GPU 0')
    builder = StatusBuilder()
    content = builder.build(report, _snapshot(published=5), failure='RuntimeError: boom')
    assert content.level == ERROR
    assert 'stopped serving: RuntimeError: boom' in content.message
    assert builder.build(report, _snapshot(published=5)).level == OK


def test_frame_queue_keeps_newest_and_counts_drops() -> None:
    queue = FrameQueue(capacity=2)
    assert [queue.put(Frame(i, False, i)) for i in range(4)] == [0, 0, 1, 1]
    assert [f.msg for f in queue.take(most=5, timeout=0.0)] == [2, 3]
    assert queue.take(most=1, timeout=0.01) == []
    queue.put(Frame(9, False, 9))
    assert queue.close() == 1 and queue.closed
