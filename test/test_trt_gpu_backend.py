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
The TensorRT backend's data path on a real GPU, with a fake engine.

TensorRT itself cannot run here, so the engine is the fake of
:mod:`fake_tensorrt` (TensorRT 10.3 surface), but every buffer, copy, stream
and event is real CUDA through the selected binding: the fake engine's
"inference" is a device-to-device copy enqueued on the backend's stream, so
the outputs prove that H2D, compute and D2H are ordered on that stream.
"""

import logging
import os
from typing import Any, Dict, Tuple

from fake_tensorrt import FakeWorld, make_fake_tensorrt, write_model
from gpu_support import binding_params, require_gpu
import numpy as np
import pytest

from dla_infer_ros.backends import BackendOptions
from dla_infer_ros.backends.cuda import create_cuda_api, CudaApi
from dla_infer_ros.backends.tensorrt import TensorRtBackend
from dla_infer_ros.backends.tensorrt.calibrator import (CalibrationPlan,
                                                        make_entropy_calibrator)

pytestmark = pytest.mark.gpu


def copy_head_to_output(addresses: Dict[str, int], shapes: Dict[str, Tuple[int, ...]],
                        stream: int) -> bool:
    """Fake inference on the GPU: logits <- the first 3 floats of the input."""
    from cuda.bindings import runtime as cudart
    nbytes = int(np.prod(shapes['logits'])) * 4
    err, = cudart.cudaMemcpyAsync(addresses['logits'], addresses['input'], nbytes,
                                  cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream)
    return bool(err == cudart.cudaError_t.cudaSuccess)


@pytest.fixture(params=binding_params())
def binding(request: Any) -> str:
    require_gpu()
    return str(request.param)


def test_ten_thousand_inferences_on_the_gpu(binding: str, tmp_path: Any) -> None:
    apis = []

    def factory(name: str, device: int) -> CudaApi:
        apis.append(create_cuda_api(name, device))
        return apis[-1]
    world = FakeWorld(cuda=None)  # type: ignore[arg-type]  # the engine never reads host fakes
    world.execute_hook = copy_head_to_output
    trt = make_fake_tensorrt('10.3.0', world)
    model = write_model(os.path.join(str(tmp_path), 'tiny.onnx'), batch=1, size=8)
    options = BackendOptions(engine_cache_dir=str(tmp_path / 'cache'), cuda_binding=binding)
    backend = TensorRtBackend(model, options, tensorrt_module=trt, cuda_factory=factory,
                              log=logging.getLogger('test.gpu'))
    backend.activate()
    try:
        cuda = apis[0]
        assert cuda.name == binding
        feed = np.zeros((1, 3, 8, 8), np.float32)
        backend.infer({'input': feed})
        free_before, _ = cuda.mem_get_info()
        for i in range(10000):
            feed.reshape(-1)[:3] = (i, i + 0.5, -i)
            logits = backend.infer({'input': feed})['logits']
            if i % 997 == 0:
                np.testing.assert_array_equal(logits, [[i, i + 0.5, -i]])
        np.testing.assert_array_equal(logits, [[9999, 9999.5, -9999]])
        free_after, _ = cuda.mem_get_info()
        assert free_after == free_before
        timings = backend.last_timings()
        assert set(timings) == {'h2d_ms', 'compute_ms', 'd2h_ms', 'enqueue_ms'}
        assert all(value > 0.0 for value in timings.values())
    finally:
        backend.deactivate()


def test_calibrator_batches_reach_device_memory(binding: str) -> None:
    cuda = create_cuda_api(binding, 0)
    world = FakeWorld(cuda=None)  # type: ignore[arg-type]
    trt = make_fake_tensorrt('10.3.0', world)
    batches = [np.full((2, 3, 4, 4), value, np.float32) for value in (1.5, -2.0)]
    plan = CalibrationPlan('test', '/nonexistent.cache', '', lambda shape: batches)
    calibrator = make_entropy_calibrator(trt, plan, (2, 3, 4, 4), cuda,
                                         logging.getLogger('test.gpu'))
    readback = cuda.host_buffer((2, 3, 4, 4), np.float32)
    stream = cuda.stream()
    try:
        for expected in batches:
            [pointer] = calibrator.get_batch(['input'])
            device = type('View', (), {'ptr': pointer, 'nbytes': readback.nbytes})()
            cuda.copy_dtoh_async(readback, device, stream)  # type: ignore[arg-type]
            cuda.synchronize(stream)
            np.testing.assert_array_equal(readback.array, expected)
        assert calibrator.get_batch(['input']) is None and calibrator.error is None
        assert calibrator.read_calibration_cache() is None
    finally:
        calibrator.close()
        readback.free()
        stream.free()
        cuda.close()
