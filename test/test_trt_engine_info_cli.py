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


"""The ``trt_engine_info`` console script."""

import functools
import json
import os
from typing import Any

from fake_cuda import FakeCudaApi
from fake_tensorrt import FakeWorld, make_fake_tensorrt, write_model
import pytest

from dla_infer_ros._optional import is_available
from dla_infer_ros.backends.tensorrt import TensorRtBackend
from dla_infer_ros.cli import trt_engine_info


@pytest.mark.skipif(is_available('tensorrt'), reason='TensorRT is installed here')
def test_without_tensorrt_it_says_what_is_missing(capsys: Any, tmp_path: Any) -> None:
    (tmp_path / 'model.onnx').write_bytes(b'onnx')
    status = trt_engine_info.main([str(tmp_path / 'model.onnx')])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith('trt_engine_info: the TensorRT backend needs the Python module '
                          "'tensorrt'")


@pytest.fixture
def fake_backend(monkeypatch: Any) -> FakeWorld:
    world = FakeWorld(cuda=FakeCudaApi(), dla_unsupported={'fc'})
    trt = make_fake_tensorrt('10.3.0', world)
    monkeypatch.setattr(trt_engine_info, 'TensorRtBackend', functools.partial(
        TensorRtBackend, tensorrt_module=trt, cuda_factory=lambda b, d: world.cuda))
    return world


def test_placement_table_for_an_onnx_model(fake_backend: FakeWorld, capsys: Any,
                                           tmp_path: Any) -> None:
    model = write_model(str(tmp_path / 'net.onnx'))
    status = trt_engine_info.main([model, '--dla-core', '1', '--cache-dir',
                                   str(tmp_path / 'cache')])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0] == 'DLA core 1 requested -> DLA core 1'
    assert '  input  input float32[1, 3, 4, 4]' in out
    assert '  output logits float32[1, 3]' in out
    assert '  planned_placement: layers: 3 on DLA, 1 on GPU (1 fell back to GPU)' in out
    assert 'layers: 1 on DLA, 1 on GPU (1 fell back to GPU); 4 reformat layers' in out
    assert out[-7:] == ['  DLA  {ForeignNode[conv1...pool]}', '  GPU  fc',
                        '  GPU  Reformatting CopyNode for Input Tensor 0 to input  (reformat)',
                        '  GPU  input to nvm  (reformat)', '  GPU  logits from nvm  (reformat)',
                        '  GPU  input copy finish  (reformat)',
                        'network layers the DLA could not run: fc']


def test_refusal_and_json(fake_backend: FakeWorld, capsys: Any, tmp_path: Any) -> None:
    model = write_model(str(tmp_path / 'net.onnx'))
    cache = ['--cache-dir', str(tmp_path / 'cache')]
    assert trt_engine_info.main([model, '--dla-core', '0', '--no-gpu-fallback'] + cache) == 2
    assert 'cannot run on DLA core 0' in capsys.readouterr().err
    assert trt_engine_info.main([model, '--json'] + cache) == 0
    info = json.loads(capsys.readouterr().out)
    assert [layer['Name'] for layer in info['Layers']][-4:] == ['conv1', 'relu1', 'pool', 'fc']
    assert os.listdir(str(tmp_path / 'cache'))


def test_missing_model_is_named_before_anything_loads(capsys: Any, tmp_path: Any) -> None:
    assert trt_engine_info.main([str(tmp_path / 'absent.onnx')]) == 2
    assert capsys.readouterr().err.strip().endswith('absent.onnx: no such file')
