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
``tools/bench_node.py --short``: every row prints numbers and frames are answered.

One run of the node benchmark in a subprocess (camera, node and listener are its
own child processes over real rclpy). No timing thresholds: the numbers only
have to be there.
"""

import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import pytest

from conftest import needs_onnxruntime
from ros_harness import configure_ros_environment, ros_available

pytestmark = [
    pytest.mark.ros, needs_onnxruntime,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Rows of a --short run (row 7, 1920x1080, is left out) and the sub-rows that carry numbers.
LABELS = ('1 host stages p50 ms', '    convert p50 ms', '    preprocess p50 ms',
          '    postprocess p50 ms', '2 in-node overhead p50 ms', '3 stamp->result p50 ms',
          '3 stamp->result p99 ms', '4 node CPU ms/frame (all threads)',
          '4 node CPU ms/frame - raw backend', '5 saturated node fps / raw fps',
          '6 saturated node fps / raw fps', '8 multi_accel 30 Hz together / sum alone')
NUMBER = re.compile(r'^-?\d+\.\d+$')


@pytest.fixture(scope='module')
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Tuple[List[str], Dict[str, Any]]:
    """:return: the printed lines and the JSON report of one ``--short`` run."""
    report = str(tmp_path_factory.mktemp('bench_node') / 'bench.json')
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'bench_node.py'), '--short',
         '--json', report], env=configure_ros_environment(), cwd=ROOT, capture_output=True,
        text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    with open(report, encoding='utf-8') as f:
        return done.stdout.splitlines(), json.load(f)


def test_every_row_prints_a_number(short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    lines, _ = short_run
    for label in LABELS:
        found = [line for line in lines if line.startswith(label)]
        assert found, f'row {label!r} missing:\n' + '\n'.join(lines)
        for line in found:
            assert NUMBER.match(line.split()[-1]), f'row without a number: {line!r}'
    assert not [line for line in lines if line.startswith('7 ')], '--short measures no 1080p'


def test_frames_were_answered(short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    _, report = short_run
    [tree] = report['trees'].values()
    for scenario in ('vga30', 'vga_saturated', 'vga_saturated_defaults'):
        assert tree[scenario]['answered'] > 0, scenario
        assert tree[scenario]['camera']['sent'] > 0, scenario
    # The photo, really classified (the three cat classes score close: any of them).
    assert tree['vga30']['top1'] in ('Egyptian cat', 'tiger cat', 'tabby, tabby cat')
    assert tree['vga30']['cpu_ms_per_frame'] > 0
    assert report['raw']['fps'] > 0
    multi = tree['multi']
    assert len(multi['together']['classifiers']) == 3
    assert all(row['published'] > 0 for row in multi['together']['classifiers'])
    assert [row['published'] > 0 for a in multi['alone'].values()
            for row in a['classifiers']] == [True]


def fake_tree(folder: str, node_source: str) -> str:
    """:return: a checkout whose classifier node module is ``node_source``."""
    nodes = os.path.join(folder, 'dla_infer_ros', 'nodes')
    os.makedirs(nodes)
    for package in (os.path.dirname(nodes), nodes):
        open(os.path.join(package, '__init__.py'), 'w').close()
    with open(os.path.join(nodes, 'classifier_node.py'), 'w', encoding='utf-8') as f:
        f.write(node_source)
    return folder


def scenario_against(tree: str) -> str:
    """:return: the error of a 640x480 30 Hz run against ``tree``, whose node must fail."""
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    try:
        import bench_node
    finally:
        sys.path.pop(0)
    configure_ros_environment()
    timing = bench_node.Timing(warmup_s=0.5, duration_s=1.0, idle_s=0.1, answer_timeout_s=3.0,
                               multi_duration_s=1.0)
    with pytest.raises(bench_node.BenchError) as failure:
        bench_node.run_scenario(bench_node.Tree(tree, 'fake'), bench_node.SCENARIOS['vga30'],
                                30.0, timing)
    return str(failure.value)


def test_a_node_that_never_answers_fails_clearly(tmp_path: 'os.PathLike[str]') -> None:
    error = scenario_against(fake_tree(str(tmp_path), 'import time\ntime.sleep(120)\n'))
    assert 'the classifier node of fake never answered' in error
    assert 'no /diagnostics' in error


def test_a_node_that_cannot_start_fails_clearly(tmp_path: 'os.PathLike[str]') -> None:
    error = scenario_against(fake_tree(str(tmp_path),
                                       "raise SystemExit('cannot start: no model here')\n"))
    assert 'classifier node exited with status 1' in error
    assert 'cannot start: no model here' in error


def test_the_script_exits_non_zero_with_the_reason(tmp_path: 'os.PathLike[str]') -> None:
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'bench_node.py'), '--rows', '1',
         '--tree', str(tmp_path)], env=configure_ros_environment(), cwd=ROOT,
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'not a checkout of dla_infer_ros' in done.stderr
