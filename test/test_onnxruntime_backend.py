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


"""ONNX Runtime backend: contract, device planning, results, no per-call allocation."""

from typing import Callable

import numpy as np
import pytest

from conftest import needs_onnxruntime
from dla_infer_ros.backends import BackendOptions, create_backend
from dla_infer_ros.backends.onnxruntime_backend import (CPU_EP, CUDA_EP, OnnxRuntimeBackend,
                                                        TRT_EP)
from dla_infer_ros.errors import DlaInferError


def _planner(**kwargs: object) -> OnnxRuntimeBackend:
    return OnnxRuntimeBackend('unused.onnx', BackendOptions(**kwargs))  # type: ignore[arg-type]


def test_plan_dla_with_tensorrt_provider_maps_options() -> None:
    providers, reason = _planner(dla_core=1, precision='fp32').plan_providers(
        [TRT_EP, CUDA_EP, CPU_EP])
    name, options = providers[0]
    assert name == TRT_EP and reason == ''
    assert options['trt_dla_enable'] is True and options['trt_dla_core'] == 1
    assert options['trt_fp16_enable'] is True  # DLA needs FP16 unless INT8
    assert options['trt_int8_enable'] is False
    assert providers[1:] == [CUDA_EP, CPU_EP]


def test_plan_dla_without_fallback_keeps_only_cpu_after_tensorrt() -> None:
    providers, _ = _planner(dla_core=0, allow_gpu_fallback=False, precision='int8') \
        .plan_providers([TRT_EP, CUDA_EP, CPU_EP])
    assert providers[0][1]['trt_int8_enable'] is True
    assert providers[0][1]['trt_fp16_enable'] is False
    assert providers[1:] == [CPU_EP]


def test_plan_gpu_with_cuda_only() -> None:
    providers, reason = _planner().plan_providers([CUDA_EP, CPU_EP])
    assert providers == [CUDA_EP, CPU_EP] and reason == ''


def test_plan_dla_on_cpu_only_host_falls_back_with_reason() -> None:
    providers, reason = _planner(dla_core=1).plan_providers([CPU_EP])
    assert providers == [CPU_EP]
    assert 'no TensorRT execution provider' in reason


def test_plan_refuses_without_fallback() -> None:
    with pytest.raises(DlaInferError, match='DLA core 1 requested.*allow_gpu_fallback is false'):
        _planner(dla_core=1, allow_gpu_fallback=False).plan_providers([CPU_EP])
    with pytest.raises(DlaInferError, match='GPU requested'):
        _planner(allow_gpu_fallback=False).plan_providers([CPU_EP])


@needs_onnxruntime
def test_runs_model_and_reports_truthfully(tiny_model: str) -> None:
    with create_backend('onnxruntime', tiny_model, BackendOptions(dla_core=1)) as backend:
        assert [s.describe() for s in backend.inputs] == ['input float32[1, 3, 8, 8]']
        assert [s.describe() for s in backend.outputs] == ['logits float32[1, 4]']
        report = backend.describe()
        assert report.requested == 'DLA core 1'
        assert report.effective == 'CPU' and report.fell_back
        assert report.summary().startswith('DLA core 1 requested -> CPU (')
        feed = np.zeros((1, 3, 8, 8), dtype=np.float32)
        feed[0, 1] = 1.0  # green
        first = backend.infer({'input': feed})
        assert np.argmax(first['logits'][0]) == 1
        feed[0, 1], feed[0, 2] = 0.0, 1.0  # blue
        second = backend.infer({'input': feed})
        assert np.argmax(second['logits'][0]) == 2
        assert second['logits'] is first['logits']  # the output buffer is reused
    assert not backend.is_active
    backend.deactivate()  # idempotent


@needs_onnxruntime
def test_dynamic_batch_takes_batch_size(tiny_model_factory: Callable[..., str]) -> None:
    path = tiny_model_factory(batch='N')
    with create_backend('onnxruntime', path, BackendOptions(batch_size=3)) as backend:
        assert backend.inputs[0].shape == (3, 3, 8, 8)
        out = backend.infer({'input': np.ones((3, 3, 8, 8), dtype=np.float32)})
        assert out['logits'].shape == (3, 4)


@needs_onnxruntime
def test_fixed_batch_mismatch_is_clear(tiny_model: str) -> None:
    backend = create_backend('onnxruntime', tiny_model, BackendOptions(batch_size=4))
    with pytest.raises(DlaInferError, match='batch_size=4 requested.*fixed batch of 1'):
        backend.activate()


@needs_onnxruntime
def test_bad_feed_and_inactive_use_rejected(tiny_model: str) -> None:
    backend = create_backend('onnxruntime', tiny_model)
    with pytest.raises(DlaInferError, match='before activate'):
        backend.infer({})
    with backend:
        with pytest.raises(DlaInferError, match="input 'input' missing"):
            backend.infer({'x': np.zeros(1)})
        with pytest.raises(DlaInferError, match=r'float64\[1, 3, 8, 8\].*needs input float32'):
            backend.infer({'input': np.zeros((1, 3, 8, 8))})


@needs_onnxruntime
def test_not_an_onnx_file(tmp_path: object) -> None:
    path = f'{tmp_path}/broken.onnx'
    with open(path, 'wb') as f:
        f.write(b'not a model')
    with pytest.raises(DlaInferError, match='onnxruntime cannot load'):
        create_backend('onnxruntime', path).activate()


def test_unknown_backend_name() -> None:
    with pytest.raises(DlaInferError, match="backend='cuda' requested; known backends: auto"):
        create_backend('cuda', 'x.onnx')


@pytest.mark.parametrize('kwargs,match', [
    ({'dla_core': -2}, 'dla_core=-2'), ({'precision': 'fp8'}, "precision='fp8'"),
    ({'batch_size': 0}, 'batch_size=0'), ({'cpu_threads': -1}, 'cpu_threads=-1'),
    ({'cuda_binding': 'numba'}, "cuda_binding='numba'"),
    ({'dla_sram_mb': 3}, 'dla_sram_mb=3'), ({'workspace_mb': 8}, 'workspace_mb=8'),
])
def test_backend_options_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(DlaInferError, match=match):
        BackendOptions(**kwargs)
