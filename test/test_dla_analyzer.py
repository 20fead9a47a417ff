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

"""The DLA analyzer: placement of whole models, subgraphs, transitions, report, errors."""

import json
import os
import re
from typing import Any, Dict, Sequence

import numpy as np
import pytest

from dla_infer_ros.backends.base import LayerPlacement
from dla_infer_ros.dla import analyze_model, analyze_onnx, DlaReport
from dla_infer_ros.dla import zoo
from dla_infer_ros.errors import DlaInferError

onnx = pytest.importorskip('onnx', reason='onnx is not installed (tools/bootstrap.sh installs it)')
helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto

X = (1, 8, 4, 4)


def graph(nodes: Sequence[Any], inputs: Dict[str, Sequence[Any]],
          consts: Any = None, outputs: Sequence[str] = ()) -> Any:
    initializers = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    model_graph = helper.make_graph(
        list(nodes), 'analyzer',
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
         for o in (outputs or [nodes[-1].output[0]])], initializers)
    return helper.make_model(model_graph, opset_imports=[helper.make_opsetid('', 13)])


def node(op_type: str, inputs: Sequence[str], output: str, **attrs: Any) -> Any:
    return helper.make_node(op_type, list(inputs), [output], name=output, **attrs)


def devices(report: DlaReport) -> Dict[str, str]:
    return {layer.name: layer.device for layer in report.layers}


# --- The seed observations ----------------------------------------------------------------


@pytest.fixture(scope='module')
def resnet50() -> Any:
    return zoo.build('resnet50', weights='zeros')


@pytest.fixture(scope='module')
def alexnet_noprob() -> Any:
    return zoo.build('alexnet_noprob', weights='zeros')


def test_resnet50_on_xavier_only_the_softmax_leaves_the_dla(resnet50: Any) -> None:
    # Field report: "Default DLA is enabled but layer prob is not running on DLA".
    report = analyze_onnx(resnet50, 'xavier')
    assert report.predicted_gpu_layers == ('prob',)
    assert report.counts() == {'dla_layers': 175, 'gpu_layers': 1, 'dla_subgraphs': 1,
                               'transitions': 1}
    assert 'SoftMax is not supported on the DLA of xavier' in report.gpu_layers[0].reasons[0]
    assert devices(report)['pool5'] == 'DLA'  # 7x7 average pooling fits the [1, 8] window
    assert devices(report)['fc1000'] == 'DLA'


def test_resnet50_on_orin_runs_entirely_on_the_dla(resnet50: Any) -> None:
    report = analyze_onnx(resnet50, 'orin')
    assert report.all_on_dla and len(report.subgraphs) == 1 and report.transitions == 0


@pytest.mark.parametrize('platform', ['xavier', 'orin'])
def test_alexnet_without_softmax_runs_entirely_on_the_dla(alexnet_noprob: Any,
                                                          platform: str) -> None:
    report = analyze_onnx(alexnet_noprob, platform)
    assert report.all_on_dla, report.gpu_layers
    assert report.counts() == {'dla_layers': 21, 'gpu_layers': 0, 'dla_subgraphs': 1,
                               'transitions': 0}


def test_googlenet_and_lenet_on_xavier_lose_only_the_softmax() -> None:
    for name in ('googlenet', 'lenet'):
        report = analyze_onnx(zoo.build(name, weights='zeros'), 'xavier')
        assert report.predicted_gpu_layers == ('prob',), name


def test_dla_friendly_head_needs_no_flatten(resnet50: Any) -> None:
    report = analyze_onnx(zoo.build('resnet50', weights='zeros', fc_as_conv=True), 'orin')
    assert report.all_on_dla
    assert 'Flatten' not in {layer.op for layer in report.layers}


# --- Subgraphs and transitions ------------------------------------------------------------


def test_dla_islands_split_by_a_gpu_layer_are_two_subgraphs() -> None:
    model = graph([node('Relu', ['x'], 'a'), node('Div', ['a', 'z'], 'g'),
                   node('Relu', ['g'], 'b'), node('Relu', ['b'], 'c')], {'x': X, 'z': X})
    report = analyze_onnx(model, 'orin')
    assert report.subgraphs == (('a',), ('b', 'c'))
    assert report.transitions == 2  # a -> g (DLA to GPU) and g -> b (GPU to DLA)


def test_a_subgraph_never_contains_a_path_through_the_gpu() -> None:
    # a feeds both the GPU layer g and, directly, the DLA layer c that also needs g: c cannot
    # join a's loadable, because that loadable would have to wait for the GPU in its middle.
    model = graph([node('Relu', ['x'], 'a'), node('Div', ['a', 'z'], 'g'),
                   node('Add', ['a', 'g'], 'c')], {'x': X, 'z': X})
    report = analyze_onnx(model, 'xavier')
    assert report.subgraphs == (('a',), ('c',))
    assert report.transitions == 2  # tensor a to the GPU, tensor g to the DLA


def test_one_tensor_read_by_two_gpu_layers_is_one_transition() -> None:
    model = graph([node('Relu', ['x'], 'a'), node('Div', ['a', 'z'], 'g1'),
                   node('Div', ['a', 'z'], 'g2'), node('Add', ['g1', 'g2'], 'y')],
                  {'x': X, 'z': X})
    report = analyze_onnx(model, 'orin')
    assert devices(report) == {'a': 'DLA', 'g1': 'GPU', 'g2': 'GPU', 'y': 'DLA'}
    assert report.transitions == 3  # a to the GPU once; g1 and g2 back to the DLA


def test_parallel_branches_on_the_dla_form_one_subgraph() -> None:
    model = graph([node('Relu', ['x'], 'a'), node('Sigmoid', ['a'], 'b'),
                   node('Tanh', ['a'], 'c'), node('Add', ['b', 'c'], 'd')], {'x': X})
    report = analyze_onnx(model, 'xavier')
    assert report.subgraphs == (('a', 'b', 'c', 'd'),) and report.transitions == 0


# --- Folded nodes -------------------------------------------------------------------------


def test_constants_identity_dropout_and_shape_arithmetic_are_folded() -> None:
    nodes = [
        helper.make_node('Constant', [], ['two'], name='two',
                         value=numpy_helper.from_array(np.array([2.0], np.float32))),
        node('Identity', ['x'], 'xi'),
        node('Dropout', ['xi'], 'xd'),
        node('Shape', ['xd'], 'shape'),
        node('Gather', ['shape', 'zero'], 'batch', axis=0),
        node('Unsqueeze', ['batch', 'axes'], 'batch1'),
        node('Concat', ['batch1', 'rest'], 'target', axis=0),
        node('Reshape', ['xd', 'target'], 'r'),
        node('Mul', ['r', 'two'], 'y'),
    ]
    consts = {'zero': np.array(0), 'axes': np.array([0]), 'rest': np.array([8, 16, 1])}
    report = analyze_onnx(graph(nodes, {'x': X}, consts), 'orin')
    assert report.folded == ('two', 'xi', 'xd', 'shape', 'batch', 'batch1', 'target')
    assert devices(report) == {'r': 'DLA', 'y': 'DLA'}
    assert report.all_on_dla


# --- The report ---------------------------------------------------------------------------


def test_report_summary_json_and_placement(resnet50: Any) -> None:
    report = analyze_onnx(resnet50, 'xavier', name='resnet50.onnx')
    assert report.summary() == ('xavier: 175 of 176 layers on the DLA in 1 subgraph; 1 on the '
                                'GPU: prob (Softmax); 1 GPU<->DLA transition')
    data = json.loads(json.dumps(report.to_dict()))
    assert data['platform'] == 'xavier' and data['model'] == 'resnet50.onnx'
    assert data['summary'] == {'dla_layers': 175, 'gpu_layers': 1, 'dla_subgraphs': 1,
                               'transitions': 1}
    assert data['layers'][0] == {'name': 'conv1', 'op': 'Conv', 'device': 'DLA',
                                 'reasons': [], 'hints': []}
    assert data['layers'][-1]['name'] == 'prob' and data['layers'][-1]['device'] == 'GPU'
    placement = report.to_placement()
    assert isinstance(placement, LayerPlacement)
    assert placement.counts() == {'DLA': 175, 'GPU': 1}
    assert placement.fallen_back == ('prob',)


def test_summary_when_everything_or_nothing_fits() -> None:
    model = graph([node('Relu', ['x'], 'a')], {'x': X})
    assert analyze_onnx(model, 'orin').summary() == 'orin: all 1 layers on the DLA in 1 subgraph'
    assert analyze_onnx(model, 'orin', precision='fp32').summary() == (
        'orin: no layer on the DLA, all 1 on the GPU (precision fp32: the DLA runs FP16 and '
        'INT8 only)')


def test_effective_batch_is_the_product_of_all_dims_but_chw() -> None:
    model = graph([node('Relu', ['x'], 'a')], {'x': (2, 3, 4, 5, 6)})
    assert analyze_onnx(model, 'orin').batch == 6


def test_unnamed_nodes_get_unique_names() -> None:
    nodes = [helper.make_node('Relu', ['x'], ['a']), helper.make_node('Relu', ['a'], ['b'])]
    report = analyze_onnx(graph(nodes, {'x': X}), 'orin')
    assert [layer.name for layer in report.layers] == ['Relu_0', 'Relu_1']


def test_model_in_memory_is_left_unchanged() -> None:
    model = graph([node('Relu', ['x'], 'a')], {'x': ('N', 8, 4, 4)})
    before = model.SerializeToString()
    analyze_onnx(model, 'orin', batch=4)
    assert model.SerializeToString() == before


# --- Files and errors ---------------------------------------------------------------------


def test_analyze_model_reads_a_file_without_its_external_weights(tmp_path: Any) -> None:
    model = zoo.build('lenet', weights='random')
    path = str(tmp_path / 'lenet.onnx')
    onnx.save(model, path, save_as_external_data=True, location='lenet.weights',
              size_threshold=1024)
    os.remove(str(tmp_path / 'lenet.weights'))  # the analyzer never needs the weights
    report = analyze_model(path, 'xavier')
    assert report.predicted_gpu_layers == ('prob',) and report.model == path


@pytest.mark.parametrize('content, message', [
    (None, 'no such file'),
    (b'this is not a model\n', 'not a readable ONNX model (DecodeError'),
    (b'', 'not an ONNX model (no graph nodes found)'),
    (bytes(range(256)) * 8, 'not a readable ONNX model'),
])
def test_bad_files_raise_one_clear_error(tmp_path: Any, content: Any, message: str) -> None:
    path = str(tmp_path / 'model.onnx')
    if content is not None:
        with open(path, 'wb') as f:
            f.write(content)
    with pytest.raises(DlaInferError, match=re.escape(message)):
        analyze_model(path, 'orin')


def test_a_directory_is_not_a_model(tmp_path: Any) -> None:
    with pytest.raises(DlaInferError, match='is a directory'):
        analyze_model(str(tmp_path), 'orin')


def test_options_are_checked() -> None:
    model = graph([node('Relu', ['x'], 'a')], {'x': X})
    with pytest.raises(DlaInferError, match="platform='nano'"):
        analyze_onnx(model, 'nano')
    with pytest.raises(DlaInferError, match="precision='tf32'"):
        analyze_onnx(model, 'orin', precision='tf32')
    with pytest.raises(DlaInferError, match='batch=0 requested'):
        analyze_onnx(model, 'orin', batch=0)


DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             'dla_infer_ros', 'models', 'efficientnet_lite0.onnx')


@pytest.mark.skipif(not os.path.exists(DEFAULT_MODEL),
                    reason='the embedded EfficientNet-Lite0 is not in this checkout')
@pytest.mark.parametrize('platform', ['xavier', 'orin'])
def test_embedded_efficientnet_lite0_loses_only_its_global_pooling(platform: str) -> None:
    report = analyze_model(DEFAULT_MODEL, platform)
    assert [layer.op for layer in report.gpu_layers] == ['GlobalAveragePool']
    assert report.counts()['dla_subgraphs'] == 2 and report.transitions == 2
    assert 'AveragePool kernel_shape=[7, 7]' in report.gpu_layers[0].hints[0]
    # Following the hint puts the whole network on the DLA.
    model = onnx.load(DEFAULT_MODEL)
    for graph_node in model.graph.node:
        if graph_node.op_type == 'GlobalAveragePool':
            graph_node.op_type = 'AveragePool'
            graph_node.attribute.extend([helper.make_attribute('kernel_shape', [7, 7])])
    assert analyze_onnx(model, platform).all_on_dla
