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
Facade over the optional native dependencies.

Importing any module of the package works on a machine without tensorrt,
cuda-python, pycuda or onnxruntime; asking for one that is missing raises a
single :class:`DlaInferError` naming the module and how to get it.
"""

import importlib
import importlib.util
from types import ModuleType
from typing import Dict

from dla_infer_ros.errors import DlaInferError

#: How to get each optional module, shown in the error when it is missing.
INSTALL_HINTS: Dict[str, str] = {
    'onnxruntime': 'pip install onnxruntime (or onnxruntime-gpu on x86 with CUDA)',
    'onnx': 'pip install onnx (or apt install python3-onnx)',
    'tensorrt': 'install TensorRT with JetPack on Jetson, or the tensorrt wheel from '
                "NVIDIA's package index on x86",
    'cuda.bindings.runtime': 'pip install cuda-python (NVIDIA CUDA Python bindings)',
    'pycuda.driver': 'pip install pycuda (builds against the local CUDA toolkit)',
    'cv2': 'pip install opencv-python-headless (or apt install python3-opencv)',
    'matplotlib': 'pip install matplotlib (or apt install python3-matplotlib)',
    'matplotlib.pyplot': 'pip install matplotlib (or apt install python3-matplotlib)',
}


def is_available(module: str) -> bool:
    """
    Tell whether ``module`` can be imported, without importing it.

    :param module: dotted module name, e.g. ``'tensorrt'``.
    :return: True when a spec for the module is found.
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, purpose: str) -> ModuleType:
    """
    Import an optional module or raise one clear error.

    :param module: dotted module name.
    :param purpose: what needs it, used in the error message.
    :return: the imported module.
    :raises DlaInferError: when the module (or a library it loads) is missing.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        hint = INSTALL_HINTS.get(module, 'install it')
        raise DlaInferError(
            f'{purpose} needs the Python module {module!r}, which cannot be imported here '
            f'({e}); to get it: {hint}') from e
