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
``tools/fuzz_node.py --short``: a classifier node survives 500 malformed messages.

One run of the fuzzer in a subprocess (the node is its own child process, over real
rclpy): exit status 0, and the node's counters add up in the report. The generator is
also checked without ROS: seeded, every category made, bombs that claim their size.
"""

import json
import os
import random
import subprocess
import sys
from typing import Any, Dict, List, Tuple
import zlib

import numpy as np
import pytest

from conftest import import_tool, needs_onnxruntime, TOOLS
from dla_infer_ros.image_conversion import encoded_geometry
from ros_harness import configure_ros_environment, ros_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_ros = pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages '
                               'are not importable; run the tests through tools/run_tests.sh')


@pytest.fixture(scope='module')
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Tuple[List[str], Dict[str, Any]]:
    """:return: the printed lines and the JSON report of one ``--short`` run."""
    report = str(tmp_path_factory.mktemp('fuzz_node') / 'fuzz.json')
    done = subprocess.run(
        [sys.executable, os.path.join(TOOLS, 'fuzz_node.py'), '--short', '--json', report],
        env=configure_ros_environment(), cwd=ROOT, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    with open(report, encoding='utf-8') as f:
        return done.stdout.splitlines(), json.load(f)


@pytest.mark.ros
@needs_ros
@needs_onnxruntime
def test_the_node_survives_and_every_check_passes(
        short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    lines, result = short_run
    assert result['passed'] and lines[-1] == 'result: PASS (exit 0)', '\n'.join(lines)
    # One node per image transport (it reads one), the messages shared between them.
    assert set(result['runs']) == {'raw', 'compressed'}
    malformed = 0
    for transport, report in result['runs'].items():
        assert all(check['passed'] for check in report['checks']), transport
        assert report['alive_before_stop'] and report['exit_status'] == 0
        assert report['final_ok'] and not report['fatal_output']
        assert report['transport'] == transport
        malformed += sum(n for c, n in report['sent'].items() if not c.startswith('valid'))
    assert malformed == 500


@pytest.mark.ros
@needs_ros
@needs_onnxruntime
def test_the_counters_add_up(short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    lines, result = short_run
    equations = [line for line in lines
                 if line.startswith('  received = published + dropped + rejected + failed:')]
    assert len(equations) == 2
    for report, equation in zip(result['runs'].values(), equations):
        counters = report['counters']
        parts = counters['published'] + counters['dropped'] + counters['rejected'] \
            + counters['failed']
        assert counters['received'] == parts, counters
        assert 0 < counters['received'] <= sum(report['sent'].values())
        assert counters['rejected'] > 0  # the malformed frames the node read were refused
        assert equation.endswith(f'{counters["received"]} = {counters["published"]} + '
                                 f'{counters["dropped"]} + {counters["rejected"]} + '
                                 f'{counters["failed"]} = {parts}'), equation


@pytest.mark.ros
@needs_ros
@needs_onnxruntime
def test_valid_frames_in_the_flood_are_answered(
        short_run: Tuple[List[str], Dict[str, Any]]) -> None:
    _, result = short_run
    fuzz_node = import_tool('fuzz_node')
    valid = [entry for report in result['runs'].values() for entry in report['valid_flood']]
    assert len(valid) == 2 * (250 // 25 - 1)
    right = [fuzz_node.right_answer(photo, answer) for _, photo, answer in valid]
    assert sum(right) >= 0.95 * len(valid), valid


@pytest.mark.ros
@needs_ros
def test_the_cdr_writer_matches_rclpy_and_the_node_reader() -> None:
    import_tool('fuzz_node').check_writer()


def test_the_generator_is_seeded_and_makes_every_category() -> None:
    fuzz_node = import_tool('fuzz_node')
    assets = fuzz_node.make_assets(in_limit_bombs=False)
    first = fuzz_node.Generator(random.Random(3), assets)
    again = fuzz_node.Generator(random.Random(3), assets)
    cases = [first.next_case() for _ in range(2000)]
    assert cases[:300] == [again.next_case() for _ in range(300)]
    assert {case.category for case in cases} == set(first.categories)
    assert {case.topic for case in cases} == {'image', 'compressed'}
    only = fuzz_node.Generator(random.Random(3), assets, ('bomb JPEG',))
    assert {only.next_case().category for _ in range(20)} == {'compressed: bomb JPEG'}


def test_the_png_bomb_is_a_real_one() -> None:
    fuzz_node = import_tool('fuzz_node')
    bomb = fuzz_node.zeros_png(fuzz_node.BOMB_SIDE)
    assert len(bomb) < 1 << 20
    assert encoded_geometry(np.frombuffer(bomb, np.uint8)) == ('png', 30000, 30000, 1)
    stream = fuzz_node.zeros_zlib(3 * 1000 * 1001 + 5, block=1 << 16)
    assert zlib.decompress(stream) == bytes(3 * 1000 * 1001 + 5)
