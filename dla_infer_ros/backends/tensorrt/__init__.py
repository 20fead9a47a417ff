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
TensorRT backend: GPU or DLA core, GPU fallback, FP16/INT8, engine cache, placement.

No module of this package imports TensorRT at import time; the backend
imports it on :meth:`~dla_infer_ros.backends.base.Backend.activate`. Every
TensorRT name the package uses is listed in :mod:`.api_surface`.
"""

import importlib
from typing import Any

#: name -> the module of this package that defines it (imported on first use, so that
#: reading the light modules, such as ``options``, does not load the backend)
_EXPORTS = {'TensorRtBackend': 'backend', 'dla_core_count': 'backend',
            'DlaMemoryPools': 'builder', 'BatchSource': 'calibrator',
            'FolderBatchSource': 'calibrator', 'Preprocess': 'calibrator'}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """:return: an exported name, its module imported now."""
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)
