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
What the inference backends need from CUDA, independent of the Python binding.

The resources (:class:`DeviceBuffer`, :class:`HostBuffer`, :class:`Stream`,
:class:`Event`) are small owners of one native handle each: ``free()`` releases
it once and does nothing on later calls, so cleanup paths may call it freely.
An implementation of :class:`CudaApi` creates them and moves data between them.
"""

import abc
import contextlib
import importlib
import threading
from typing import (Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple,
                    TYPE_CHECKING, TypeVar, Union)

import numpy as np

from dla_infer_ros.errors import DlaInferError

if TYPE_CHECKING:
    from numpy.typing import DTypeLike as DTypeLike
else:
    try:
        from numpy.typing import DTypeLike
    except ImportError:  # numpy < 1.20 (Ubuntu 20.04, JetPack 5) has no numpy.typing
        DTypeLike = Any

#: binding name -> (module, class) implementing :class:`CudaApi` with it
CUDA_BINDINGS: Dict[str, Tuple[str, str]] = {
    'cuda-python': ('dla_infer_ros.backends.cuda.cuda_python', 'CudaPythonApi'),
    'pycuda': ('dla_infer_ros.backends.cuda.pycuda_adapter', 'PycudaApi'),
}

Release = Callable[[], None]


class _Owned:
    """One native resource and the function that releases it, called at most once."""

    def __init__(self, release: Optional[Release]) -> None:
        self._release = release

    @property
    def is_freed(self) -> bool:
        """:return: True once :meth:`free` has run."""
        return self._release is None

    def free(self) -> None:
        """Release the native resource; later calls do nothing."""
        release, self._release = self._release, None
        if release is not None:
            try:
                release()
            finally:
                self._forget()

    def _forget(self) -> None:
        """Drop references to binding objects, so none outlives :meth:`free`."""

    def _check_alive(self, what: str) -> None:
        if self._release is None:
            raise DlaInferError(f'{what} used after free()')


class DeviceBuffer(_Owned):
    """A block of device memory: its address and size in bytes."""

    def __init__(self, ptr: int, nbytes: int, release: Optional[Release]) -> None:
        """
        Wrap an allocation.

        :param ptr: device address, as an integer (what TensorRT takes).
        :param nbytes: size in bytes.
        :param release: frees the allocation.
        """
        super().__init__(release)
        self.ptr = int(ptr)
        self.nbytes = int(nbytes)


class HostBuffer(_Owned):
    """Page-locked host memory, seen as one numpy array of a fixed shape and dtype."""

    def __init__(self, array: np.ndarray, ptr: int, release: Optional[Release]) -> None:
        """
        Wrap a pinned allocation.

        :param array: numpy view of the whole allocation; invalid after :meth:`free`.
        :param ptr: host address of the first byte.
        :param release: frees the allocation.
        """
        super().__init__(release)
        self.array = array
        self.ptr = int(ptr)
        self.nbytes = int(array.nbytes)


class Stream(_Owned):
    """A CUDA stream; ``handle`` is the integer TensorRT's ``execute_async_v3`` takes."""

    def __init__(self, handle: int, native: object, release: Optional[Release]) -> None:
        """
        Wrap a stream.

        :param handle: the ``cudaStream_t`` value as an integer.
        :param native: the binding's own stream object, used by the binding.
        :param release: destroys the stream.
        """
        super().__init__(release)
        self.handle = int(handle)
        self.native: Any = native

    def _forget(self) -> None:
        self.native = None  # pycuda destroys a stream when its last reference goes


class Event(_Owned):
    """A CUDA event with timing enabled; waiting on it blocks or spins (``blocking``)."""

    def __init__(self, native: object, release: Optional[Release],
                 blocking: bool = False) -> None:
        """
        Wrap an event.

        :param native: the binding's own event object.
        :param release: destroys the event.
        :param blocking: created with the blocking-sync flag: a thread waiting on it
            sleeps instead of polling the GPU.
        """
        super().__init__(release)
        self.native: Any = native
        self.blocking = blocking

    def _forget(self) -> None:
        self.native = None


class Region2D(NamedTuple):
    """``rows`` rows of ``width`` bytes, ``pitch`` bytes apart, from byte ``offset`` on."""

    offset: int
    pitch: int
    width: int
    rows: int

    @property
    def span(self) -> int:
        """:return: the bytes from the first byte of the first row to the last of the last."""
        return (self.rows - 1) * self.pitch + self.width if self.rows else 0


Resource = Union[DeviceBuffer, HostBuffer, Stream, Event]
R = TypeVar('R', DeviceBuffer, HostBuffer, Stream, Event)


class Resources:
    """Everything one activation allocated, freed together in reverse order."""

    def __init__(self) -> None:
        self._owned: List[Resource] = []

    def track(self, resource: R) -> R:
        """
        Remember a resource so that :meth:`free_all` releases it.

        :return: the same resource, so allocation and tracking fit on one line.
        """
        self._owned.append(resource)
        return resource

    def free_all(self) -> None:
        """Free every tracked resource, newest first; safe to call again."""
        while self._owned:
            self._owned.pop().free()

    def __len__(self) -> int:
        """:return: the number of resources still held."""
        return len(self._owned)


class CudaApi(abc.ABC):
    """
    The CUDA operations the backends use, for one device.

    Work runs inside :meth:`bound`, which makes the device current in the
    calling thread for the ``with`` block and leaves the thread as it found it
    (ROS executors call from several threads, and a thread that ends with a
    pycuda context still pushed aborts the process). Every failing call raises
    :class:`DlaInferError` naming the CUDA call.
    """

    #: binding name, as in :data:`CUDA_BINDINGS`
    name = 'abstract'

    def __init__(self, device_id: int) -> None:
        """:param device_id: the CUDA device index."""
        self.device_id = device_id
        self._depth = threading.local()

    @contextlib.contextmanager
    def bound(self) -> Iterator[None]:
        """
        Make this device current in the calling thread for a ``with`` block.

        Nested blocks cost a counter only; the outermost one binds and unbinds.
        """
        depth = getattr(self._depth, 'value', 0)
        if depth == 0:
            self._bind()
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            if depth == 0:
                self._unbind()

    @property
    def is_bound(self) -> bool:
        """:return: True inside a :meth:`bound` block of the calling thread."""
        return getattr(self._depth, 'value', 0) > 0

    @abc.abstractmethod
    def _bind(self) -> None:
        """Make the device current in the calling thread."""

    def _unbind(self) -> None:
        """Undo :meth:`_bind` (nothing to undo for bindings without a context stack)."""

    @abc.abstractmethod
    def device_count(self) -> int:
        """:return: number of CUDA devices visible to this process."""

    @abc.abstractmethod
    def compute_capability(self) -> Tuple[int, int]:
        """:return: (major, minor) of the device, e.g. (8, 7) on Orin."""

    @abc.abstractmethod
    def mem_get_info(self) -> Tuple[int, int]:
        """:return: (free, total) device memory in bytes."""

    @abc.abstractmethod
    def device_buffer(self, nbytes: int) -> DeviceBuffer:
        """:return: ``nbytes`` (at least 1) of device memory."""

    @abc.abstractmethod
    def host_buffer(self, shape: Sequence[int], dtype: DTypeLike) -> HostBuffer:
        """:return: a page-locked host array of ``shape`` and ``dtype``."""

    @abc.abstractmethod
    def stream(self) -> Stream:
        """:return: a new non-blocking stream."""

    @abc.abstractmethod
    def event(self, blocking: bool = False) -> Event:
        """
        Create an event that records time.

        :param blocking: a thread in :meth:`wait` sleeps until the event completes
            (``cudaEventBlockingSync``) instead of polling the GPU in a busy loop.
        :return: the event.
        """

    @abc.abstractmethod
    def copy_htod_async(self, dst: DeviceBuffer, src: HostBuffer, stream: Stream) -> None:
        """Enqueue a copy of all of ``src`` into ``dst`` (which must be large enough)."""

    @abc.abstractmethod
    def copy_htod_2d_async(self, dst: DeviceBuffer, src: HostBuffer, region: 'Region2D',
                           stream: Stream) -> None:
        """Enqueue a copy of a rectangle of ``src`` into ``dst``, its rows packed."""

    @abc.abstractmethod
    def copy_dtoh_async(self, dst: HostBuffer, src: DeviceBuffer, stream: Stream) -> None:
        """Enqueue a copy filling all of ``dst`` from ``src``."""

    @abc.abstractmethod
    def copy_dtod_async(self, dst: DeviceBuffer, src: DeviceBuffer, nbytes: int,
                        stream: Stream) -> None:
        """Enqueue a device-to-device copy of ``nbytes``."""

    @abc.abstractmethod
    def record(self, event: Event, stream: Stream) -> None:
        """Enqueue ``event`` on ``stream``."""

    @abc.abstractmethod
    def synchronize(self, stream: Stream) -> None:
        """Wait until all work on ``stream`` is done."""

    @abc.abstractmethod
    def wait(self, event: Event) -> None:
        """Wait until ``event`` completes: sleeping if it is blocking, else spinning."""

    @abc.abstractmethod
    def elapsed_ms(self, start: Event, end: Event) -> float:
        """:return: milliseconds between two completed events."""

    def close(self) -> None:
        """Release what the binding holds for this device (not the resources)."""

    @staticmethod
    def _check_region(dst: DeviceBuffer, src: HostBuffer, region: 'Region2D') -> None:
        if (min(region) < 0 or region.width > region.pitch
                or region.offset + region.span > src.nbytes
                or region.width * region.rows > dst.nbytes):
            raise DlaInferError(f'2D host-to-device copy: {region} does not fit a source of '
                                f'{src.nbytes} bytes and a destination of {dst.nbytes}')

    @staticmethod
    def _check_copy(dst_nbytes: int, src_nbytes: int, what: str) -> None:
        if dst_nbytes < src_nbytes:
            raise DlaInferError(f'{what}: destination holds {dst_nbytes} bytes, '
                                f'source has {src_nbytes}')


def create_cuda_api(binding: str, device_id: int = 0) -> CudaApi:
    """
    Create the CUDA layer with the chosen Python binding.

    :param binding: ``'cuda-python'`` or ``'pycuda'`` (``BackendOptions.cuda_binding``).
    :param device_id: the CUDA device index.
    :return: a ready :class:`CudaApi`; use it inside :meth:`CudaApi.bound`.
    :raises DlaInferError: for an unknown binding, a missing module, or no such device.
    """
    if binding not in CUDA_BINDINGS:
        raise DlaInferError(f'cuda_binding={binding!r} requested; choose one of '
                            + ', '.join(sorted(CUDA_BINDINGS)))
    module_name, class_name = CUDA_BINDINGS[binding]
    api_class = getattr(importlib.import_module(module_name), class_name)
    api: CudaApi = api_class(device_id)
    return api
