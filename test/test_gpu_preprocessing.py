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


"""GPU preprocessing against the CPU path: every encoding, mode, layout and type."""

import dataclasses
import itertools
import os
from typing import Any, Dict, Iterator, Tuple

from gpu_support import require_gpu
import numpy as np
import pytest

from dla_infer_ros.model_contract import InputContract, resolve_model
from dla_infer_ros.preprocessing import geometry, Preprocessor

GPU = pytest.mark.gpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = [os.path.join(ROOT, 'test', 'data', n) for n in ('chelsea_cat.jpg', 'coffee_cup.jpg')]
DEFAULT = resolve_model().input_contract
#: uint8 steps per normalised unit is 1 / gain; for the default model gain = 1/128.
#: (shrunk more than 2x, so uploaded as row pairs: 480x640 in stretch and letterbox, 1080x1920,
#: 999x301; exactly 2x, OpenCV's area path: 448x448; enlarged: 37x53)
SIZES = [(480, 640), (1080, 1920), (37, 53), (224, 224), (448, 448), (999, 301)]


@pytest.fixture(scope='module')
def cuda() -> Iterator[Tuple[Any, Any]]:
    require_gpu()
    from dla_infer_ros.backends.cuda import create_cuda_api
    api = create_cuda_api('cuda-python', 0)
    stream = api.stream()
    yield api, stream
    stream.free()
    api.close()


def _run_gpu(cuda: Tuple[Any, Any], contract: InputContract, image: np.ndarray,
             order: str) -> np.ndarray:
    from dla_infer_ros.gpu_preprocessing import GpuPreprocessor
    api, stream = cuda
    cpu = Preprocessor(contract, 2)
    out = api.device_buffer(cpu.tensor.nbytes)
    host = api.host_buffer(cpu.tensor.shape, cpu.tensor.dtype)
    gpu = GpuPreprocessor(contract, 2, api, out, stream)
    try:
        gpu.process(image, order, slot=1)
        api.copy_dtoh_async(host, out, stream)
        api.synchronize(stream)
        return np.array(host.array[1])
    finally:
        gpu.close()
        host.free()
        out.free()


def _run_cpu(contract: InputContract, image: np.ndarray, order: str) -> np.ndarray:
    cpu = Preprocessor(contract, 1)
    if order in ('RGBA', 'BGRA'):
        image, order = np.ascontiguousarray(image[:, :, :3]), order[:3]
    cpu.process(image, order)
    return np.array(cpu.tensor[0])


def _steps(contract: InputContract, gpu: np.ndarray, cpu: np.ndarray) -> np.ndarray:
    """:return: |gpu - cpu| in uint8 steps before normalisation, per element."""
    diff = np.abs(gpu.astype(np.float64) - cpu.astype(np.float64))
    if contract.dtype == 'uint8':
        return diff
    std = np.resize(np.asarray(contract.std, np.float64), contract.channels)
    gain = contract.scale / std
    shape = (-1, 1, 1) if contract.layout == 'NCHW' else (1, 1, -1)
    steps = diff / gain.reshape(shape)
    if contract.dtype == 'float16':  # both sides round to half: allow its spacing
        spacing = np.spacing(np.abs(cpu).astype(np.float16)).astype(np.float64)
        steps = np.maximum(steps - spacing / gain.reshape(shape), 0.0)
    return steps


def _image(size: Tuple[int, int], channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = rng.integers(0, 256, (size[0] // 8 + 2, size[1] // 8 + 2, channels), np.uint8)
    import cv2
    image = cv2.resize(smooth, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    image = image.reshape(size[0], size[1], channels)
    noise = rng.integers(0, 256, image.shape, np.uint8)
    mask = rng.random(image.shape[:2]) < 0.1  # some sharp pixels among smooth ones
    image[mask] = noise[mask]
    return image


CONTRACTS = [
    dataclasses.replace(DEFAULT, resize=resize, layout=layout, dtype=dtype,
                        interpolation=interpolation, channel_order=order,
                        channels=1 if order == 'GRAY' else 3,
                        mean=DEFAULT.mean[:1] if order == 'GRAY' else DEFAULT.mean,
                        std=(0.25,) if order == 'GRAY' else (0.2, 0.5, 1.0))
    for resize, layout, dtype, interpolation, order in itertools.product(
        ('stretch', 'center_crop', 'letterbox'), ('NCHW', 'NHWC'),
        ('float32', 'float16', 'uint8'), ('linear', 'nearest'), ('RGB', 'BGR', 'GRAY'))]
SOURCE_ORDERS = {'RGB': 3, 'BGR': 3, 'RGBA': 4, 'BGRA': 4, 'GRAY': 1}
RESULTS: Dict[str, float] = {}


@GPU
@pytest.mark.parametrize('contract', CONTRACTS, ids=lambda c: (
    f'{c.resize}-{c.layout}-{c.dtype}-{c.interpolation}-{c.channel_order}'))
def test_gpu_matches_cpu(cuda: Tuple[Any, Any], contract: InputContract) -> None:
    worst, exact, total = 0.0, 0, 0
    for (size, (order, channels)), seed in zip(
            itertools.product(SIZES, SOURCE_ORDERS.items()), itertools.count()):
        image = _image(size, channels, seed)
        if channels == 1:
            image = image[:, :, 0]
        steps = _steps(contract, _run_gpu(cuda, contract, image, order),
                       _run_cpu(contract, image, order))
        _, (rows, cols) = geometry(size[0], size[1], contract)
        border = np.ones((contract.height, contract.width), bool)
        border[rows, cols] = False
        outside = steps[:, border] if contract.layout == 'NCHW' else steps[border]
        assert not outside.any(), 'letterbox border differs'
        worst = max(worst, float(steps.max()))
        exact += int((steps < 1e-3).sum())
        total += steps.size
    # Every element within one uint8 step of the CPU's (OpenCV's fixed-point arithmetic is
    # followed, so nearly all are equal; a letterbox's border always is).
    assert worst <= 1.0 + 1e-3, f'largest difference {worst:.3f} uint8 steps'
    assert exact / total >= 0.99, f'{exact / total:.5f} exact'
    print(f'exact {exact / total:.6f}, largest difference {worst:.3f} uint8 steps')


@GPU
def test_photos_keep_their_top1(cuda: Tuple[Any, Any]) -> None:
    import cv2
    import onnxruntime
    model = resolve_model()
    session = onnxruntime.InferenceSession(model.model_path, providers=['CPUExecutionProvider'])
    for path in PHOTOS:
        bgr = cv2.imread(path)
        gpu = _run_gpu(cuda, DEFAULT, bgr, 'BGR')[None]
        cpu = _run_cpu(DEFAULT, bgr, 'BGR')[None]
        steps = _steps(DEFAULT, gpu[0], cpu[0])
        assert steps.max() <= 1.0 + 1e-3
        gpu_logits = session.run(None, {DEFAULT.name: gpu})[0]
        cpu_logits = session.run(None, {DEFAULT.name: cpu})[0]
        assert int(gpu_logits.argmax()) == int(cpu_logits.argmax()), path


@GPU
def test_views_batches_and_changing_sizes(cuda: Tuple[Any, Any]) -> None:
    from dla_infer_ros.gpu_preprocessing import GpuPreprocessor
    api, stream = cuda
    cpu = Preprocessor(DEFAULT, 3)
    out = api.device_buffer(cpu.tensor.nbytes)
    host = api.host_buffer(cpu.tensor.shape, cpu.tensor.dtype)
    gpu = GpuPreprocessor(DEFAULT, 3, api, out, stream)
    padded = _image((1080, 2000), 3, 7)
    frames = [padded[:, :1920],  # rows padded (a message's step): copied as a crop instead
              _image((1080, 1920), 3, 8), _image((720, 1280), 3, 9)]
    try:
        for _ in range(2):  # the second time with every buffer and row index in place
            gpu.run(frames, 'BGR')
            api.copy_dtoh_async(host, out, stream)
            api.synchronize(stream)
            assert gpu.elapsed_ms() > 0.0
            for slot, frame in enumerate(frames):
                want = _run_cpu(DEFAULT, frame, 'BGR')
                assert _steps(DEFAULT, host.array[slot], want).max() <= 1.0 + 1e-3
            frames = frames[::-1]  # each slot gets another size
        gpu.close()
        gpu.close()  # idempotent
    finally:
        gpu.close()
        host.free()
        out.free()


# -- without a GPU ---------------------------------------------------------------------------


class _NoCompiler:
    name = 'pycuda'


@pytest.mark.parametrize('change, message', [
    ({'interpolation': 'area'}, 'resizes with linear/nearest; the model asks for area'),
    ({'dtype': 'int8'}, 'the model takes 3 of int8'),
])
def test_contracts_the_kernel_does_not_cover_are_named(change: Dict[str, Any],
                                                       message: str) -> None:
    from dla_infer_ros.errors import DlaInferError
    from dla_infer_ros.gpu_preprocessing import GpuPreprocessor
    with pytest.raises(DlaInferError, match=message):
        GpuPreprocessor(dataclasses.replace(DEFAULT, **change), 1, _NoCompiler(),  # type: ignore
                        None, None)  # type: ignore[arg-type]


def test_only_cuda_python_compiles_kernels() -> None:
    from dla_infer_ros.backends.cuda.kernels import compile_kernel
    from dla_infer_ros.errors import DlaInferError
    with pytest.raises(DlaInferError, match='needs the cuda-python binding; pycuda is in use'):
        compile_kernel(_NoCompiler(), 'x', 'x')  # type: ignore[arg-type]
