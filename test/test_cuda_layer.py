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
Test the CUDA layer: ownership and errors everywhere, the rest on a GPU.

Resource ownership and error translation run everywhere; buffer round trips,
event timing and memory stability over 10 000 iterations need a GPU
(``@pytest.mark.gpu``, skipped with the reason where there is none).
"""

import ctypes
import os
import subprocess
import sys
import textwrap
import types
from typing import Any, Iterator, List

from gpu_support import binding_params, require_gpu
import numpy as np
import pytest

from dla_infer_ros._optional import is_available
from dla_infer_ros.backends.cuda import (create_cuda_api, CudaApi, DeviceBuffer, Resources,
                                         Stream)
from dla_infer_ros.backends.cuda import cuda_python, pycuda_adapter
from dla_infer_ros.backends.cuda.interface import Region2D
from dla_infer_ros.errors import DlaInferError


# -- everywhere ------------------------------------------------------------------------

def test_resources_free_once_newest_first() -> None:
    freed: List[str] = []
    resources = Resources()
    first = resources.track(DeviceBuffer(0x1000, 16, lambda: freed.append('device')))
    resources.track(Stream(7, None, lambda: freed.append('stream')))
    assert len(resources) == 2 and not first.is_freed
    resources.free_all()
    resources.free_all()
    first.free()
    assert freed == ['stream', 'device'] and first.is_freed and len(resources) == 0


def test_unknown_binding_is_refused() -> None:
    with pytest.raises(DlaInferError, match="cuda_binding='cupy' requested; choose one of "
                                            'cuda-python, pycuda'):
        create_cuda_api('cupy')


class FakeError:
    """A cudaError_t stand-in: equal by code."""

    def __init__(self, code: int) -> None:
        self.code = code

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FakeError) and other.code == self.code

    def __hash__(self) -> int:
        return self.code


@pytest.fixture
def fake_runtime(monkeypatch: Any) -> Iterator[Any]:
    """Stand in for ``cuda.bindings.runtime`` with the error helpers cuda_call uses."""
    success = FakeError(0)
    runtime = types.SimpleNamespace(
        cudaError_t=types.SimpleNamespace(cudaSuccess=success),
        cudaGetErrorName=lambda err: (success, b'cudaErrorMemoryAllocation'),
        cudaGetErrorString=lambda err: (success, b'out of memory'))
    monkeypatch.setattr(cuda_python, '_cudart', runtime)
    yield success


def test_cuda_call_unwraps_results(fake_runtime: Any) -> None:
    def cudaMalloc(size: int) -> Any:  # noqa: N802 (named as the CUDA call)
        return fake_runtime, 0xABC0

    def cudaMemGetInfo() -> Any:  # noqa: N802
        return fake_runtime, 10, 20

    def cudaFree(ptr: int) -> Any:  # noqa: N802
        return (fake_runtime,)
    assert cuda_python.cuda_call(cudaMalloc, 64) == 0xABC0
    assert cuda_python.cuda_call(cudaMemGetInfo) == (10, 20)
    assert cuda_python.cuda_call(cudaFree, 0xABC0) is None


def test_cuda_call_names_the_call_and_the_error(fake_runtime: Any) -> None:
    def cudaMalloc(size: int) -> Any:  # noqa: N802
        return FakeError(2), None
    with pytest.raises(DlaInferError, match=r'CUDA call cudaMalloc failed: '
                                            r'cudaErrorMemoryAllocation \(out of memory\)'):
        cuda_python.cuda_call(cudaMalloc, 1 << 40)


def test_pycuda_errors_are_translated() -> None:
    def launch() -> None:
        raise RuntimeError('cuMemAlloc failed: out of memory')
    with pytest.raises(DlaInferError, match='pycuda call mem_alloc failed: cuMemAlloc failed'):
        pycuda_adapter._checked('mem_alloc', launch)


def test_packed_kernel_arguments_point_at_their_c_values() -> None:
    from dla_infer_ros.backends.cuda.kernels import PackedArgs
    args = [('ptr', 0x7f0012345678), ('int', -3), ('float', 0.1), ('int', 7)]
    packed = PackedArgs(args)
    assert list(packed) == args and len(packed) == 4 and packed[1] == ('int', -3)
    assert packed == PackedArgs(args) and packed != PackedArgs(args[:3])
    pointers = (ctypes.c_void_p * 4).from_address(packed.address)
    assert ctypes.c_void_p.from_address(pointers[0]).value == 0x7f0012345678
    assert ctypes.c_int.from_address(pointers[1]).value == -3
    assert ctypes.c_float.from_address(pointers[2]).value == pytest.approx(0.1)
    assert ctypes.c_int.from_address(pointers[3]).value == 7


@pytest.mark.skipif(is_available('pycuda.driver'), reason='pycuda is installed here')
def test_missing_pycuda_says_how_to_get_it() -> None:
    with pytest.raises(DlaInferError, match="needs the Python module 'pycuda.driver'.*pip "
                                            'install pycuda'):
        create_cuda_api('pycuda')


# -- on a GPU --------------------------------------------------------------------------

@pytest.fixture(params=binding_params())
def cuda(request: Any) -> Iterator[CudaApi]:
    require_gpu()
    api = create_cuda_api(request.param, 0)
    yield api
    api.close()


@pytest.mark.gpu
@pytest.mark.parametrize('shape, dtype', [((3, 224, 224), np.float32), ((1, 1000), np.float16),
                                          ((7,), np.uint8), ((2, 3, 5), np.int32)])
def test_round_trip_through_two_device_buffers(cuda: CudaApi, shape: Any, dtype: Any) -> None:
    resources = Resources()
    try:
        source = resources.track(cuda.host_buffer(shape, dtype))
        target = resources.track(cuda.host_buffer(shape, dtype))
        first = resources.track(cuda.device_buffer(source.nbytes))
        second = resources.track(cuda.device_buffer(source.nbytes))
        stream = resources.track(cuda.stream())
        assert stream.handle != 0
        values = np.random.default_rng(1).integers(0, 100, size=shape)
        source.array[...] = values.astype(dtype)
        target.array[...] = 0
        cuda.copy_htod_async(first, source, stream)
        cuda.copy_dtod_async(second, first, source.nbytes, stream)
        cuda.copy_dtoh_async(target, second, stream)
        cuda.synchronize(stream)
        np.testing.assert_array_equal(target.array, source.array)
        assert target.array.shape == tuple(shape) and target.array.dtype == dtype
    finally:
        resources.free_all()


def region_round_trip(cuda: CudaApi) -> None:
    """Upload a rectangle of a 6x10 byte image, rows packed, and read it back."""
    resources = Resources()
    try:
        with cuda.bound():
            source = resources.track(cuda.host_buffer((6, 10), np.uint8))
            back = resources.track(cuda.host_buffer((3, 4), np.uint8))
            device = resources.track(cuda.device_buffer(12))
            stream = resources.track(cuda.stream())
            source.array[...] = np.arange(60, dtype=np.uint8).reshape(6, 10)
            cuda.copy_htod_2d_async(device, source, Region2D(12, 10, 4, 3), stream)
            cuda.copy_dtoh_async(back, device, stream)
            cuda.synchronize(stream)
            np.testing.assert_array_equal(back.array, source.array[1:4, 2:6])
            for region in (Region2D(50, 10, 4, 2), Region2D(0, 10, 4, 4), Region2D(0, 3, 4, 1)):
                with pytest.raises(DlaInferError, match='does not fit'):
                    cuda.copy_htod_2d_async(device, source, region, stream)
    finally:
        resources.free_all()


def test_rectangles_upload_with_their_rows_packed_in_the_fake() -> None:
    from fake_cuda import FakeCudaApi
    region_round_trip(FakeCudaApi())


@pytest.mark.gpu
def test_rectangles_upload_with_their_rows_packed(cuda: CudaApi) -> None:
    region_round_trip(cuda)


@pytest.mark.gpu
def test_events_time_the_work_between_them(cuda: CudaApi) -> None:
    resources = Resources()
    try:
        host = resources.track(cuda.host_buffer((64, 1 << 20), np.uint8))
        device = resources.track(cuda.device_buffer(64 << 20))
        stream = resources.track(cuda.stream())
        start, end = resources.track(cuda.event()), resources.track(cuda.event())
        cuda.record(start, stream)
        cuda.copy_htod_async(device, host, stream)
        cuda.record(end, stream)
        elapsed = cuda.elapsed_ms(start, end)
        assert elapsed > 0.0  # 64 MiB cannot cross PCIe/NVLink in no time
        assert cuda.elapsed_ms(start, start) == 0.0
    finally:
        resources.free_all()


@pytest.mark.gpu
@pytest.mark.parametrize('blocking', [True, False])
def test_waiting_on_an_event_sees_the_work_done(cuda: CudaApi, blocking: bool) -> None:
    resources = Resources()
    try:
        host = resources.track(cuda.host_buffer((16, 1 << 20), np.uint8))
        back = resources.track(cuda.host_buffer((16, 1 << 20), np.uint8))
        device = resources.track(cuda.device_buffer(16 << 20))
        stream = resources.track(cuda.stream())
        done = resources.track(cuda.event(blocking=blocking))
        assert done.blocking is blocking
        host.array[...] = 7
        cuda.copy_htod_async(device, host, stream)
        cuda.copy_dtoh_async(back, device, stream)
        cuda.record(done, stream)
        cuda.wait(done)
        assert int(back.array.min()) == 7 == int(back.array.max())
    finally:
        resources.free_all()
    assert done.native is None and stream.native is None  # nothing left for the GC to free


@pytest.mark.gpu
def test_a_thread_that_used_the_device_ends_cleanly(cuda: CudaApi) -> None:
    """A thread ending with a pycuda context pushed would abort the process."""
    script = textwrap.dedent(f"""
        import threading
        import numpy as np
        from dla_infer_ros.backends.cuda import create_cuda_api
        cuda = create_cuda_api({cuda.name!r}, 0)
        def work():
            with cuda.bound():
                buffer = cuda.device_buffer(1024)
                stream = cuda.stream()
                cuda.synchronize(stream)
                stream.free()
                buffer.free()
        for _ in range(3):
            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
        print('clean exit')
    """)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120, cwd=os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__))))
    assert result.returncode == 0 and 'clean exit' in result.stdout, result.stderr[-2000:]
    assert 'PyCUDA ERROR' not in result.stderr


@pytest.mark.gpu
def test_ten_thousand_iterations_do_not_grow_device_memory(cuda: CudaApi) -> None:
    resources = Resources()
    try:
        source = resources.track(cuda.host_buffer((3, 64, 64), np.float32))
        target = resources.track(cuda.host_buffer((3, 64, 64), np.float32))
        device = resources.track(cuda.device_buffer(source.nbytes))
        stream = resources.track(cuda.stream())
        events = [resources.track(cuda.event()) for _ in range(3)]
        free_before, _ = cuda.mem_get_info()
        total_ms = 0.0
        for i in range(10000):
            source.array.fill(float(i))
            cuda.record(events[0], stream)
            cuda.copy_htod_async(device, source, stream)
            cuda.record(events[1], stream)
            cuda.copy_dtoh_async(target, device, stream)
            cuda.record(events[2], stream)
            cuda.synchronize(stream)
            total_ms += cuda.elapsed_ms(events[0], events[2])
        free_after, _ = cuda.mem_get_info()
        assert free_after == free_before
        assert np.all(target.array == 9999.0)
        assert total_ms > 0.0
    finally:
        resources.free_all()


@pytest.mark.gpu
def test_allocations_are_returned_and_frees_are_idempotent(cuda: CudaApi) -> None:
    free_before, total = cuda.mem_get_info()
    buffers = [cuda.device_buffer(64 << 20) for _ in range(8)]
    free_during, _ = cuda.mem_get_info()
    assert free_before - free_during >= 8 * (64 << 20)
    for buffer in buffers:
        buffer.free()
        buffer.free()
    host = cuda.host_buffer((1024,), np.float64)
    host.free()
    host.free()
    assert cuda.mem_get_info()[0] == free_before and total > 0


@pytest.mark.gpu
def test_device_capability_and_missing_device(cuda: CudaApi) -> None:
    major, minor = cuda.compute_capability()
    assert major >= 5 and minor >= 0
    with pytest.raises(DlaInferError, match=r'device_id=99 requested, this machine has \d+'):
        create_cuda_api(cuda.name, 99)
