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

import dataclasses
import importlib
from typing import Any, Callable, Dict, List, Optional

from dla_infer_ros._optional import INSTALL_HINTS, is_available
from dla_infer_ros.backends.base import (Backend, BackendOptions, BATCH_SIZES, DEVICE_STAGES,
                                         DeviceReport, LayerPlacement, TensorSpec)
from dla_infer_ros.errors import DlaInferError

__all__ = ['Backend', 'BackendOptions', 'BATCH_SIZES', 'DEVICE_STAGES', 'DeviceReport',
           'LayerPlacement', 'TensorSpec',
           'BACKEND_CHOICES', 'BackendEntry', 'BACKENDS', 'CPU_BACKEND', 'available_backends',
           'backend_entry', 'create_backend', 'resolve_backend_name']


@dataclasses.dataclass(frozen=True)
class BackendEntry:
    """Where a backend lives, what it needs, and what it can do beyond the contract."""

    module: str
    class_name: str
    needs: str  # the Python module it imports (availability; install hint in _optional)
    #: the class takes ``calibration_preprocess``: INT8 calibration through the model's
    #: own preprocessing
    calibration_hook: bool = False
    #: ``module:function`` counting the DLA cores the backend can use ('' for none)
    dla_cores: str = ''
    #: runs the ``cpu`` device of the benchmark (and the reference of its checks)
    cpu: bool = False
    #: ``module:ATTRIBUTE`` of the backend's own options (:class:`dla_infer_ros.schema.Setting`
    #: entries; a light module: it is read to declare parameters, the backend is not loaded)
    options: str = ''

    def dla_core_count(self) -> int:
        """:return: the DLA cores this host offers the backend (0 when it uses none)."""
        if not self.dla_cores:
            return 0
        module, function = self.dla_cores.split(':')
        count: Callable[[], int] = getattr(importlib.import_module(module), function)
        return int(count())


#: name -> entry, in the order ``auto`` tries them; a new backend is its module and one
#: entry here
BACKENDS: Dict[str, BackendEntry] = {
    'tensorrt': BackendEntry('dla_infer_ros.backends.tensorrt', 'TensorRtBackend', 'tensorrt',
                             calibration_hook=True,
                             dla_cores='dla_infer_ros.backends.tensorrt:dla_core_count',
                             options='dla_infer_ros.backends.tensorrt.options:OPTIONS'),
    'onnxruntime': BackendEntry('dla_infer_ros.backends.onnxruntime_backend',
                                'OnnxRuntimeBackend', 'onnxruntime', cpu=True,
                                options='dla_infer_ros.backends.onnxruntime_backend:OPTIONS'),
}
#: what the ``backend`` parameter and options accept
BACKEND_CHOICES = ('auto', *BACKENDS)
#: the backend of the ``cpu`` device
CPU_BACKEND = next(name for name, entry in BACKENDS.items() if entry.cpu)


def available_backends() -> List[str]:
    """:return: names of the backends whose runtime can be imported here."""
    return [name for name, entry in BACKENDS.items() if is_available(entry.needs)]


def resolve_backend_name(name: str) -> str:
    """
    Turn ``auto`` into a concrete backend name and check a named one exists.

    :param name: ``auto`` or one of :data:`BACKENDS`.
    :return: the backend name to use.
    :raises DlaInferError: for an unknown name, or when ``auto`` finds nothing.
    """
    if name == 'auto':
        available = available_backends()
        if available:
            return available[0]
        raise DlaInferError('backend=auto found no usable runtime; install one of: ' + '; '.join(
            f'{name}: {INSTALL_HINTS.get(entry.needs, "")}' for name, entry in BACKENDS.items()))
    if name not in BACKENDS:
        raise DlaInferError(f'backend={name!r} requested; known backends: '
                            + ', '.join(BACKEND_CHOICES))
    return name


def backend_entry(name: str) -> BackendEntry:
    """
    Find a backend's entry, ``auto`` resolved.

    :raises DlaInferError: for an unknown name, or when ``auto`` finds nothing.
    """
    return BACKENDS[resolve_backend_name(name)]


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
    entry = backend_entry(name)
    backend_class = getattr(importlib.import_module(entry.module), entry.class_name)
    backend: Backend = backend_class(model_path, options or BackendOptions(), **backend_kwargs)
    return backend
