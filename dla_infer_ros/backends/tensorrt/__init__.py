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

from dla_infer_ros.backends.tensorrt.backend import dla_core_count, TensorRtBackend
from dla_infer_ros.backends.tensorrt.builder import DlaMemoryPools
from dla_infer_ros.backends.tensorrt.calibrator import (BatchSource, FolderBatchSource,
                                                        Preprocess)

__all__ = ['BatchSource', 'DlaMemoryPools', 'FolderBatchSource', 'Preprocess',
           'TensorRtBackend', 'dla_core_count']
