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
Where the Classifier preprocesses (``preprocess_device``), without a GPU.

The TensorRT backend is the fake one over the host-memory CUDA layer; the GPU kernel
is replaced by a stand-in that does the kernel's job with OpenCV on the fake device
memory, from the arguments the real launch gets. What is checked is the wiring: the
input is written on the device and not uploaded again, the timings, the reasons given
when the GPU is not used, and that everything is freed. The kernel itself is checked
against the CPU path on a GPU (``test_gpu_preprocessing.py``).
"""

import json
import logging
from typing import Any, Dict, List, Sequence, Tuple

import cv2
from fake_cuda import FakeCudaApi
from fake_tensorrt import FakeWorld, make_fake_tensorrt, write_model
import numpy as np
import pytest

from dla_infer_ros import gpu_preprocessing
from dla_infer_ros.backends import BackendOptions
from dla_infer_ros.backends.cuda.interface import Stream
from dla_infer_ros.classifier import Classifier
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import resolve_model

SIZE = 8


class StandInKernel:
    """Does what the preprocessing kernel does (float32 NCHW, 3 channels) on fake memory."""

    def __init__(self, cuda: FakeCudaApi) -> None:
        self.cuda = cuda
        self.launches = 0
        self.freed = False

    def launch(self, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               args: Sequence[Tuple[str, Any]], stream: Stream) -> None:
        (src, w, h, pitch, channels, c0, c1, c2, to_gray, row_pairs, win_x, win_y, win_w, win_h,
         out, out_w, out_h, out_c, g0, g1, g2, o0, o1, o2) = [value for _, value in args]
        assert to_gray == 0 and row_pairs == 0 and out_c == 3 and pitch == w * channels
        crop = self.cuda.read(src, h * pitch).reshape(h, w, channels)
        picked = np.ascontiguousarray(crop[:, :, [c0, c1, c2]])
        resized = cv2.resize(picked, (win_w, win_h), interpolation=cv2.INTER_LINEAR)
        canvas = np.zeros((out_h, out_w, 3), np.float32)
        canvas[win_y:win_y + win_h, win_x:win_x + win_w] = resized
        planes = canvas.transpose(2, 0, 1) * np.array([g0, g1, g2], np.float32)[:, None, None]
        planes += np.array([o0, o1, o2], np.float32)[:, None, None]
        self.cuda.write(out, np.ascontiguousarray(planes, np.float32))
        self.launches += 1

    def free(self) -> None:
        self.freed = True


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld(cuda=FakeCudaApi())


@pytest.fixture
def model(tmp_path: Any) -> str:
    path = write_model(str(tmp_path / 'tiny.onnx'), batch=2, size=SIZE, classes=3)
    contract = {'format': 'dla_infer_ros/model-contract-1', 'name': 'tiny',
                'model': 'tiny.onnx', 'input': {'name': 'input', 'height': SIZE, 'width': SIZE,
                                                'resize': 'letterbox', 'channel_order': 'RGB',
                                                'mean': [0.5, 0.4, 0.3], 'std': [0.2, 0.3, 0.4]},
                'output': {'name': 'logits', 'kind': 'logits'}}
    with open(str(tmp_path / 'tiny.json'), 'w', encoding='utf-8') as f:
        json.dump(contract, f)
    return path


@pytest.fixture
def kernels(world: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> List[StandInKernel]:
    made: List[StandInKernel] = []

    def compile_kernel(api: Any, source: str, name: str, defines: Sequence[str]) -> Any:
        assert api is world.cuda and name == 'preprocess'
        assert set(defines) == {'OUT_KIND=0', 'NHWC=0', 'NEAREST=0'}
        made.append(StandInKernel(world.cuda))
        return made[-1]
    monkeypatch.setattr(gpu_preprocessing, 'compile_kernel', compile_kernel)
    return made


def classifier(world: FakeWorld, model: str, tmp_path: Any, device: str,
               **options: Any) -> Classifier:
    trt = make_fake_tensorrt('8.5.3.1', world)
    kwargs: Dict[str, Any] = {'tensorrt_module': trt,
                              'cuda_factory': lambda binding, index: world.cuda,
                              'log': logging.getLogger('test.preprocess_device')}
    options.setdefault('batch_size', 2)
    return Classifier(resolve_model(model), 'tensorrt',
                      BackendOptions(engine_cache_dir=str(tmp_path / 'cache'), **options),
                      top_k=3, backend_kwargs=kwargs, preprocess_device=device)


def images(seed: int) -> Dict[str, np.ndarray]:
    # (not shrunk by more than 2: the stand-in kernel reads whole crops, not row pairs)
    rgb = np.random.default_rng(seed).integers(0, 256, (10, 15, 3), dtype=np.uint8)
    alpha = np.full((10, 15, 1), 255, np.uint8)
    return {'RGB': rgb, 'BGR': rgb[:, :, ::-1].copy(),
            'RGBA': np.concatenate([rgb, alpha], axis=2),
            'BGRA': np.concatenate([rgb[:, :, ::-1], alpha], axis=2)}


@pytest.mark.parametrize('device', ['auto', 'gpu'])
def test_gpu_preprocessing_writes_the_input_on_the_device(world: FakeWorld, model: str,
                                                          tmp_path: Any, device: str,
                                                          kernels: List[StandInKernel]) -> None:
    with classifier(world, model, tmp_path, 'cpu') as on_cpu:
        assert on_cpu.preprocessing == 'CPU (preprocess_device=cpu)'
        assert on_cpu.gpu_preprocessor is None and not kernels
        expected = on_cpu.classify([images(1)['RGB'], images(2)['BGR']], 'RGB')
    with classifier(world, model, tmp_path, device) as on_gpu:
        assert on_gpu.preprocessing.startswith('GPU')
        assert dict(on_gpu.describe().details)['preprocessing'] == on_gpu.preprocessing
        assert set(on_gpu.orders) == {'RGB', 'BGR', 'RGBA', 'BGRA', 'GRAY'}
        allocations = []
        for order in ('RGBA', 'BGRA', 'RGB', 'BGR'):
            world.cuda.copies.clear()
            results = on_gpu.classify([images(1)[order], images(2)[order]], order)
            allocations.append(world.cuda.allocations)
            # two crops uploaded, the model input never (it was written on the device)
            assert world.cuda.copies == ['htod_2d', 'htod_2d', 'dtoh']
            assert [r[0] for r in results[0]] == [r[0] for r in expected[0]]
            np.testing.assert_allclose([r[2] for r in results[0]],
                                       [r[2] for r in expected[0]], rtol=1e-5)
            timings = on_gpu.last_timings
            assert timings['preprocess_gpu'] > 0 and timings['h2d'] > 0
            assert timings['preprocess'] >= 0 and timings['inference'] >= 0
        assert kernels[0].launches == 8
        # the staging buffers of the first (4-channel) frames serve the 3-channel ones
        assert allocations[1:] == allocations[:1] * 3
    assert kernels[0].freed and world.cuda.live == 0
    assert on_gpu.preprocessing == 'not active' and on_gpu.gpu_preprocessor is None


def test_images_of_a_wrong_order_are_refused_before_anything_runs(
        world: FakeWorld, model: str, tmp_path: Any, kernels: List[StandInKernel]) -> None:
    with classifier(world, model, tmp_path, 'gpu') as on_gpu:
        with pytest.raises(DlaInferError, match='does not fit channel order RGBA'):
            on_gpu.classify([images(1)['RGB']], 'RGBA')
        with pytest.raises(DlaInferError, match="channel order 'XYZ'"):
            on_gpu.classify([images(1)['RGB']], 'XYZ')
        assert kernels[0].launches == 0
        on_gpu.classify([images(1)['RGB']], 'RGB')  # and it still serves
        assert kernels[0].launches == 1


def test_auto_uses_the_cpu_when_the_kernel_cannot_be_compiled(world: FakeWorld, model: str,
                                                              tmp_path: Any) -> None:
    # The real compile_kernel: it needs the cuda-python binding, and this one is a fake.
    with classifier(world, model, tmp_path, 'auto') as on_cpu:
        assert on_cpu.preprocessing == ('CPU (not on the GPU: compiling CUDA kernels needs the '
                                        'cuda-python binding; fake is in use)')
        assert on_cpu.orders == ('RGB', 'BGR', 'GRAY')
        on_cpu.classify([images(1)['RGB']], 'RGB')
        assert 'preprocess_gpu' not in on_cpu.last_timings
    with pytest.raises(DlaInferError, match='preprocess_device=gpu cannot be met: compiling'):
        classifier(world, model, tmp_path, 'gpu').activate()
    assert world.cuda.live == 0


def test_a_dla_engine_reading_padded_rows_is_preprocessed_on_the_cpu(
        world: FakeWorld, model: str, tmp_path: Any, kernels: List[StandInKernel]) -> None:
    options = {'dla_core': 0, 'allow_gpu_fallback': False, 'precision': 'fp16'}
    with classifier(world, model, tmp_path, 'auto', **options) as on_cpu:
        assert on_cpu.preprocessing == ("CPU (not on the GPU: the engine reads input 'input' in "
                                        'the DLA_LINEAR format (rows padded to 64 bytes))')
        on_cpu.classify([images(1)['RGB']], 'RGB')
    with pytest.raises(DlaInferError, match='preprocess_device=gpu cannot be met: the engine'):
        classifier(world, model, tmp_path, 'gpu', **options).activate()
    assert world.cuda.live == 0 and not kernels


def test_unknown_preprocess_device_is_refused(model: str) -> None:
    with pytest.raises(DlaInferError, match=r"preprocess_device='tpu'; expected one of auto, "
                                            'cpu, gpu'):
        Classifier(resolve_model(model), 'onnxruntime', preprocess_device='tpu')


def test_upload_and_kernel_can_be_enqueued_alone(world: FakeWorld,
                                                 kernels: List[StandInKernel]) -> None:
    # What tools/bench_gpu_preprocessing.py times apart.
    contract = resolve_model().input_contract
    cuda = world.cuda
    with cuda.bound():
        output = cuda.device_buffer(3 * contract.height * contract.width * 4)
        stream = cuda.stream()
    gpu = gpu_preprocessing.GpuPreprocessor(contract, 1, cuda, output, stream)
    try:
        gpu.stage(images(1)['BGR'], 'BGR')
        cuda.copies.clear()
        gpu.enqueue(kernel=False)
        assert cuda.copies == ['htod_2d'] and kernels[0].launches == 0
        gpu.enqueue(upload=False)
        assert cuda.copies == ['htod_2d'] and kernels[0].launches == 1
    finally:
        gpu.close()
        with cuda.bound():
            output.free()
            stream.free()
