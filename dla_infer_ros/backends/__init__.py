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
Inference backends behind one contract (:mod:`dla_infer_ros.backends.base`).

Backends are found by name; their modules are imported only when asked for,
so this package imports on machines without TensorRT or ONNX Runtime.
"""

import importlib
from typing import Any, Dict, List, Optional, Tuple

from dla_infer_ros._optional import is_available
from dla_infer_ros.backends.base import (Backend, BackendOptions, DEVICE_STAGES, DeviceReport,
                                         LayerPlacement, TensorSpec)
from dla_infer_ros.errors import DlaInferError

__all__ = ['Backend', 'BackendOptions', 'DEVICE_STAGES', 'DeviceReport', 'LayerPlacement',
           'TensorSpec',
           'BACKENDS', 'available_backends', 'create_backend', 'resolve_backend_name']

#: name -> (module, class, the Python module the backend needs)
BACKENDS: Dict[str, Tuple[str, str, str]] = {
    'onnxruntime': ('dla_infer_ros.backends.onnxruntime_backend', 'OnnxRuntimeBackend',
                    'onnxruntime'),
    'tensorrt': ('dla_infer_ros.backends.tensorrt', 'TensorRtBackend', 'tensorrt'),
}

#: The order in which ``auto`` tries the backends.
AUTO_ORDER = ('tensorrt', 'onnxruntime')


def available_backends() -> List[str]:
    """:return: names of the backends whose runtime can be imported here."""
    return [name for name, (_, _, needs) in BACKENDS.items() if is_available(needs)]


def resolve_backend_name(name: str) -> str:
    """
    Turn ``auto`` into a concrete backend name and check a named one exists.

    :param name: ``auto`` or one of :data:`BACKENDS`.
    :return: the backend name to use.
    :raises DlaInferError: for an unknown name, or when ``auto`` finds nothing.
    """
    if name == 'auto':
        available = available_backends()
        for candidate in AUTO_ORDER:
            if candidate in available:
                return candidate
        raise DlaInferError('backend=auto found no usable runtime; install onnxruntime '
                            '(any CPU) or TensorRT (Jetson, NVIDIA GPU)')
    if name not in BACKENDS:
        raise DlaInferError(f'backend={name!r} requested; known backends: auto, '
                            + ', '.join(sorted(BACKENDS)))
    return name


def create_backend(name: str, model_path: str, options: Optional[BackendOptions] = None,
                   **backend_kwargs: Any) -> Backend:
    """
    Construct (not activate) a backend by name.

    :param name: ``auto``, ``onnxruntime`` or ``tensorrt``.
    :param model_path: the model file.
    :param options: requested device, precision, batch.
    :param backend_kwargs: extra keyword arguments of that backend class (for example
        ``calibration_preprocess`` of the TensorRT backend).
    :return: the backend, inactive.
    :raises DlaInferError: for an unknown or unavailable backend.
    """
    resolved = resolve_backend_name(name)
    module_name, class_name, _ = BACKENDS[resolved]
    module = importlib.import_module(module_name)
    backend_class = getattr(module, class_name)
    backend: Backend = backend_class(model_path, options or BackendOptions(), **backend_kwargs)
    return backend
