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
The backend against the real TensorRT Python bindings of 8.6.1, 10.3, 10.7 and 10.16.

The binding wheels are downloaded from PyPI into ``.cache/trt_bindings`` (once),
imported on stub libraries (``tools/trt_bindings.py``), one process per
version. Checked there: every entry of the API table (classes, members, enum
values, keyword arguments, override signatures); the backend's logger,
progress monitor and INT8 calibrator on the real base classes; the backend's
activation up to the first call that needs libnvinfer; the committed surface
dumps the fakes are generated from. Skipped only when PyPI cannot be reached.
"""

import json
import os
import subprocess
import sys
from typing import Any, Dict

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'tools'))
import trt_bindings  # noqa: E402, I100 (tools/ is not a package)

pytestmark = pytest.mark.trt_bindings

_prepared: Dict[str, Any] = {}


def probe(version: str, command: str, *args: str) -> Dict[str, Any]:
    """:return: the JSON result of one probe command in a process importing ``version``."""
    if version not in _prepared:
        try:
            _prepared[version] = trt_bindings.environment(version)
        except trt_bindings.BindingsUnavailable as e:
            if e.offline:
                pytest.skip(f'PyPI unreachable, cannot download the TensorRT {version} '
                            f'bindings: {str(e)[-300:]}')
            raise
    result = subprocess.run([sys.executable, trt_bindings.PROBE, command, *args],
                            env=_prepared[version], cwd=trt_bindings.REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    output: Dict[str, Any] = json.loads(result.stdout)
    return output


@pytest.mark.parametrize('version', sorted(trt_bindings.BINDINGS))
def test_api_table_exists_in_the_real_bindings(version: str) -> None:
    result = probe(version, 'check')
    assert result['version'] == version
    assert result['problems'] == []
    assert result['checked'] > 80


@pytest.mark.parametrize('version, extra, expected', [
    ('10.3.0', {'owner': 'IBuilderConfig', 'member': 'max_workspace_size'},
     'missing IBuilderConfig.max_workspace_size'),
    ('8.6.1', {'owner': 'IBuilderConfig', 'member': 'progress_monitor'},
     'missing IBuilderConfig.progress_monitor'),
    ('10.16.1.11', {'owner': 'IBuilderConfig', 'member': 'set_timing_cache',
                    'kwargs': ['ignore']}, "takes no keyword 'ignore'"),
    ('10.7.0', {'owner': 'ILogger', 'member': 'log', 'kind': 'override',
                'params': ['sev', 'msg']}, "parameters are [['severity', 'msg']]"),
    ('10.3.0', {'owner': 'NetworkDefinitionCreationFlag', 'member': 'EXPLICIT_PRECISION',
                'kind': 'enum'}, 'missing enum value'),
])
def test_the_check_finds_what_a_version_lacks(version: str, extra: Dict[str, Any],
                                              expected: str) -> None:
    result = probe(version, 'check', json.dumps([extra]))
    assert len(result['problems']) == 1 and expected in result['problems'][0]


@pytest.mark.parametrize('version', sorted(trt_bindings.BINDINGS))
def test_committed_surface_matches_the_real_bindings(version: str) -> None:
    """The fakes are generated from these files: they must be the real surface."""
    fresh = probe(version, 'dump')
    with open(trt_bindings.surface_path(version), encoding='utf-8') as f:
        committed = json.load(f)
    assert committed == fresh, 'run: python3 tools/trt_bindings.py dump'


@pytest.mark.parametrize('version', sorted(trt_bindings.BINDINGS))
def test_backend_subclasses_work_on_the_real_base_classes(version: str) -> None:
    result = probe(version, 'exercise')
    assert result['load'] == 'ok'
    assert result['logger_is_ilogger'] and result['recent_errors'] == ['probe error']
    assert 'ERROR:TensorRT: probe error' in result['log']
    assert 'DEBUG:TensorRT: probe verbose' in result['log']
    assert result['calibrator_is_entropy2'] and result['batch_size'] == 2
    assert result['batches'] == [[0.0], [1.0], [2.0], None]
    assert (result['cache_before'], result['cache_after']) == (None, 'TRT-calibration')
    if version.startswith('8.'):
        assert result['progress_monitor'] is None
    else:
        assert result['progress_monitor'] == 'IProgressMonitor' and result['step_continue']
        assert 'INFO:engine build: Building started (3 steps)' in result['log']
        assert 'INFO:engine build: Building finished in 20.0 s' in result['log']
    # with the stub libraries no runtime can be made: the backend must say so clearly
    assert result['backend_activate'].startswith(
        'DlaInferError: TensorRT could not create a runtime')


def test_tensorrt_11_is_refused_clearly() -> None:
    result = probe('11.4.0.106', 'exercise')
    assert result['load'].startswith('refused: TensorRT 11.4.0.106 found; the TensorRT '
                                     'backend supports 8.5 to 10.x')


@pytest.mark.parametrize('version', sorted(trt_bindings.BINDINGS))
def test_stubs_define_exactly_what_the_module_imports(version: str) -> None:
    env = _prepared.get(version) or trt_bindings.environment(version)
    _prepared[version] = env
    module_so = os.path.join(env['PYTHONPATH'].split(os.pathsep)[0], 'tensorrt_bindings',
                             'tensorrt.so')
    needed = trt_bindings.needed_symbols(module_so)
    assert 'createInferBuilder_INTERNAL' in needed and 'createInferRuntime_INTERNAL' in needed
    libs = trt_bindings.needed_libraries(module_so)
    major = version.split('.')[0]
    assert f'libnvinfer.so.{major}' in libs
    assert ('libnvparsers.so.8' in libs) == (major == '8')
