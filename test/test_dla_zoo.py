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

"""The seed model zoo: Caffe shapes, layer counts, names, weights and files."""

import collections
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from dla_infer_ros.dla import zoo
from dla_infer_ros.errors import DlaInferError

onnx = pytest.importorskip('onnx', reason='onnx is not installed (tools/bootstrap.sh installs it)')
DATA = Path(__file__).resolve().parent / 'data'


def op_counts(model: Any) -> Dict[str, int]:
    return dict(collections.Counter(node.op_type for node in model.graph.node))


def io_shapes(model: Any) -> List[List[int]]:
    """:return: [input shape, output shape] after ONNX shape inference (checks the graph)."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    del light.graph.initializer[:]  # keep the weights' shapes only: inference stays fast
    light.graph.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims)
                             for t in model.graph.initializer)
    inferred = onnx.shape_inference.infer_shapes(light, strict_mode=True)
    values = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    output = values[model.graph.output[0].name]
    return [[d.dim_value for d in value.type.tensor_type.shape.dim]
            for value in (model.graph.input[0], output)]


@pytest.fixture(scope='module')
def models() -> Dict[str, Any]:
    return {name: zoo.build(name, weights='zeros') for name in zoo.MODELS}


@pytest.mark.parametrize('name, shapes', [
    ('lenet', [[1, 1, 28, 28], [1, 10]]),
    ('alexnet', [[1, 3, 227, 227], [1, 1000]]),
    ('alexnet_noprob', [[1, 3, 227, 227], [1, 1000]]),
    ('googlenet', [[1, 3, 224, 224], [1, 1000]]),
    ('resnet50', [[1, 3, 224, 224], [1, 1000]]),
])
def test_input_and_output_shapes(models: Dict[str, Any], name: str, shapes: List[Any]) -> None:
    assert io_shapes(models[name]) == shapes
    assert models[name].graph.input[0].name == 'data'


@pytest.mark.parametrize('name, counts', [
    ('lenet', {'Conv': 2, 'MaxPool': 2, 'Flatten': 1, 'Gemm': 2, 'Relu': 1, 'Softmax': 1}),
    ('alexnet', {'Conv': 5, 'Relu': 7, 'LRN': 2, 'MaxPool': 3, 'Flatten': 1, 'Gemm': 3,
                 'Softmax': 1}),
    ('alexnet_noprob', {'Conv': 5, 'Relu': 7, 'LRN': 2, 'MaxPool': 3, 'Flatten': 1, 'Gemm': 3}),
    ('googlenet', {'Conv': 57, 'Relu': 57, 'LRN': 2, 'MaxPool': 13, 'Concat': 9,
                   'AveragePool': 1, 'Flatten': 1, 'Gemm': 1, 'Softmax': 1}),
    ('resnet50', {'Conv': 53, 'BatchNormalization': 53, 'Relu': 49, 'Add': 16, 'MaxPool': 1,
                  'AveragePool': 1, 'Flatten': 1, 'Gemm': 1, 'Softmax': 1}),
])
def test_layer_counts(models: Dict[str, Any], name: str, counts: Dict[str, int]) -> None:
    assert op_counts(models[name]) == counts


def test_caffe_names_and_conventions(models: Dict[str, Any]) -> None:
    resnet = {node.name: node for node in models['resnet50'].graph.node}
    assert models['resnet50'].graph.output[0].name == 'prob'
    assert models['alexnet_noprob'].graph.output[0].name == 'fc8'
    pool5 = {a.name: onnx.helper.get_attribute_value(a) for a in resnet['pool5'].attribute}
    assert pool5['kernel_shape'] == [7, 7] and pool5['count_include_pad'] == 1
    assert list(resnet['res2a'].input) == ['bn2a_branch2c', 'bn2a_branch1']
    assert 'res5c_relu' in resnet and 'res3d_branch2b' in resnet
    googlenet = {node.name for node in models['googlenet'].graph.node}
    assert {'inception_3a/output', 'inception_5b/output', 'pool5/7x7_s1',
            'loss3/classifier'} <= googlenet


def test_parameter_counts_match_the_published_networks(models: Dict[str, Any]) -> None:
    def parameters(model: Any) -> int:
        return sum(int(np.prod(t.dims)) for t in model.graph.initializer
                   if not t.name.endswith(('_mean', '_var')))
    assert parameters(models['alexnet']) == 60_965_224  # BVLC AlexNet
    # torchvision's ResNet-50 has 25,557,032; Caffe's conv1 adds 64 biases
    assert parameters(models['resnet50']) == 25_557_032 + 64
    assert parameters(models['googlenet']) == 6_998_552  # BVLC GoogLeNet without aux heads


def test_random_weights_are_seeded_and_scaled() -> None:
    def arrays(model: Any) -> Dict[str, np.ndarray]:
        return {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    first, again = arrays(zoo.lenet(seed=3)), arrays(zoo.lenet(seed=3))
    other, zeros = arrays(zoo.lenet(seed=4)), arrays(zoo.lenet(weights='zeros'))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first['conv1_w'], other['conv1_w'])
    assert not zeros['conv1_w'].any()
    # He-normal: standard deviation sqrt(2 / fan_in), fan_in = 1 * 5 * 5 for conv1
    assert abs(float(first['conv2_w'].std()) - np.sqrt(2 / (20 * 25))) < 0.01


def test_random_resnet50_stays_in_fp16_range_on_a_photo() -> None:
    """Trained weights keep activations near unit scale; FP16 and INT8 builds need it too."""
    ort = pytest.importorskip('onnxruntime', reason='onnxruntime is not installed')
    cv2 = pytest.importorskip('cv2')
    model = zoo.resnet50(weights='random')
    watched = ['bn_conv1', 'res2c_relu', 'res3d_relu', 'res4f_relu', 'res5c_relu', 'fc1000']
    model.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                 None) for name in watched)
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=['CPUExecutionProvider'])
    image = cv2.resize(cv2.imread(str(DATA / 'coffee_cup.jpg')), (224, 224))
    data = (image.astype(np.float32) - np.float32([104, 117, 123])).transpose(2, 0, 1)[None]
    for name, value in zip(watched, session.run(watched, {'data': data})):
        rms = float(np.sqrt(np.mean(np.square(value))))
        assert 0.3 < rms < 4.0 and float(np.abs(value).max()) < 100.0, name
    [prob] = session.run(['prob'], {'data': data})
    assert 0.005 < float(prob.max()) < 0.5  # neither one-hot nor flat: top-5 is meaningful


def test_batch_and_fc_as_conv() -> None:
    model = zoo.build('alexnet_noprob', batch=4, weights='zeros', fc_as_conv=True)
    assert io_shapes(model) == [[4, 3, 227, 227], [4, 1000, 1, 1]]
    assert 'Gemm' not in op_counts(model) and op_counts(model)['Conv'] == 8


def test_lenet_runs_and_its_softmax_sums_to_one() -> None:
    reference = pytest.importorskip('onnx.reference', reason='onnx.reference is not available')
    model = zoo.lenet(seed=1)
    onnx.checker.check_model(model)
    image = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    (prob,) = reference.ReferenceEvaluator(model).run(None, {'data': image})
    assert prob.shape == (1, 10) and abs(float(prob.sum()) - 1.0) < 1e-5


def test_write_saves_a_loadable_model(tmp_path: Any) -> None:
    path = zoo.write('googlenet', str(tmp_path / 'zoo'), weights='zeros')
    assert path == str(tmp_path / 'zoo' / 'googlenet.onnx')
    onnx.checker.check_model(path)


@pytest.mark.parametrize('name, order, shape', [
    ('lenet', 'GRAY', (1, 28, 28)), ('alexnet', 'BGR', (3, 227, 227))])
def test_write_adds_a_contract_the_classifier_uses(tmp_path: Any, name: str, order: str,
                                                   shape: Any) -> None:
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed')
    from dla_infer_ros.classifier import Classifier
    from dla_infer_ros.model_contract import resolve_model
    contract = resolve_model(zoo.write(name, str(tmp_path), weights='random'))
    spec = contract.input_contract
    assert (spec.name, spec.channel_order, (spec.channels, spec.height, spec.width)) == (
        'data', order, shape)
    assert (contract.output_name, contract.output_kind) == ('prob', 'probabilities')
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    with Classifier(contract, 'onnxruntime', top_k=3) as classifier:
        results = classifier.classify([image], 'BGR')[0]
    assert len(results) == 3 and results[0][2] >= results[1][2] >= results[2][2]


def test_bad_requests_are_refused(tmp_path: Any) -> None:
    with pytest.raises(DlaInferError, match="model 'vgg16' requested; the zoo has lenet"):
        zoo.build('vgg16')
    with pytest.raises(DlaInferError, match="weights='ones' requested"):
        zoo.build('lenet', weights='ones')
    with pytest.raises(DlaInferError, match='batch=0 requested'):
        zoo.build('lenet', batch=0)
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(DlaInferError, match='cannot write'):
        zoo.write('lenet', str(blocker / 'sub'))
