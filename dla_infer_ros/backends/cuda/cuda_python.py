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
:class:`CudaApi` on NVIDIA's cuda-python runtime binding (``cuda.bindings.runtime``).

Every call goes through :func:`cuda_call`, which unwraps cuda-python's
``(err, *results)`` tuple and raises :class:`DlaInferError` naming the call
and CUDA's error string.
"""

import ctypes
import threading
from types import ModuleType
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.backends.cuda.interface import (CudaApi, DeviceBuffer, DTypeLike, Event,
                                                   HostBuffer, Region2D, Stream)
from dla_infer_ros.errors import DlaInferError

_cudart: Optional[ModuleType] = None


def runtime_module() -> ModuleType:
    """:return: ``cuda.bindings.runtime``, imported on first use."""
    global _cudart
    if _cudart is None:
        _cudart = require('cuda.bindings.runtime', 'the cuda-python CUDA layer')
    return _cudart


def _error_text(cudart: ModuleType, err: Any) -> str:
    """:return: e.g. ``cudaErrorMemoryAllocation (out of memory)``."""
    name_result = cudart.cudaGetErrorName(err)
    text_result = cudart.cudaGetErrorString(err)
    name = name_result[1].decode() if len(name_result) > 1 else str(err)
    text = text_result[1].decode() if len(text_result) > 1 else ''
    return f'{name} ({text})' if text else name


def cuda_call(function: Any, *args: Any) -> Any:
    """
    Call a cuda-python runtime function and check its status.

    :param function: e.g. ``cudart.cudaMalloc``.
    :param args: its arguments.
    :return: ``None`` when the call returns only a status, the single result,
        or a tuple of the results.
    :raises DlaInferError: when the status is not ``cudaSuccess``.
    """
    cudart = runtime_module()
    err, *results = function(*args)
    if err != cudart.cudaError_t.cudaSuccess:
        name = getattr(function, '__name__', repr(function))
        raise DlaInferError(f'CUDA call {name} failed: {_error_text(cudart, err)}')
    if not results:
        return None
    if len(results) == 1:
        return results[0]
    return tuple(results)


def _pinned_view(ptr: int, shape: Sequence[int], dtype: np.dtype) -> np.ndarray:
    """:return: a numpy array over ``ptr`` (host memory owned elsewhere)."""
    count = int(np.prod(shape, dtype=np.int64))
    raw = (ctypes.c_ubyte * max(count * dtype.itemsize, 1)).from_address(ptr)
    return np.frombuffer(memoryview(raw), dtype=dtype, count=count).reshape(tuple(shape))


class CudaPythonApi(CudaApi):
    """The CUDA layer on ``cuda.bindings.runtime``."""

    name = 'cuda-python'

    def __init__(self, device_id: int) -> None:
        """
        Select the device.

        :param device_id: the CUDA device index.
        :raises DlaInferError: when cuda-python is missing or the device does not exist.
        """
        super().__init__(device_id)
        self._rt = runtime_module()
        self._thread = threading.local()
        count = self.device_count()
        if not 0 <= device_id < count:
            raise DlaInferError(f'device_id={device_id} requested, this machine has '
                                f'{count} CUDA device(s)')
        self._bind()  # the creating thread may use the device right away

    def _bind(self) -> None:
        """Call ``cudaSetDevice`` once per thread (the runtime keeps no stack to unwind)."""
        if getattr(self._thread, 'bound', False):
            return
        cuda_call(self._rt.cudaSetDevice, self.device_id)
        self._thread.bound = True

    def device_count(self) -> int:
        """:return: ``cudaGetDeviceCount``."""
        return int(cuda_call(self._rt.cudaGetDeviceCount))

    def compute_capability(self) -> Tuple[int, int]:
        """:return: (major, minor) from ``cudaDeviceGetAttribute``."""
        attr = self._rt.cudaDeviceAttr
        major = cuda_call(self._rt.cudaDeviceGetAttribute,
                          attr.cudaDevAttrComputeCapabilityMajor, self.device_id)
        minor = cuda_call(self._rt.cudaDeviceGetAttribute,
                          attr.cudaDevAttrComputeCapabilityMinor, self.device_id)
        return int(major), int(minor)

    def mem_get_info(self) -> Tuple[int, int]:
        """:return: (free, total) from ``cudaMemGetInfo``."""
        free, total = cuda_call(self._rt.cudaMemGetInfo)
        return int(free), int(total)

    def device_buffer(self, nbytes: int) -> DeviceBuffer:
        """:return: memory from ``cudaMalloc``, freed by ``cudaFree``."""
        size = max(int(nbytes), 1)
        ptr = int(cuda_call(self._rt.cudaMalloc, size))
        return DeviceBuffer(ptr, size, lambda: cuda_call(self._rt.cudaFree, ptr))

    def host_buffer(self, shape: Sequence[int], dtype: DTypeLike) -> HostBuffer:
        """:return: memory from ``cudaMallocHost``, freed by ``cudaFreeHost``."""
        np_dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize, 1)
        ptr = int(cuda_call(self._rt.cudaMallocHost, nbytes))
        array = _pinned_view(ptr, shape, np_dtype)
        return HostBuffer(array, ptr, lambda: cuda_call(self._rt.cudaFreeHost, ptr))

    def stream(self) -> Stream:
        """:return: a stream from ``cudaStreamCreateWithFlags(cudaStreamNonBlocking)``."""
        native = cuda_call(self._rt.cudaStreamCreateWithFlags, self._rt.cudaStreamNonBlocking)
        return Stream(int(native), native,
                      lambda: cuda_call(self._rt.cudaStreamDestroy, native))

    def event(self, blocking: bool = False) -> Event:
        """:return: an event from ``cudaEventCreateWithFlags`` (timing enabled)."""
        flags = self._rt.cudaEventBlockingSync if blocking else self._rt.cudaEventDefault
        native = cuda_call(self._rt.cudaEventCreateWithFlags, flags)
        return Event(native, lambda: cuda_call(self._rt.cudaEventDestroy, native), blocking)

    def copy_htod_async(self, dst: DeviceBuffer, src: HostBuffer, stream: Stream) -> None:
        """Enqueue ``cudaMemcpyAsync`` host to device."""
        self._check_copy(dst.nbytes, src.nbytes, 'host-to-device copy')
        cuda_call(self._rt.cudaMemcpyAsync, dst.ptr, src.ptr, src.nbytes,
                  self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream.native)

    def copy_htod_2d_async(self, dst: DeviceBuffer, src: HostBuffer, region: Region2D,
                           stream: Stream) -> None:
        """Enqueue ``cudaMemcpy2DAsync`` host to device."""
        self._check_region(dst, src, region)
        cuda_call(self._rt.cudaMemcpy2DAsync, dst.ptr, region.width, src.ptr + region.offset,
                  region.pitch, region.width, region.rows,
                  self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream.native)

    def copy_dtoh_async(self, dst: HostBuffer, src: DeviceBuffer, stream: Stream) -> None:
        """Enqueue ``cudaMemcpyAsync`` device to host."""
        self._check_copy(src.nbytes, dst.nbytes, 'device-to-host copy')
        cuda_call(self._rt.cudaMemcpyAsync, dst.ptr, src.ptr, dst.nbytes,
                  self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream.native)

    def copy_dtod_async(self, dst: DeviceBuffer, src: DeviceBuffer, nbytes: int,
                        stream: Stream) -> None:
        """Enqueue ``cudaMemcpyAsync`` device to device."""
        self._check_copy(min(dst.nbytes, src.nbytes), nbytes, 'device-to-device copy')
        cuda_call(self._rt.cudaMemcpyAsync, dst.ptr, src.ptr, nbytes,
                  self._rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream.native)

    def record(self, event: Event, stream: Stream) -> None:
        """Enqueue ``cudaEventRecord``."""
        cuda_call(self._rt.cudaEventRecord, event.native, stream.native)

    def synchronize(self, stream: Stream) -> None:
        """``cudaStreamSynchronize``."""
        cuda_call(self._rt.cudaStreamSynchronize, stream.native)

    def wait(self, event: Event) -> None:
        """``cudaEventSynchronize``: sleeps on a blocking event, spins on another."""
        cuda_call(self._rt.cudaEventSynchronize, event.native)

    def elapsed_ms(self, start: Event, end: Event) -> float:
        """:return: ``cudaEventElapsedTime`` after ``cudaEventSynchronize(end)``."""
        cuda_call(self._rt.cudaEventSynchronize, end.native)
        return float(cuda_call(self._rt.cudaEventElapsedTime, start.native, end.native))
