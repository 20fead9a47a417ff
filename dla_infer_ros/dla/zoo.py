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
The seed model zoo: LeNet, AlexNet, GoogLeNet and ResNet-50 as ONNX, built with onnx.helper.

Shapes and layer names follow the Caffe deploy models of the Xavier field report: MNIST
LeNet (1x28x28), BVLC AlexNet (3x227x227, LRN, fully connected fc6-fc8), BVLC GoogLeNet
(3x224x224, inception modules joined by channel Concat, 7x7 average pool) and Kaiming He's
ResNet-50 (3x224x224, 7x7 average pool "pool5", fc1000, Softmax "prob"). The input is
``data``, the output ``prob`` (``fc8`` for AlexNet without its Softmax).

Caffe conventions kept: pooling rounds the output size up (``ceil_mode=1``), average pooling
counts the padding (``count_include_pad=1``), InnerProduct is Flatten + Gemm with
``transB=1`` (or, with ``fc_as_conv``, a convolution over the whole feature map, the form
that keeps a head off the GPU), BatchNorm + Scale is one BatchNormalization, Dropout is
left out as at inference. Weights are He-normal random numbers from a fixed seed, or
zeros: the structure is what the DLA analyzer and the benchmarks need. Full-size weights
are large (AlexNet about 233 MiB, ResNet-50 about 98 MiB in float32).
"""

import json
import math
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.errors import DlaInferError

MODELS = ('lenet', 'alexnet', 'alexnet_noprob', 'googlenet', 'resnet50')
WEIGHTS = ('random', 'zeros')
OPSET = 13


def _pooled(size: int, kernel: int, stride: int, pad: int, ceil: bool) -> int:
    span = size + 2 * pad - kernel
    return (math.ceil(span / stride) if ceil else span // stride) + 1


class _Net:
    """Appends Caffe-style layers to an ONNX graph, tracking every tensor's shape."""

    def __init__(self, name: str, input_shape: Tuple[int, int, int], batch: int,
                 weights: str, seed: int) -> None:
        if weights not in WEIGHTS:
            raise DlaInferError(f'weights={weights!r} requested; choose one of '
                                f'{", ".join(WEIGHTS)}')
        if batch < 1:
            raise DlaInferError(f'batch={batch} requested; the batch size must be >= 1')
        self.onnx = require('onnx', 'building the seed model zoo')
        self.name, self.batch, self.weights = name, batch, weights
        self.rng = np.random.default_rng(seed)
        self.nodes: List[Any] = []
        self.initializers: List[Tuple[str, np.ndarray]] = []
        #: (C, H, W) of a feature map, (features,) after a fully connected layer
        self.shapes: Dict[str, Tuple[int, ...]] = {'data': input_shape}

    def param(self, name: str, shape: Sequence[int], fan_in: int = 0, fill: float = 0.0) -> str:
        """Add a float32 initializer: He-normal when ``fan_in`` is given and weights random."""
        if fan_in and self.weights == 'random':
            scale = np.float32(math.sqrt(2.0 / fan_in))
            array = self.rng.standard_normal(tuple(shape), dtype=np.float32) * scale
        else:
            array = np.full(tuple(shape), fill, dtype=np.float32)
        self.initializers.append((name, array))
        return name

    def node(self, op: str, inputs: Sequence[str], output: str, shape: Tuple[int, ...],
             **attrs: Any) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], name=output,
                                                     **attrs))
        self.shapes[output] = shape
        return output

    def conv(self, x: str, name: str, out: int, kernel: int, stride: int = 1, pad: int = 0,
             group: int = 1, bias: bool = True) -> str:
        channels, height, width = self.shapes[x]
        fan_in = channels // group * kernel * kernel
        inputs = [x, self.param(f'{name}_w', (out, channels // group, kernel, kernel), fan_in)]
        if bias:
            inputs.append(self.param(f'{name}_b', (out,)))
        shape = (out, _pooled(height, kernel, stride, pad, False),
                 _pooled(width, kernel, stride, pad, False))
        return self.node('Conv', inputs, name, shape, kernel_shape=[kernel, kernel],
                         strides=[stride, stride], pads=[pad] * 4, group=group)

    def batchnorm(self, x: str, name: str, scale: float = 1.0, var: float = 1.0) -> str:
        """Add Caffe's BatchNorm + Scale: ``scale``, zero bias and mean, variance ``var``."""
        channels = self.shapes[x][0]
        params = [self.param(f'{name}_{p}', (channels,), fill=f)
                  for p, f in (('scale', scale), ('bias', 0.0), ('mean', 0.0), ('var', var))]
        return self.node('BatchNormalization', [x] + params, name, self.shapes[x], epsilon=1e-5)

    def relu(self, x: str, name: str) -> str:
        return self.node('Relu', [x], name, self.shapes[x])

    def pool(self, x: str, name: str, kind: str, kernel: int, stride: int, pad: int = 0) -> str:
        channels, height, width = self.shapes[x]
        shape = (channels, _pooled(height, kernel, stride, pad, True),
                 _pooled(width, kernel, stride, pad, True))
        attrs: Dict[str, Any] = {'kernel_shape': [kernel, kernel], 'strides': [stride, stride],
                                 'pads': [pad] * 4, 'ceil_mode': 1}
        if kind == 'AveragePool':
            attrs['count_include_pad'] = 1
        return self.node(kind, [x], name, shape, **attrs)

    def lrn(self, x: str, name: str) -> str:
        return self.node('LRN', [x], name, self.shapes[x], size=5, alpha=1e-4, beta=0.75,
                         bias=1.0)

    def concat(self, inputs: Sequence[str], name: str) -> str:
        _, height, width = self.shapes[inputs[0]]
        channels = sum(self.shapes[x][0] for x in inputs)
        return self.node('Concat', inputs, name, (channels, height, width), axis=1)

    def add(self, a: str, b: str, name: str) -> str:
        return self.node('Add', [a, b], name, self.shapes[a])

    def fully_connected(self, x: str, name: str, out: int, as_conv: bool) -> str:
        """Caffe InnerProduct: Flatten + Gemm, or a convolution over the whole feature map."""
        shape = self.shapes[x]
        if as_conv:
            return self.conv(x, name, out, shape[1]) if len(shape) == 3 else x
        features = int(np.prod(shape))
        if len(shape) == 3:
            x = self.node('Flatten', [x], f'{name}_flatten', (features,), axis=1)
        weights = self.param(f'{name}_w', (out, features), fan_in=features)
        return self.node('Gemm', [x, weights, self.param(f'{name}_b', (out,))], name, (out,),
                         transB=1)

    def softmax(self, x: str, name: str = 'prob') -> str:
        return self.node('Softmax', [x], name, self.shapes[x], axis=1)

    def model(self, output: str) -> Any:
        helper, proto = self.onnx.helper, self.onnx.TensorProto
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info('data', proto.FLOAT,
                                           [self.batch, *self.shapes['data']])],
            [helper.make_tensor_value_info(output, proto.FLOAT,
                                           [self.batch, *self.shapes[output]])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                                  producer_name='dla_infer_ros.dla.zoo')
        model.ir_version = 8
        for name, array in self.initializers:  # in place: weights are copied once
            tensor = model.graph.initializer.add()
            tensor.name, tensor.data_type = name, proto.FLOAT
            tensor.dims.extend(array.shape)
            tensor.raw_data = array.tobytes()
        return model


def _fc_head(net: _Net, x: str, layers: Sequence[Tuple[str, int, str]],
             as_conv: bool) -> str:
    """Fully connected layers ``(name, outputs, name of the ReLU after it or '')``."""
    for name, out, relu in layers:
        x = net.fully_connected(x, name, out, as_conv)
        if relu:
            x = net.relu(x, relu)
    return x


def lenet(batch: int = 1, weights: str = 'random', seed: int = 0,
          fc_as_conv: bool = False) -> Any:
    """:return: Caffe's MNIST LeNet (1x28x28 -> prob[10]) as an ONNX ModelProto."""
    net = _Net('lenet', (1, 28, 28), batch, weights, seed)
    x = net.pool(net.conv('data', 'conv1', 20, 5), 'pool1', 'MaxPool', 2, 2)
    x = net.pool(net.conv(x, 'conv2', 50, 5), 'pool2', 'MaxPool', 2, 2)
    x = _fc_head(net, x, (('ip1', 500, 'relu1'), ('ip2', 10, '')), fc_as_conv)
    return net.model(net.softmax(x))


def alexnet(batch: int = 1, weights: str = 'random', seed: int = 0, fc_as_conv: bool = False,
            softmax: bool = True) -> Any:
    """:return: BVLC AlexNet (3x227x227 -> prob[1000], or fc8 without the Softmax)."""
    net = _Net('alexnet' if softmax else 'alexnet_noprob', (3, 227, 227), batch, weights, seed)
    x = net.lrn(net.relu(net.conv('data', 'conv1', 96, 11, stride=4), 'relu1'), 'norm1')
    x = net.pool(x, 'pool1', 'MaxPool', 3, 2)
    x = net.lrn(net.relu(net.conv(x, 'conv2', 256, 5, pad=2, group=2), 'relu2'), 'norm2')
    x = net.pool(x, 'pool2', 'MaxPool', 3, 2)
    x = net.relu(net.conv(x, 'conv3', 384, 3, pad=1), 'relu3')
    x = net.relu(net.conv(x, 'conv4', 384, 3, pad=1, group=2), 'relu4')
    x = net.relu(net.conv(x, 'conv5', 256, 3, pad=1, group=2), 'relu5')
    x = net.pool(x, 'pool5', 'MaxPool', 3, 2)
    x = _fc_head(net, x, (('fc6', 4096, 'relu6'), ('fc7', 4096, 'relu7'), ('fc8', 1000, '')),
                 fc_as_conv)
    return net.model(net.softmax(x) if softmax else x)


# BVLC GoogLeNet inception widths: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection.
_INCEPTION = {
    '3a': (64, 96, 128, 16, 32, 32), '3b': (128, 128, 192, 32, 96, 64),
    '4a': (192, 96, 208, 16, 48, 64), '4b': (160, 112, 224, 24, 64, 64),
    '4c': (128, 128, 256, 24, 64, 64), '4d': (112, 144, 288, 32, 64, 64),
    '4e': (256, 160, 320, 32, 128, 128), '5a': (256, 160, 320, 32, 128, 128),
    '5b': (384, 192, 384, 48, 128, 128),
}


def _inception(net: _Net, x: str, name: str) -> str:
    w1, w3r, w3, w5r, w5, wp = _INCEPTION[name]
    prefix = f'inception_{name}'

    def conv_relu(source: str, branch: str, out: int, kernel: int) -> str:
        conv = net.conv(source, f'{prefix}/{branch}', out, kernel, pad=kernel // 2)
        return net.relu(conv, f'{prefix}/relu_{branch}')

    branches = [conv_relu(x, '1x1', w1, 1),
                conv_relu(conv_relu(x, '3x3_reduce', w3r, 1), '3x3', w3, 3),
                conv_relu(conv_relu(x, '5x5_reduce', w5r, 1), '5x5', w5, 5),
                conv_relu(net.pool(x, f'{prefix}/pool', 'MaxPool', 3, 1, pad=1), 'pool_proj',
                          wp, 1)]
    return net.concat(branches, f'{prefix}/output')


def googlenet(batch: int = 1, weights: str = 'random', seed: int = 0,
              fc_as_conv: bool = False) -> Any:
    """:return: BVLC GoogLeNet (3x224x224 -> prob[1000]) as an ONNX ModelProto."""
    net = _Net('googlenet', (3, 224, 224), batch, weights, seed)
    x = net.relu(net.conv('data', 'conv1/7x7_s2', 64, 7, stride=2, pad=3), 'conv1/relu_7x7')
    x = net.lrn(net.pool(x, 'pool1/3x3_s2', 'MaxPool', 3, 2), 'pool1/norm1')
    x = net.relu(net.conv(x, 'conv2/3x3_reduce', 64, 1), 'conv2/relu_3x3_reduce')
    x = net.lrn(net.relu(net.conv(x, 'conv2/3x3', 192, 3, pad=1), 'conv2/relu_3x3'),
                'conv2/norm2')
    x = net.pool(x, 'pool2/3x3_s2', 'MaxPool', 3, 2)
    for stage in ('3a', '3b', 'pool3', '4a', '4b', '4c', '4d', '4e', 'pool4', '5a', '5b'):
        if stage.startswith('pool'):
            x = net.pool(x, f'{stage}/3x3_s2', 'MaxPool', 3, 2)
        else:
            x = _inception(net, x, stage)
    x = net.pool(x, 'pool5/7x7_s1', 'AveragePool', 7, 1)
    x = net.fully_connected(x, 'loss3/classifier', 1000, fc_as_conv)
    return net.model(net.softmax(x))


#: The batch-norm statistics of the random ResNet-50, chosen so that activations stay near
#: unit scale from a photo's first layer to the logits, as trained weights keep them: He-normal
#: weights with unit batch norms double the activations' variance at every residual addition
#: (2^16 over the 16 blocks), past FP16's range (65504) by res4e. conv1 sees mean-subtracted
#: pixels (about 64 in RMS); a projection shortcut (no ReLU after it) halves He's gain of 2;
#: the residual branch enters the sum at 0.3 of the shortcut's scale.
_RESNET_CONV1_VAR = 64.0 ** 2
_RESNET_SHORTCUT_VAR = 2.0
_RESNET_BRANCH_SCALE = 0.3


def _bottleneck(net: _Net, x: str, name: str, mid: int, out: int, stride: int) -> str:
    """One ResNet-50 block (Caffe names: res2a_branch2a, bn2a_branch2a, res2a, ...)."""
    def conv_bn(source: str, branch: str, width: int, kernel: int, step: int,
                **statistics: float) -> str:
        conv = net.conv(source, f'res{name}_{branch}', width, kernel, stride=step,
                        pad=kernel // 2, bias=False)
        return net.batchnorm(conv, f'bn{name}_{branch}', **statistics)

    shortcut = x
    if net.shapes[x][0] != out or stride != 1:
        shortcut = conv_bn(x, 'branch1', out, 1, stride, var=_RESNET_SHORTCUT_VAR)
    y = net.relu(conv_bn(x, 'branch2a', mid, 1, stride), f'res{name}_branch2a_relu')
    y = net.relu(conv_bn(y, 'branch2b', mid, 3, 1), f'res{name}_branch2b_relu')
    y = conv_bn(y, 'branch2c', out, 1, 1, scale=_RESNET_BRANCH_SCALE)
    return net.relu(net.add(y, shortcut, f'res{name}'), f'res{name}_relu')


def resnet50(batch: int = 1, weights: str = 'random', seed: int = 0,
             fc_as_conv: bool = False) -> Any:
    """:return: ResNet-50 (3x224x224 -> pool5 7x7 average -> fc1000 -> prob[1000])."""
    net = _Net('resnet50', (3, 224, 224), batch, weights, seed)
    x = net.batchnorm(net.conv('data', 'conv1', 64, 7, stride=2, pad=3), 'bn_conv1',
                      var=_RESNET_CONV1_VAR)
    x = net.pool(net.relu(x, 'conv1_relu'), 'pool1', 'MaxPool', 3, 2)
    for stage, blocks, mid in ((2, 3, 64), (3, 4, 128), (4, 6, 256), (5, 3, 512)):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 2 else 1
            x = _bottleneck(net, x, f'{stage}{"abcdef"[block]}', mid, 4 * mid, stride)
    x = net.pool(x, 'pool5', 'AveragePool', 7, 1)
    x = net.fully_connected(x, 'fc1000', 1000, fc_as_conv)
    return net.model(net.softmax(x))


def _alexnet_noprob(batch: int = 1, weights: str = 'random', seed: int = 0,
                    fc_as_conv: bool = False) -> Any:
    return alexnet(batch, weights, seed, fc_as_conv, softmax=False)


BUILDERS: Dict[str, Callable[..., Any]] = {
    'lenet': lenet, 'alexnet': alexnet, 'alexnet_noprob': _alexnet_noprob,
    'googlenet': googlenet, 'resnet50': resnet50,
}


def build(name: str, batch: int = 1, weights: str = 'random', seed: int = 0,
          fc_as_conv: bool = False) -> Any:
    """
    Build one seed model.

    :param name: one of :data:`MODELS`.
    :param batch: the static batch size of ``data``.
    :param weights: ``'random'`` (He-normal from ``seed``) or ``'zeros'``.
    :param fc_as_conv: express the fully connected layers as convolutions.
    :return: the ``onnx.ModelProto``.
    :raises DlaInferError: an unknown name or option.
    """
    if name not in BUILDERS:
        raise DlaInferError(f'model {name!r} requested; the zoo has {", ".join(MODELS)}')
    return BUILDERS[name](batch=batch, weights=weights, seed=seed, fc_as_conv=fc_as_conv)


def contract(name: str, model: Any) -> Dict[str, Any]:
    """
    Describe a seed model's input as Caffe fed it: BGR, mean-subtracted, unscaled.

    The weights are random, so the classes have no labels; the contract lets
    ``dla_bench`` and ``classify_image`` feed it images and compare devices.

    :return: the contract (``dla_infer_ros/model-contract-1``) as a dict.
    """
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    channels = dims[1]
    gray = channels == 1  # LeNet read MNIST digits scaled to 0..1
    return {
        'format': 'dla_infer_ros/model-contract-1', 'name': name, 'model': f'{name}.onnx',
        'input': {'name': 'data', 'layout': 'NCHW', 'channels': channels,
                  'height': dims[2], 'width': dims[3], 'dtype': 'float32',
                  'channel_order': 'GRAY' if gray else 'BGR', 'resize': 'stretch',
                  'crop_fraction': 1.0, 'interpolation': 'linear',
                  'scale': 1.0 / 256.0 if gray else 1.0,
                  'mean': [0.0] if gray else [104.0, 117.0, 123.0],
                  'std': [1.0] * channels},
        'output': {'name': model.graph.output[0].name,
                   'kind': 'probabilities' if model.graph.output[0].name == 'prob'
                   else 'logits'},
        'source': 'dla_zoo: Caffe shapes and names, random weights (no trained classes)'}


def write(name: str, folder: str, **options: Any) -> str:
    """
    Build a seed model; save it as ``<folder>/<name>.onnx`` with its contract ``<name>.json``.

    :param options: as for :func:`build`.
    :return: the path of the model written.
    :raises DlaInferError: when the folder cannot be written.
    """
    onnx = require('onnx', 'writing the seed model zoo')
    model = build(name, **options)
    path = os.path.join(folder, f'{name}.onnx')
    try:
        os.makedirs(folder, exist_ok=True)
        onnx.save(model, path)
        with open(os.path.join(folder, f'{name}.json'), 'w', encoding='utf-8') as f:
            json.dump(contract(name, model), f, indent=1)
    except OSError as e:
        raise DlaInferError(f'cannot write {path}: {e}') from e
    return path
