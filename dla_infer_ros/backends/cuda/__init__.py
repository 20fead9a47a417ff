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
CUDA memory, streams and events behind one small interface.

:mod:`~dla_infer_ros.backends.cuda.interface` defines what the TensorRT
backend needs from CUDA (pinned host buffers, device buffers, a stream, events
for stage timings); :mod:`~dla_infer_ros.backends.cuda.cuda_python` implements
it with NVIDIA's cuda-python (``cuda.bindings.runtime``) and
:mod:`~dla_infer_ros.backends.cuda.pycuda_adapter` with pycuda. Neither binding
is imported until :func:`create_cuda_api` asks for it.
"""

from dla_infer_ros.backends.cuda.interface import (create_cuda_api, CUDA_BINDINGS, CudaApi,
                                                   DeviceBuffer, Event, HostBuffer, Resources,
                                                   Stream)

__all__ = ['CUDA_BINDINGS', 'CudaApi', 'DeviceBuffer', 'Event', 'HostBuffer', 'Resources',
           'Stream', 'create_cuda_api']
