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
A CUDA layer in host memory, for tests that run without a GPU.

Device memory is numpy byte arrays addressed by fake pointers; copies happen
at once; events return fixed, distinct times. It counts allocations and
live resources, so tests can show that ``infer()`` allocates nothing and that
``deactivate()`` frees everything.

Like pycuda, it keeps a context stack per thread: binding pushes, unbinding
pops, and a thread that ends with the context still pushed is recorded in
``aborts`` (real pycuda aborts the whole process then). Work done outside a
bound block is recorded in ``unbound_calls``.
"""

import itertools
import threading
from typing import Dict, List, Sequence, Tuple

import numpy as np

from dla_infer_ros.backends.cuda import CudaApi, DeviceBuffer, Event, HostBuffer, Stream
from dla_infer_ros.backends.cuda.interface import DTypeLike, Region2D
from dla_infer_ros.errors import DlaInferError


class FakeCudaApi(CudaApi):
    """Host-memory stand-in for :class:`CudaApi`."""

    name = 'fake'

    def __init__(self, device_id: int = 0, compute_capability: Tuple[int, int] = (8, 7)) -> None:
        super().__init__(device_id)
        self._cc = compute_capability
        self._next = itertools.count(0x10000, 0x10000)
        self.device: Dict[int, np.ndarray] = {}
        self.allocations = 0
        self.live = 0
        self.copies: List[str] = []
        self.closed = False
        self._event_times: Dict[int, float] = {}
        self._records = itertools.count()
        self._stacks = threading.local()
        self.aborts: List[str] = []
        self.unbound_calls: List[str] = []
        self.waits: List[bool] = []  # per wait(): was the event blocking?

    # bookkeeping -----------------------------------------------------------------------
    def _owned(self, release: 'object') -> 'object':
        self.allocations += 1
        self.live += 1

        def free() -> None:
            self.live -= 1
            release()  # type: ignore[operator]
        return free

    def read(self, ptr: int, nbytes: int) -> np.ndarray:
        """:return: a copy of ``nbytes`` of fake device memory at ``ptr``."""
        return self._block(ptr, nbytes).copy()

    def write(self, ptr: int, data: np.ndarray) -> None:
        """Store ``data``'s bytes at ``ptr``."""
        raw = np.ascontiguousarray(data).view(np.uint8).ravel()
        self._block(ptr, raw.size)[:] = raw

    def _block(self, ptr: int, nbytes: int) -> np.ndarray:
        for base, block in self.device.items():
            if base <= ptr and ptr + nbytes <= base + block.size:
                return block[ptr - base:ptr - base + nbytes]
        raise DlaInferError(f'fake CUDA: no device memory at {ptr:#x}+{nbytes}')

    def _stack(self) -> List[int]:
        holder = getattr(self._stacks, 'holder', None)
        if holder is None:
            holder = self._stacks.holder = _ThreadStack(self.aborts)
        stack: List[int] = holder.stack
        return stack

    def _require_bound(self, what: str) -> None:
        if not self._stack():
            self.unbound_calls.append(what)

    # CudaApi ---------------------------------------------------------------------------
    def _bind(self) -> None:
        self._stack().append(self.device_id)

    def _unbind(self) -> None:
        self._stack().pop()

    def device_count(self) -> int:
        return 1

    def compute_capability(self) -> Tuple[int, int]:
        return self._cc

    def mem_get_info(self) -> Tuple[int, int]:
        used = sum(b.size for b in self.device.values())
        return (1 << 30) - used, 1 << 30

    def device_buffer(self, nbytes: int) -> DeviceBuffer:
        self._require_bound('device_buffer')
        size = max(int(nbytes), 1)
        ptr = next(self._next)
        self.device[ptr] = np.zeros(size, np.uint8)
        return DeviceBuffer(ptr, size, self._owned(lambda: self.device.pop(ptr)))  # type: ignore

    def host_buffer(self, shape: Sequence[int], dtype: DTypeLike) -> HostBuffer:
        array = np.zeros(tuple(shape), dtype)
        return HostBuffer(array, array.ctypes.data, self._owned(lambda: None))  # type: ignore

    def stream(self) -> Stream:
        handle = next(self._next)
        return Stream(handle, handle, self._owned(lambda: None))  # type: ignore

    def event(self, blocking: bool = False) -> Event:
        return Event([0.0], self._owned(lambda: None), blocking)  # type: ignore

    def copy_htod_async(self, dst: DeviceBuffer, src: HostBuffer, stream: Stream) -> None:
        self._require_bound('copy_htod_async')
        self._check_copy(dst.nbytes, src.nbytes, 'host-to-device copy')
        self.write(dst.ptr, src.array)
        self.copies.append('htod')

    def copy_htod_2d_async(self, dst: DeviceBuffer, src: HostBuffer, region: Region2D,
                           stream: Stream) -> None:
        self._require_bound('copy_htod_2d_async')
        self._check_region(dst, src, region)
        data = src.array.reshape(-1).view(np.uint8)
        rows = [data[region.offset + r * region.pitch:][:region.width] for r in range(region.rows)]
        self.write(dst.ptr, np.concatenate(rows) if rows else data[:0])
        self.copies.append('htod_2d')

    def copy_dtoh_async(self, dst: HostBuffer, src: DeviceBuffer, stream: Stream) -> None:
        self._check_copy(src.nbytes, dst.nbytes, 'device-to-host copy')
        dst.array.view(np.uint8).reshape(-1)[:] = self._block(src.ptr, dst.nbytes)
        self.copies.append('dtoh')

    def copy_dtod_async(self, dst: DeviceBuffer, src: DeviceBuffer, nbytes: int,
                        stream: Stream) -> None:
        self._block(dst.ptr, nbytes)[:] = self._block(src.ptr, nbytes)

    def record(self, event: Event, stream: Stream) -> None:
        self._require_bound('record')
        event.native[0] = float(next(self._records))  # type: ignore[index]

    def synchronize(self, stream: Stream) -> None:
        pass

    def wait(self, event: Event) -> None:
        self._require_bound('wait')
        self.waits.append(event.blocking)

    def elapsed_ms(self, start: Event, end: Event) -> float:
        return (end.native[0] - start.native[0]) * 0.5  # type: ignore[index]

    def close(self) -> None:
        self.closed = True


class _ThreadStack:
    """One thread's context stack; notices when its thread ends with entries left."""

    def __init__(self, aborts: List[str]) -> None:
        self.stack: List[int] = []
        self._aborts = aborts
        self._thread = threading.current_thread().name

    def __del__(self) -> None:  # runs when the thread's locals are cleared at its end
        if self.stack:
            self._aborts.append(f'thread {self._thread} ended with the context still pushed '
                                '(pycuda aborts the process here)')
