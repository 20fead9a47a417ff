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
``tools/soak_node.py``: a 20 s soak of the source and three classifier processes passes.

One short run in a subprocess (each node its own child process, over real rclpy): exit
status 0, every process sampled and stopped cleanly, the report's tables and checks
printed. The checks themselves are also tried without ROS on made-up samples: a process
whose RSS, threads or fds grow, and a node whose backlog grows, fail.
"""

import json
import os
import subprocess
import sys
from types import ModuleType
from typing import Any, Dict, List, Tuple

import pytest

from conftest import import_tool, needs_onnxruntime, TOOLS
from ros_harness import configure_ros_environment, ros_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_ros = pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages '
                               'are not importable; run the tests through tools/run_tests.sh')
PROCESSES = ['image_source', 'classifier_a', 'classifier_b', 'classifier_c']
NODES = ['/classifier_a', '/classifier_b', '/classifier_c']


@pytest.fixture(scope='module')
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Tuple[List[str], Dict[str, Any]]:
    """:return: the printed lines and the JSON report of one 20 s run."""
    report = str(tmp_path_factory.mktemp('soak_node') / 'soak.json')
    done = subprocess.run(
        [sys.executable, os.path.join(TOOLS, 'soak_node.py'), '--duration', '20', '--warmup',
         '8', '--sample', '2', '--json', report], env=configure_ros_environment(), cwd=ROOT,
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    with open(report, encoding='utf-8') as f:
        return done.stdout.splitlines(), json.load(f)


@pytest.mark.ros
@needs_ros
@needs_onnxruntime
def test_every_check_passes_and_is_printed(short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    lines, report = short_run
    assert report['passed'] and lines[-1] == 'result: PASS (exit 0)', '\n'.join(lines)
    printed = [line[len('  PASS  '):] for line in lines if line.startswith('  PASS  ')]
    assert len(printed) == len(report['checks']) == 1 + 6 * len(PROCESSES) + 2 * len(NODES)
    assert printed == [c['check'] + (f': {c["numbers"]}' if c['numbers'] else '')
                       for c in report['checks']]
    for process in PROCESSES:
        assert any(check.startswith(f'{process}: RSS growth') for check in printed), process


@pytest.mark.ros
@needs_ros
@needs_onnxruntime
def test_every_process_is_sampled_and_stops_cleanly(
        short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    _, report = short_run
    assert [p['name'] for p in report['processes']] == PROCESSES
    for process in report['processes']:
        assert len(process['samples']) == 11, process['name']  # t = 0, 2, ... 20 s
        assert process['samples_after_warmup'] == 7
        assert process['exit_status'] == 0 and not process['fatal_output']
        assert process['stop_line'].startswith('stopped; ')
        assert process['rss_end_mib'] > 50 and process['threads_end'] > 1
    assert report['processes'][0]['source_frames'] > 0


@pytest.mark.ros
@needs_ros
@needs_onnxruntime
def test_every_classifier_reports_fps_drops_and_a_bounded_backlog(
        short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    lines, report = short_run
    assert [c['node'] for c in report['classifiers']] == NODES
    for classifier in report['classifiers']:
        window = classifier['window']
        assert window['published'] > 0 and classifier['fps_published'] > 0
        total = classifier['total']  # backlog = frames still inside the node
        assert total['received'] >= total['published'] + total['dropped'] > 0
        assert 0 <= classifier['backlog_min'] <= classifier['backlog_max'] <= \
            classifier['backlog_bound']
    header = [line for line in lines if line.startswith('node ')]
    assert header and header[0].split()[:4] == ['node', 'fps', 'diag', 'fps']
    rows = [line.split() for line in lines if line.split()[:1] and line.split()[0] in NODES]
    columns = len(import_tool('soak_node').classifier_headers())
    assert len(rows) == len(NODES) and all(len(row) == columns for row in rows), rows


# -- the checks, without ROS ---------------------------------------------------------------


def process_samples(rss: List[float], threads: int = 20, fds: int = 25, late_threads: int = 0,
                    late_fds: int = 0, late: int = 1) -> List[Dict[str, float]]:
    """:return: one sample per second; the ``late`` last ones with extra threads and fds."""
    samples = [{'t': float(t), 'rss_kib': kib, 'anon_kib': kib - 1000, 'shmem_kib': 1000,
                'threads': threads, 'fds': fds, 'cpu_s': t / 2} for t, kib in enumerate(rss)]
    for sample in samples[-late:]:
        sample.update(threads=threads + late_threads, fds=fds + late_fds)
    return samples


def checks_of(soak_node: ModuleType, samples: List[Dict[str, float]]) -> Dict[str, bool]:
    """:return: check name (without the process name) -> passed, for a process that stopped."""
    process = soak_node.Watched('p', 'classifier', child=None, samples=samples,
                                exit_status=0, stop_s=0.5,
                                output='[INFO] [p]: stopped; frames: 3 received, 3 published')
    summary = {'name': 'p', **soak_node.process_summary(process, 10.0),
               **soak_node.stop_summary(process)}
    return {name.split(': ', 1)[1].split(' <')[0]: ok
            for name, ok, _ in soak_node.process_checks(summary)}


def test_steady_memory_passes_and_growth_fails() -> None:
    soak_node = import_tool('soak_node')
    steady = [100_000.0 + (500 if t % 7 == 0 else 0) for t in range(60)]  # noise, no trend
    assert all(checks_of(soak_node, process_samples(steady)).values())
    growing = [100_000.0 + 50 * t for t in range(60)]  # 2.5 % over the 50 s after warm-up
    result = checks_of(soak_node, process_samples(growing))
    assert not result['RSS growth after warm-up'] and result['threads not growing']


def test_threads_or_fds_that_stay_fail_and_a_passing_one_does_not() -> None:
    soak_node = import_tool('soak_node')
    flat = [100_000.0] * 30
    kept = checks_of(soak_node, process_samples(flat, late_threads=1, late_fds=1, late=5))
    assert not kept['threads not growing'] and not kept['open fds not growing']
    passing = checks_of(soak_node, process_samples(flat, late_threads=3, late_fds=2))
    assert passing['threads not growing'] and passing['open fds not growing']


def test_a_growing_backlog_fails() -> None:
    soak_node = import_tool('soak_node')
    options = soak_node.Options(30.0, 10.0, 100.0, 1.0, False, 3, True, 60.0, 10.0)

    def verdict(backlogs: List[int]) -> bool:
        classifier = soak_node.Classifier('/c', 4)
        for t, backlog in enumerate(backlogs):
            counters = soak_node.counters_sample({'frames_received': str(10 * t + backlog),
                                                  'frames_published': str(10 * t),
                                                  'fps': '10.0'})
            counters.update(t=float(t), age_s=0.2)
            classifier.samples.append(counters)
        summary = {'node': '/c', **soak_node.classifier_summary(classifier, 10.0)}
        return bool(soak_node.classifier_checks(summary, options)[0][1])
    assert verdict([1, 2] * 15)
    assert not verdict([0] * 20 + [3] * 10)  # within the bound, but rising
    assert not verdict([1] * 29 + [9])       # beyond the bound
