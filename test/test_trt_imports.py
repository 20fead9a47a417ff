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


"""Every module of the TensorRT backend and CUDA layer imports without their libraries."""

import subprocess
import sys

import pytest

MODULES = [
    'dla_infer_ros.backends.cuda', 'dla_infer_ros.backends.cuda.interface',
    'dla_infer_ros.backends.cuda.cuda_python', 'dla_infer_ros.backends.cuda.pycuda_adapter',
    'dla_infer_ros.backends.tensorrt', 'dla_infer_ros.backends.tensorrt.api_surface',
    'dla_infer_ros.backends.tensorrt.backend', 'dla_infer_ros.backends.tensorrt.builder',
    'dla_infer_ros.backends.tensorrt.calibrator', 'dla_infer_ros.backends.tensorrt.engine_cache',
    'dla_infer_ros.backends.tensorrt.loader', 'dla_infer_ros.backends.tensorrt.logging_bridge',
    'dla_infer_ros.backends.tensorrt.placement', 'dla_infer_ros.backends.tensorrt.policy',
    'dla_infer_ros.backends.tensorrt.runtime', 'dla_infer_ros.cli.trt_engine_info',
]

#: makes these imports fail in the child process, as on a machine without them
BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorrt', 'tensorrt_bindings', 'cuda', 'pycuda', 'cv2',
                                  'onnxruntime', 'rclpy'):
            raise ImportError(f'{name} blocked')
sys.meta_path.insert(0, Block())
"""


@pytest.mark.parametrize('module', MODULES)
def test_module_imports_without_native_dependencies(module: str) -> None:
    code = BLOCKER + f'import {module}\nprint(sorted(m for m in sys.modules if m.split(".")[0] ' \
                     f"in ('tensorrt', 'cuda', 'pycuda', 'cv2')))"
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_asking_for_the_backend_without_tensorrt_is_one_clear_error() -> None:
    code = BLOCKER + """
from dla_infer_ros.backends import available_backends, BackendOptions, create_backend
from dla_infer_ros.errors import DlaInferError
assert 'tensorrt' not in available_backends()
backend = create_backend('tensorrt', 'm.onnx', BackendOptions())
try:
    backend.activate()
except DlaInferError as e:
    print(e)
"""
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the TensorRT backend needs the Python module 'tensorrt'")
