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
:class:`CudaApi` on pycuda (``pycuda.driver``), for systems that already use it.

pycuda works on contexts: the adapter retains the device's primary context
(the one the CUDA runtime, and so TensorRT, uses), pushes it on entering
:meth:`~dla_infer_ros.backends.cuda.interface.CudaApi.bound` and pops it on
leaving, so no thread ever ends with it pushed (pycuda aborts the process when
a thread exits with a non-empty context stack). Every call of the adapter runs
bound. pycuda raises its own exceptions; :func:`_checked` turns each into a
:class:`DlaInferError` naming the call.
"""

from types import ModuleType
from typing import Any, Callable, Sequence, Tuple, TypeVar

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.backends.cuda.interface import (CudaApi, DeviceBuffer, DTypeLike, Event,
                                                   HostBuffer, Region2D, Stream)
from dla_infer_ros.errors import DlaInferError

T = TypeVar('T')

#: CU_STREAM_NON_BLOCKING from cuda.h; pycuda exposes no enum for stream flags
_CU_STREAM_NON_BLOCKING = 1


def _checked(what: str, call: Callable[..., T], *args: Any) -> T:
    """
    Run one pycuda call and translate its errors.

    :param what: the call's name for the message, e.g. ``mem_alloc``.
    :raises DlaInferError: on any pycuda error.
    """
    try:
        return call(*args)
    except DlaInferError:
        raise
    except Exception as e:  # pycuda raises pycuda._driver.Error subclasses
        raise DlaInferError(f'pycuda call {what} failed: {e}') from e


class PycudaApi(CudaApi):
    """The CUDA layer on ``pycuda.driver``."""

    name = 'pycuda'

    def __init__(self, device_id: int) -> None:
        """
        Initialise the driver and retain the device's primary context.

        :param device_id: the CUDA device index.
        :raises DlaInferError: when pycuda is missing or the device does not exist.
        """
        super().__init__(device_id)
        self._drv: ModuleType = require('pycuda.driver', 'the pycuda CUDA layer')
        _checked('init', self._drv.init)
        count = self.device_count()
        if not 0 <= device_id < count:
            raise DlaInferError(f'device_id={device_id} requested, this machine has '
                                f'{count} CUDA device(s)')
        self._device = _checked('Device', self._drv.Device, device_id)
        self._context = _checked('retain_primary_context', self._device.retain_primary_context)

    def _bind(self) -> None:
        """Push the primary context on this thread's context stack."""
        _checked('Context.push', self._context.push)

    def _unbind(self) -> None:
        """Pop it again: a thread must end with an empty stack."""
        _checked('Context.pop', self._drv.Context.pop)

    def device_count(self) -> int:
        """:return: the number of devices from ``Device.count``."""
        return int(_checked('Device.count', self._drv.Device.count))

    def compute_capability(self) -> Tuple[int, int]:
        """:return: (major, minor) from ``Device.compute_capability``."""
        major, minor = _checked('compute_capability', self._device.compute_capability)
        return int(major), int(minor)

    def mem_get_info(self) -> Tuple[int, int]:
        """:return: (free, total) from ``mem_get_info``."""
        free, total = self._bound_call('mem_get_info', self._drv.mem_get_info)
        return int(free), int(total)

    def _bound_call(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """Run one pycuda call with the context current (see :meth:`bound`)."""
        with self.bound():
            return _checked(what, call, *args)

    def device_buffer(self, nbytes: int) -> DeviceBuffer:
        """:return: memory from ``mem_alloc``."""
        size = max(int(nbytes), 1)
        allocation = self._bound_call('mem_alloc', self._drv.mem_alloc, size)
        return DeviceBuffer(int(allocation), size, lambda: self._bound_call(
            'DeviceAllocation.free', allocation.free))

    def host_buffer(self, shape: Sequence[int], dtype: DTypeLike) -> HostBuffer:
        """:return: memory from ``pagelocked_empty``."""
        array = self._bound_call('pagelocked_empty', self._drv.pagelocked_empty, tuple(shape),
                                 np.dtype(dtype))
        allocation = array.base
        ptr = array.__array_interface__['data'][0]
        return HostBuffer(array, ptr, lambda: self._bound_call(
            'HostAllocation.free', allocation.free))

    def stream(self) -> Stream:
        """:return: a ``pycuda.driver.Stream`` (non-blocking)."""
        native = self._bound_call('Stream', self._drv.Stream, _CU_STREAM_NON_BLOCKING)
        holder = [native]
        # pycuda has no explicit destroy: the stream goes with its last reference,
        # which free() drops (Stream forgets its native object too).
        return Stream(native.handle, native, lambda: self._bound_call(
            'Stream.__del__', holder.clear))

    def event(self, blocking: bool = False) -> Event:
        """:return: a ``pycuda.driver.Event``, with ``BLOCKING_SYNC`` when ``blocking``."""
        flags = self._drv.event_flags.BLOCKING_SYNC if blocking else 0
        native = self._bound_call('Event', self._drv.Event, flags)
        holder = [native]
        return Event(native, lambda: self._bound_call('Event.__del__', holder.clear), blocking)

    def copy_htod_async(self, dst: DeviceBuffer, src: HostBuffer, stream: Stream) -> None:
        """Enqueue ``memcpy_htod_async``."""
        self._check_copy(dst.nbytes, src.nbytes, 'host-to-device copy')
        self._bound_call('memcpy_htod_async', self._drv.memcpy_htod_async, dst.ptr, src.array,
                         stream.native)

    def copy_htod_2d_async(self, dst: DeviceBuffer, src: HostBuffer, region: Region2D,
                           stream: Stream) -> None:
        """Enqueue a ``Memcpy2D`` host to device."""
        self._check_region(dst, src, region)
        copy = self._drv.Memcpy2D()
        copy.set_src_host(src.array)
        copy.src_y, copy.src_x_in_bytes = divmod(region.offset, region.pitch)
        copy.src_pitch = region.pitch
        copy.set_dst_device(dst.ptr)
        copy.dst_pitch = copy.width_in_bytes = region.width
        copy.height = region.rows
        self._bound_call('Memcpy2D', copy, stream.native)

    def copy_dtoh_async(self, dst: HostBuffer, src: DeviceBuffer, stream: Stream) -> None:
        """Enqueue ``memcpy_dtoh_async``."""
        self._check_copy(src.nbytes, dst.nbytes, 'device-to-host copy')
        self._bound_call('memcpy_dtoh_async', self._drv.memcpy_dtoh_async, dst.array, src.ptr,
                         stream.native)

    def copy_dtod_async(self, dst: DeviceBuffer, src: DeviceBuffer, nbytes: int,
                        stream: Stream) -> None:
        """Enqueue ``memcpy_dtod_async``."""
        self._check_copy(min(dst.nbytes, src.nbytes), nbytes, 'device-to-device copy')
        self._bound_call('memcpy_dtod_async', self._drv.memcpy_dtod_async, dst.ptr, src.ptr,
                         nbytes, stream.native)

    def record(self, event: Event, stream: Stream) -> None:
        """Enqueue ``Event.record``."""
        self._bound_call('Event.record', event.native.record, stream.native)

    def synchronize(self, stream: Stream) -> None:
        """Wait with ``Stream.synchronize``."""
        self._bound_call('Stream.synchronize', stream.native.synchronize)

    def wait(self, event: Event) -> None:
        """``Event.synchronize``: sleeps on a blocking event, spins on another."""
        self._bound_call('Event.synchronize', event.native.synchronize)

    def elapsed_ms(self, start: Event, end: Event) -> float:
        """:return: ``end.time_since(start)`` after ``end.synchronize()``."""
        self._bound_call('Event.synchronize', end.native.synchronize)
        return float(self._bound_call('Event.time_since', end.native.time_since, start.native))
