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

"""The dla_check and dla_zoo commands: output, JSON, exit codes, errors without tracebacks."""

import json
import os
import subprocess
import sys
from typing import Any, Tuple

import pytest

from dla_infer_ros.cli import dla_check, dla_zoo

onnx = pytest.importorskip('onnx', reason='onnx is not installed (tools/bootstrap.sh installs it)')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def lenet(tmp_path_factory: Any) -> str:
    """:return: path of the seed LeNet (ends in Softmax 'prob')."""
    folder = str(tmp_path_factory.mktemp('zoo'))
    assert dla_zoo.run([folder, '--models', 'lenet']) == 0
    return os.path.join(folder, 'lenet.onnx')


def run(capsys: Any, *args: str) -> Tuple[int, str, str]:
    code = dla_check.run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_and_verdict(capsys: Any, lenet: str) -> None:
    code, out, err = run(capsys, lenet, '--platform', 'xavier')
    assert code == 0 and err == ''
    lines = out.splitlines()
    assert lines[0] == f'{lenet}: Xavier (DLA v1; TensorRT 8.x, JetPack 4.6/5.x), batch 1, fp16'
    assert lines[1].split() == ['#', 'layer', 'op', 'device', 'reasons', '/', 'hints']
    assert lines[2].split() == ['1', 'conv1', 'Conv', 'DLA']
    prob = next(line for line in lines if ' prob ' in line)
    assert prob.split()[:4] == ['9', 'prob', 'Softmax', 'GPU']
    assert 'SoftMax is not supported on the DLA of xavier' in prob
    assert any(line.strip().startswith('hint: leave the final Softmax out') for line in lines)
    assert 'layers: 8 on DLA, 1 on GPU; 0 nodes folded at build time' in lines
    assert 'DLA subgraphs: 1 (layers each: 8); GPU<->DLA transitions: 1' in lines
    assert lines[-1] == ('verdict: xavier: 8 of 9 layers on the DLA in 1 subgraph; 1 on the '
                         'GPU: prob (Softmax); 1 GPU<->DLA transition')


def test_gpu_only_lists_only_the_fallbacks(capsys: Any, lenet: str) -> None:
    code, out, _ = run(capsys, lenet, '--platform', 'xavier', '--gpu-only')
    rows = [line for line in out.splitlines()[2:] if line[:5].strip().isdigit()]
    assert code == 0 and [row.split()[1] for row in rows] == ['prob']


def test_json_report(capsys: Any, lenet: str) -> None:
    code, out, _ = run(capsys, lenet, '--platform', 'orin', '--json')
    data = json.loads(out)
    assert code == 0
    assert {'platform', 'model', 'layers', 'summary'} <= set(data)
    assert data['platform'] == 'orin' and data['model'] == lenet
    assert data['summary'] == {'dla_layers': 9, 'gpu_layers': 0, 'dla_subgraphs': 1,
                               'transitions': 0}
    assert [layer['name'] for layer in data['layers']] == [
        'conv1', 'pool1', 'conv2', 'pool2', 'ip1_flatten', 'ip1', 'relu1', 'ip2', 'prob']
    assert all(set(layer) >= {'name', 'op', 'device', 'reasons'} for layer in data['layers'])
    assert {layer['device'] for layer in data['layers']} == {'DLA'}


@pytest.mark.parametrize('platform, code', [('xavier', 1), ('orin', 0)])
def test_fail_on_gpu(capsys: Any, lenet: str, platform: str, code: int) -> None:
    assert run(capsys, lenet, '--platform', platform, '--fail-on-gpu')[0] == code


def test_precision_option(capsys: Any, lenet: str) -> None:
    code, out, _ = run(capsys, lenet, '--precision', 'fp32')
    assert code == 0 and 'no layer on the DLA' in out.splitlines()[-1]


@pytest.mark.parametrize('make, message', [
    (lambda folder: os.path.join(folder, 'missing.onnx'), 'no such file'),
    (lambda folder: folder, 'is a directory'),
])
def test_bad_paths_exit_2(capsys: Any, tmp_path: Any, make: Any, message: str) -> None:
    code, out, err = run(capsys, make(str(tmp_path)))
    assert code == 2 and out == ''
    assert err.startswith('dla_check: error: ') and message in err
    assert 'Traceback' not in err


def test_not_onnx_exits_2(capsys: Any, tmp_path: Any) -> None:
    path = tmp_path / 'notes.onnx'
    path.write_text('not a model at all\n')
    code, _, err = run(capsys, str(path))
    assert code == 2 and 'not a readable ONNX model' in err


def test_dynamic_shapes_exit_2_and_batch_fixes_the_batch(capsys: Any, tmp_path: Any) -> None:
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node('Relu', ['x'], ['y'], name='relu')], 'dyn',
        [helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, ['N', 3, 8, 8])],
        [helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, ['N', 3, 8, 8])])
    path = str(tmp_path / 'dyn.onnx')
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)]), path)
    code, _, err = run(capsys, path)
    assert code == 2 and 'dynamic shape' in err and '--batch N' in err
    code, out, _ = run(capsys, path, '--batch', '4', '--json')
    assert code == 0 and json.loads(out)['batch'] == 4


def test_usage_errors_exit_2(capsys: Any, lenet: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        dla_check.run([lenet, '--platform', 'thor'])
    assert exit_info.value.code == 2
    assert "invalid choice: 'thor'" in capsys.readouterr().err


def test_console_entry_prints_no_traceback(tmp_path: Any) -> None:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    result = subprocess.run(
        [sys.executable, '-m', 'dla_infer_ros.cli.dla_check', str(tmp_path / 'nope.onnx')],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f'dla_check: error: {tmp_path / "nope.onnx"}: no such file'


def test_dla_zoo_writes_models_and_refuses_unknown_names(capsys: Any, tmp_path: Any) -> None:
    folder = str(tmp_path / 'out')
    assert dla_zoo.run([folder, '--models', 'lenet', '--weights', 'zeros', '--batch', '2']) == 0
    assert capsys.readouterr().out.startswith(f'wrote {folder}/lenet.onnx (')
    model = onnx.load(os.path.join(folder, 'lenet.onnx'))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert dla_zoo.run([folder, '--models', 'lenet,vgg16']) == 2
    assert 'unknown model(s) vgg16' in capsys.readouterr().err


def test_missing_onnx_is_one_clear_error(capsys: Any, lenet: str, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, 'onnx', None)
    code, out, err = run(capsys, lenet)
    assert code == 2 and out == ''
    assert err.startswith('dla_check: error: checking a model for the DLA needs the Python '
                          "module 'onnx'")
    assert 'pip install onnx' in err
