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

"""Every node started as its own process: a bad start is one fatal line and status 1."""

import os
import tempfile
from typing import Any, Dict, Iterator, List, Optional

import pytest

from ros_harness import failed_start, ros_available

pytestmark = [
    pytest.mark.ros,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

NODES = 'dla_infer_ros.nodes.'


@pytest.fixture
def empty_folder() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield folder


@pytest.fixture
def malformed_params_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'params.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('/**:\n  ros__parameters:\n    top_k: [1, 2\n')
        yield path


def _failed_start(module: str, parameters: Dict[str, Any],
                  extra_args: Optional[List[str]] = None) -> str:
    return failed_start(NODES + module, parameters, extra_args)


def test_image_source_folder_without_images(empty_folder: str) -> None:
    log = _failed_start('image_source_node', {'source': empty_folder})
    assert f"cannot start: image source folder '{empty_folder}' holds no images" in log


def test_image_source_missing_source() -> None:
    log = _failed_start('image_source_node', {})
    assert 'cannot start: no image source given' in log


@pytest.mark.parametrize('name, value, reason', [
    ('rate', 'abc', "parameter rate: 'abc' is not a number"),
    ('rate', '0.0', 'Parameter rate out of range'),
    ('rate', '0', 'Parameter rate out of range'),
    ('depth', '2.5', "parameter 'depth' to '2.5' of type 'DOUBLE', expecting type 'INTEGER'"),
])
def test_image_source_bad_parameter(name: str, value: str, reason: str) -> None:
    log = _failed_start('image_source_node', {'source': '.', name: value})
    assert 'cannot start:' in log and reason in log


def test_dispatcher_out_of_range_parameter() -> None:
    log = _failed_start('dispatcher_node', {'targets': '[a, b]', 'window': 0})
    assert 'cannot start:' in log and 'Parameter window out of range' in log


def test_classifier_malformed_params_file(malformed_params_file: str) -> None:
    log = _failed_start('classifier_node', {}, ['--params-file', malformed_params_file])
    assert 'cannot start:' in log and "Couldn't parse params file" in log
