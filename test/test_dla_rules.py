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

"""One passing and one violating ONNX graph for every DLA rule, on Xavier and Orin."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest

from dla_infer_ros.dla import analyze_onnx, get_platform, LayerVerdict
from dla_infer_ros.dla.rules import check_node, NodeView, ORIN, rewrite_hints
from dla_infer_ros.errors import DlaInferError

onnx = pytest.importorskip('onnx', reason='onnx is not installed (tools/bootstrap.sh installs it)')
helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto

F32 = np.float32


def graph(nodes: Sequence[Any], inputs: Dict[str, Sequence[Any]],
          consts: Optional[Dict[str, Any]] = None, opset: int = 13,
          dtype: int = TensorProto.FLOAT) -> Any:
    """:return: a model of ``nodes`` with graph inputs, constant initializers, last output."""
    initializers = [numpy_helper.from_array(np.asarray(v), k) for k, v in (consts or {}).items()]
    model_graph = helper.make_graph(
        list(nodes), 'rule',
        [helper.make_tensor_value_info(name, dtype, list(shape))
         for name, shape in inputs.items()],
        # The output's type is left to shape inference: Equal gives bool, ArgMax int64, and
        # onnx < 1.16 refuses a declared type that differs from the inferred one.
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.UNDEFINED, None)],
        initializers)
    return helper.make_model(model_graph, opset_imports=[helper.make_opsetid('', opset)])


def op(op_type: str, shape: Sequence[int], consts: Optional[Dict[str, Any]] = None,
       names: Optional[Sequence[str]] = None, opset: int = 13,
       outputs: Sequence[str] = ('y',), **attrs: Any) -> Any:
    """:return: a one-node model ``y = op_type(x, *consts)`` with the node named 'n'."""
    consts = consts or {}
    inputs = list(names) if names is not None else ['x', *consts]
    node = helper.make_node(op_type, inputs, list(outputs), name='n', **attrs)
    return graph([node], {'x': shape}, consts, opset)


def place(model: Any, platform: str = 'orin', name: str = 'n', **options: Any) -> LayerVerdict:
    """:return: the verdict for layer ``name``."""
    layers = {layer.name: layer for layer in analyze_onnx(model, platform, **options).layers}
    return layers[name]


def weights(out: int, channels: int, kernel: Any) -> np.ndarray:
    kernel = tuple(kernel) if isinstance(kernel, (tuple, list)) else (kernel, kernel)
    return np.zeros((out, channels) + kernel, F32)


def two_inputs(op_type: str, shape: Sequence[int] = (1, 8, 4, 4)) -> Any:
    node = helper.make_node(op_type, ['x', 'z'], ['y'], name='n')
    return graph([node], {'x': shape, 'z': shape})


def resize(scales: Sequence[float], opset: int = 13, shape: Sequence[int] = (1, 2, 4, 4),
           **attrs: Any) -> Any:
    return op('Resize', shape, {'s': np.asarray(scales, F32)}, names=['x', '', 's'],
              opset=opset, **attrs)


def slice_(shape: Sequence[int], axis: int, step: int = 1) -> Any:
    consts = {'st': np.array([0]), 'en': np.array([2]), 'ax': np.array([axis]),
              'sp': np.array([step])}
    return op('Slice', shape, consts)


def flatten_gemm(shape: Sequence[int] = (1, 8, 2, 2)) -> Any:
    features = int(np.prod(shape[1:]))
    nodes = [helper.make_node('Flatten', ['x'], ['f'], name='flat', axis=1),
             helper.make_node('Gemm', ['f', 'w'], ['y'], name='n', transB=1)]
    return graph(nodes, {'x': shape}, {'w': np.zeros((10, features), F32)})


NEAREST = {'mode': 'nearest', 'coordinate_transformation_mode': 'asymmetric',
           'nearest_mode': 'floor'}
LINEAR = {'mode': 'linear', 'coordinate_transformation_mode': 'half_pixel'}
X = (1, 8, 16, 16)

Case = Tuple[str, str, Callable[[], Any], str, str, Dict[str, Any]]


def case(rule: str, platform: str, build: Callable[[], Any], device: str, reason: str = '',
         **options: Any) -> Case:
    """Describe a graph for ``rule``, the device it must land on and its expected reason."""
    return (rule, platform, build, device, reason, options)


def relu(shape: Sequence[Any] = X, dtype: int = TensorProto.FLOAT) -> Any:
    return graph([helper.make_node('Relu', ['x'], ['y'], name='n')], {'x': shape}, dtype=dtype)


def conv3x3() -> Any:
    return op('Conv', X, {'w': weights(4, 8, 3)}, pads=[1, 1, 1, 1])


def deconv(kernel: Any = 2, **attrs: Any) -> Any:
    return op('ConvTranspose', X, {'w': weights(8, 4, kernel)}, **attrs)


def gemm(outputs: int = 10, features: int = 64) -> Any:
    return op('Gemm', (1, features), {'w': np.zeros((outputs, features), F32)}, transB=1)


def clip(low: float, high: float) -> Any:
    return op('Clip', X, {'lo': F32(low), 'hi': F32(high)})


def reshape(platform_shape: Sequence[int] = (1, 16, 8, 16)) -> Any:
    return op('Reshape', X, {'s': np.array(platform_shape)})


PAD8 = np.array([0, 0, 1, 1, 0, 0, 1, 1])

# One passing (DLA) and one violating (GPU) graph per rule; the reason text is checked.
CASES: List[Case] = [
    # Convolution [NvI85] IConvolutionLayer
    case('conv kernel', 'xavier', conv3x3, 'DLA'),
    case('conv kernel', 'xavier', lambda: op('Conv', (1, 8, 40, 40), {'w': weights(4, 8, 33)}),
         'GPU', 'kernel 33x33 outside the DLA range [1, 32]'),
    case('conv stride', 'orin', lambda: op('Conv', X, {'w': weights(4, 8, 1)}, strides=[8, 8]),
         'DLA'),
    case('conv stride', 'orin', lambda: op('Conv', X, {'w': weights(4, 8, 1)}, strides=[9, 9]),
         'GPU', 'stride 9x9'),
    case('conv padding', 'orin',
         lambda: op('Conv', X, {'w': weights(4, 8, 3)}, auto_pad='SAME_UPPER'), 'DLA'),
    case('conv padding', 'orin', lambda: op('Conv', X, {'w': weights(4, 8, 3)}, pads=[3] * 4),
         'GPU', 'padding 3x3x3x3 not smaller than kernel 3x3'),
    case('conv padding', 'orin',
         lambda: op('Conv', (1, 8, 64, 64), {'w': weights(4, 8, 32)}, pads=[32] * 4), 'GPU',
         'padding 32x32x32x32 outside the DLA range [0, 31]'),
    case('conv dilation', 'orin',
         lambda: op('Conv', X, {'w': weights(4, 8, 3)}, dilations=[2, 2]), 'DLA'),
    case('conv dilation', 'orin',
         lambda: op('Conv', (1, 8, 40, 40), {'w': weights(4, 8, 2)}, dilations=[33, 33]),
         'GPU', 'dilation 33x33'),
    case('conv output maps', 'orin', lambda: op('Conv', X, {'w': weights(8192, 8, 1)}), 'DLA'),
    case('conv output maps', 'orin', lambda: op('Conv', X, {'w': weights(8193, 8, 1)}), 'GPU',
         'output maps 8193'),
    case('conv groups', 'xavier', lambda: op('Conv', X, {'w': weights(8, 1, 3)}, group=8),
         'DLA'),
    case('conv groups', 'orin',
         lambda: op('Conv', (1, 8193, 2, 2), {'w': weights(8193, 1, 1)}, group=8193), 'GPU',
         'groups 8193'),
    case('conv 2-D only', 'orin', conv3x3, 'DLA'),
    case('conv 2-D only', 'orin',
         lambda: op('Conv', (1, 2, 4, 4, 4), {'w': np.zeros((2, 2, 3, 3, 3), F32)}), 'GPU',
         '3-D convolution'),
    # Deconvolution [NvI85] IDeconvolutionLayer, [TRT84]
    case('deconv kernel', 'orin', lambda: deconv(2, strides=[2, 2]), 'DLA'),
    case('deconv kernel', 'orin', lambda: deconv((1, 64)), 'DLA'),
    case('deconv kernel', 'orin', lambda: deconv(33), 'GPU', 'deconvolution kernel 33x33'),
    case('deconv square 23-32', 'xavier', lambda: deconv(22), 'DLA'),
    case('deconv square 23-32', 'xavier', lambda: deconv(24), 'GPU',
         'square deconvolution kernel 24x24'),
    case('deconv padding', 'orin', lambda: deconv(3), 'DLA'),
    case('deconv padding', 'orin', lambda: deconv(3, pads=[1] * 4), 'GPU', 'padding is not 0'),
    case('deconv groups', 'orin', lambda: deconv(2), 'DLA'),
    case('deconv groups', 'orin', lambda: op('ConvTranspose', X, {'w': weights(8, 2, 2)},
                                             group=2), 'GPU', 'grouped deconvolution'),
    case('deconv dilation', 'orin', lambda: deconv(2), 'DLA'),
    case('deconv dilation', 'orin', lambda: deconv(2, dilations=[2, 2]), 'GPU',
         'dilated deconvolution'),
    # Pooling [NvI85] IPoolingLayer
    case('pool window', 'xavier', lambda: op('AveragePool', (1, 8, 7, 7), kernel_shape=[7, 7]),
         'DLA'),
    case('pool window', 'xavier', lambda: op('MaxPool', X, kernel_shape=[9, 9]), 'GPU',
         'window 9x9 outside the DLA range [1, 8]'),
    case('pool stride', 'orin', lambda: op('MaxPool', (1, 1, 40, 40), kernel_shape=[2, 2],
                                           strides=[16, 16]), 'DLA'),
    case('pool stride', 'orin', lambda: op('MaxPool', (1, 1, 40, 40), kernel_shape=[2, 2],
                                           strides=[17, 17]), 'GPU', 'stride 17x17'),
    case('pool padding', 'orin', lambda: op('MaxPool', X, kernel_shape=[8, 8], pads=[7] * 4),
         'DLA'),
    case('pool padding', 'orin',
         lambda: op('MaxPool', (1, 1, 32, 32), kernel_shape=[8, 8], pads=[8] * 4), 'GPU',
         'padding 8x8x8x8 outside the DLA range [0, 7]'),
    case('pool type', 'orin', lambda: op('MaxPool', X, kernel_shape=[2, 2]), 'DLA'),
    case('pool type', 'orin', lambda: op('LpPool', X, kernel_shape=[2, 2]), 'GPU',
         'MAX and AVERAGE only'),
    case('avg pool padding', 'xavier',
         lambda: op('AveragePool', X, kernel_shape=[3, 3], pads=[1] * 4, count_include_pad=1),
         'DLA'),
    case('avg pool padding', 'xavier',
         lambda: op('AveragePool', X, kernel_shape=[3, 3], pads=[1] * 4), 'GPU',
         'count_include_pad=0'),
    case('avg pool padding', 'orin',
         lambda: op('AveragePool', X, kernel_shape=[3, 3], pads=[1] * 4), 'DLA'),
    # Activations [TRT84]
    case('activation kind', 'xavier', lambda: op('Relu', X), 'DLA'),
    case('activation kind', 'xavier', lambda: op('Sigmoid', X), 'DLA'),
    case('activation kind', 'xavier', lambda: op('Tanh', X), 'DLA'),
    case('activation kind', 'xavier', lambda: op('LeakyRelu', X, alpha=0.1), 'DLA'),
    case('activation kind', 'orin', lambda: op('HardSwish', X, opset=14), 'GPU',
         'HardSwish is not a DLA activation'),
    case('activation kind', 'xavier', lambda: op('Elu', X), 'GPU', 'Elu is not a DLA activation'),
    case('clip bounds', 'xavier', lambda: clip(0, 6), 'DLA'),
    case('clip bounds', 'orin', lambda: op('Clip', X, opset=6, min=0.0, max=6.0), 'DLA'),
    case('clip bounds', 'orin', lambda: clip(-1, 1), 'GPU', 'Clip(-1, 1) is not a clipped ReLU'),
    case('clip bounds', 'orin', lambda: clip(0, 200), 'GPU', 'Clip(0, 200)'),
    case('prelu slope', 'orin', lambda: op('PRelu', X, {'s': np.zeros((8, 1, 1), F32)}), 'DLA'),
    case('prelu slope', 'orin',
         lambda: graph([helper.make_node('PRelu', ['x', 's'], ['y'], name='n')],
                       {'x': X, 's': (8, 1, 1)}), 'GPU', 'slope is not a build-time constant'),
    # ElementWise [NvI85] IElementWiseLayer
    case('elementwise op', 'xavier', lambda: two_inputs('Add'), 'DLA'),
    case('elementwise op', 'xavier', lambda: two_inputs('Sub'), 'DLA'),
    case('elementwise op', 'orin', lambda: two_inputs('Mul'), 'DLA'),
    case('elementwise op', 'orin', lambda: two_inputs('Max'), 'DLA'),
    case('elementwise op', 'orin', lambda: two_inputs('Min'), 'DLA'),
    case('elementwise op', 'orin', lambda: two_inputs('Div'), 'GPU',
         'Div is not a DLA ElementWise operation'),
    case('elementwise op', 'xavier', lambda: two_inputs('Pow'), 'GPU', 'Pow is not'),
    case('elementwise rank', 'orin', lambda: two_inputs('Add'), 'DLA'),
    case('elementwise rank', 'orin', lambda: two_inputs('Add', (1, 2, 2, 2, 2)), 'GPU',
         'rank-5 tensor'),
    # Scale
    case('batchnorm', 'xavier',
         lambda: op('BatchNormalization', X, {k: np.ones(8, F32) for k in 'sbmv'}), 'DLA'),
    case('batchnorm', 'orin',
         lambda: graph([helper.make_node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'],
                                         name='n')],
                       {'x': X, 'm': (8,)}, {k: np.ones(8, F32) for k in 'sbv'}), 'GPU',
         'parameters are not build-time constants'),
    # Concatenation [NvI85] IConcatenationLayer
    case('concat axis', 'xavier', lambda: graph(
        [helper.make_node('Concat', ['x', 'z'], ['y'], name='n', axis=1)], {'x': X, 'z': X}),
        'DLA'),
    case('concat axis', 'xavier', lambda: graph(
        [helper.make_node('Concat', ['x', 'z'], ['y'], name='n', axis=2)], {'x': X, 'z': X}),
        'GPU', 'concatenation on axis 2'),
    # LRN [NvI85] ILRNLayer
    case('lrn window', 'xavier', lambda: op('LRN', X, size=5), 'DLA'),
    case('lrn window', 'xavier', lambda: op('LRN', X, size=11), 'GPU', 'LRN size 11'),
    # Resize [PyDoc] IResizeLayer
    case('resize nearest scale', 'xavier', lambda: resize([1, 1, 2, 2], **NEAREST), 'DLA'),
    case('resize nearest scale', 'xavier', lambda: resize([1, 1, 33, 33], **NEAREST), 'GPU',
         'integer scales in [1, 32]'),
    case('resize linear scale', 'orin', lambda: resize([1, 1, 4, 4], **LINEAR), 'DLA'),
    case('resize linear scale', 'orin', lambda: resize([1, 1, 8, 8], **LINEAR), 'GPU',
         'integer scales in [1, 4]'),
    case('resize integer scale', 'orin', lambda: resize([1, 1, 2, 2], **NEAREST), 'DLA'),
    case('resize integer scale', 'orin', lambda: resize([1, 1, 1.5, 1.5], **NEAREST), 'GPU',
         'resize scales 1.5x1.5'),
    case('resize channels', 'orin', lambda: resize([1, 1, 2, 2], **NEAREST), 'DLA'),
    case('resize channels', 'orin', lambda: resize([1, 2, 1, 1], **NEAREST), 'GPU',
         'batch or channel axis'),
    case('resize mode', 'orin', lambda: resize([1, 1, 2, 2], **LINEAR), 'DLA'),
    case('resize mode', 'orin', lambda: resize([1, 1, 2, 2], mode='cubic'), 'GPU',
         'resize mode cubic'),
    case('resize coordinates', 'orin', lambda: resize([1, 1, 2, 2], mode='nearest'), 'DLA'),
    case('resize coordinates', 'orin', lambda: resize(
        [1, 1, 2, 2], mode='nearest', coordinate_transformation_mode='align_corners'), 'GPU',
        'nearest resize with align_corners'),
    # SoftMax [NvI85] ISoftMaxLayer
    case('softmax platform', 'xavier', lambda: op('Softmax', (1, 1000), axis=1), 'GPU',
         'SoftMax is not supported on the DLA of xavier'),
    case('softmax platform', 'orin', lambda: op('Softmax', (1, 1000), axis=1), 'DLA'),
    case('softmax axis', 'orin', lambda: op('Softmax', (2, 1000), axis=1), 'DLA'),
    case('softmax axis', 'orin', lambda: op('Softmax', (2, 1000), axis=0), 'GPU', 'batch axis'),
    case('softmax size', 'orin', lambda: op('Softmax', (1, 8000, 1, 1), axis=1), 'DLA'),
    case('softmax size', 'orin', lambda: op('Softmax', (1, 1024, 2, 2), axis=1), 'DLA'),
    case('softmax size', 'orin', lambda: op('Softmax', (1, 2000, 2, 2), axis=1), 'GPU',
         'softmax axis size 2000 outside the DLA range [1, 1024]'),
    case('softmax opset 11', 'orin', lambda: op('Softmax', (1, 10), axis=1, opset=11), 'DLA'),
    case('softmax opset 11', 'orin', lambda: op('Softmax', (1, 10, 4, 4), axis=1, opset=11),
         'GPU', 'jointly'),
    # Slice [NvI10] ISliceLayer
    case('slice steps', 'orin', lambda: slice_((1, 8, 4, 4), axis=1), 'DLA'),
    case('slice steps', 'orin', lambda: slice_((1, 8, 4, 4), axis=1, step=2), 'GPU',
         'slice steps 2'),
    case('slice batch axis', 'orin', lambda: slice_((4, 8, 4, 4), axis=1), 'DLA'),
    case('slice batch axis', 'orin', lambda: slice_((4, 8, 4, 4), axis=0), 'GPU', 'batch axis'),
    case('slice rank', 'xavier', lambda: slice_((1, 8, 4, 4), axis=1), 'DLA'),
    case('slice rank', 'orin', lambda: slice_((1, 8), axis=1), 'GPU', 'rank-2'),
    case('slice constants', 'orin', lambda: slice_((1, 8, 4, 4), axis=2), 'DLA'),
    case('slice constants', 'orin', lambda: graph(
        [helper.make_node('Slice', ['x', 'st', 'en'], ['y'], name='n')],
        {'x': (1, 8, 4, 4), 'st': (4,)}, {'en': np.array([1, 4, 4, 4])}), 'GPU',
        'not build-time constants'),
    case('slice precision', 'xavier', lambda: slice_((1, 8, 4, 4), axis=1), 'DLA',
         precision='fp16'),
    case('slice precision', 'xavier', lambda: slice_((1, 8, 4, 4), axis=1), 'GPU',
         'in FP16 only', precision='int8'),
    # Shuffle ([DLASWops] Reshape/Transpose on Orin; no Shuffle in the DLA v1 list)
    case('shuffle platform', 'orin', reshape, 'DLA'),
    case('shuffle platform', 'xavier', reshape, 'GPU', 'Shuffle layer'),
    case('shuffle batch axis', 'orin', lambda: op('Transpose', X, perm=[0, 1, 3, 2]), 'DLA'),
    case('shuffle batch axis', 'orin', lambda: op('Transpose', X, perm=[1, 0, 2, 3]), 'GPU',
         'batch axis takes part'),
    case('shuffle rank', 'orin', reshape, 'DLA'),
    case('shuffle rank', 'orin', lambda: op('Flatten', X, axis=1), 'GPU', 'output is rank 2'),
    # Fully connected ([DLASWops] Gemm/MatMul, [NvI85] IFullyConnectedLayer)
    case('fc output channels', 'xavier', gemm, 'DLA'),
    case('fc output channels', 'orin', lambda: gemm(8193, 4), 'GPU', 'output channels 8193'),
    case('fc constant weights', 'orin',
         lambda: op('MatMul', (1, 64), {'w': np.zeros((64, 10), F32)}), 'DLA'),
    case('fc constant weights', 'orin', lambda: graph(
        [helper.make_node('MatMul', ['x', 'w'], ['y'], name='n')], {'x': (1, 64), 'w': (64, 10)}),
        'GPU', 'second input (weights) is not a build-time constant'),
    case('fc rank', 'orin', gemm, 'DLA'),
    case('fc rank', 'orin', lambda: op('MatMul', (1, 5, 64), {'w': np.zeros((64, 10), F32)}),
         'GPU', 'batched matrix product'),
    # Unary [NvI10] IUnaryLayer
    case('unary', 'xavier', lambda: op('Abs', X), 'DLA'),
    case('unary', 'orin', lambda: op('Sqrt', X), 'GPU', 'the DLA runs ABS only'),
    case('unary', 'orin', lambda: op('Erf', X), 'GPU', 'the DLA runs ABS only'),
    # Reductions and global pooling ([DLASWops], [DLAtut]); the rewrite is a DLA pooling
    case('global pooling', 'orin', lambda: op('GlobalAveragePool', (1, 8, 7, 7)), 'GPU',
         'Reduce layer'),
    case('global pooling', 'xavier', lambda: op('ReduceMean', (1, 8, 7, 7), axes=[2, 3]), 'GPU',
         'Reduce layer'),
    case('global pooling', 'xavier', lambda: op('AveragePool', (1, 8, 7, 7),
                                                kernel_shape=[7, 7]), 'DLA'),
    # Equal ([TRTlay] comparison: INT8; an Orin feature)
    case('equal', 'orin', lambda: two_inputs('Equal'), 'DLA', precision='int8'),
    case('equal', 'orin', lambda: two_inputs('Equal'), 'GPU', 'INT8 only'),
    case('equal', 'xavier', lambda: two_inputs('Equal'), 'GPU', 'not supported on the DLA of x',
         precision='int8'),
    # Layers kept off the DLA, next to the form that runs there
    case('arg-max/top-k', 'orin', lambda: op('ArgMax', (1, 1000), axis=1), 'GPU',
         'no DLA implementation'),
    case('arg-max/top-k', 'orin',
         lambda: op('TopK', (1, 1000), {'k': np.array([5])}, outputs=('y', 'i')), 'GPU',
         'no DLA implementation'),
    case('arg-max/top-k', 'orin', gemm, 'DLA'),
    case('pad', 'orin', lambda: op('Pad', X, {'p': PAD8}), 'GPU', 'Pad has no DLA'),
    case('pad', 'orin', conv3x3, 'DLA'),
    case('explicit quantization', 'orin', lambda: op('QuantizeLinear', X, {'s': F32(0.1)}),
         'GPU', 'explicit quantization'),
    case('explicit quantization', 'orin', relu, 'DLA', precision='int8'),
    case('op list', 'orin', lambda: op('Gather', (1, 8), {'i': np.array([0])}), 'GPU',
         'not among the layers'),
    case('op list', 'orin', relu, 'DLA'),
    # General restrictions [TRTlay], [TRTbuild]
    case('non-batch dimension', 'orin', lambda: relu((1, 1, 1, 8192)), 'DLA'),
    case('non-batch dimension', 'orin', lambda: relu((1, 1, 1, 8193)), 'GPU',
         'dimension 8193 larger than the DLA limit 8192'),
    case('tensor type', 'orin', lambda: relu(dtype=TensorProto.FLOAT16), 'DLA'),
    case('tensor type', 'orin', lambda: relu(dtype=TensorProto.INT32), 'GPU', 'int32 output'),
    case('precision', 'xavier', relu, 'DLA', precision='fp16'),
    case('precision', 'orin', relu, 'DLA', precision='int8'),
    case('precision', 'orin', relu, 'GPU', 'precision fp32: the DLA runs FP16 and INT8 only',
         precision='fp32'),
    case('batch limit', 'xavier', lambda: relu(('N', 2, 1, 1)), 'DLA', batch=4096),
    case('batch limit', 'orin', lambda: relu(('N', 2, 1, 1)), 'GPU',
         'batch 4097 larger than the DLA limit 4096', batch=4097),
]


@pytest.mark.parametrize('rule, platform, build, device, reason, options', CASES,
                         ids=[f'{c[0]}-{c[1]}-{c[3]}' for c in CASES])
def test_rule(rule: str, platform: str, build: Callable[[], Any], device: str, reason: str,
              options: Dict[str, Any]) -> None:
    verdict = place(build(), platform, **options)
    assert verdict.device == device, verdict.reasons
    if device == 'DLA':
        assert verdict.reasons == ()
    else:
        assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_every_rule_has_a_passing_and_a_violating_graph() -> None:
    devices: Dict[str, set] = {}
    for rule, _, _, device, _, _ in CASES:
        devices.setdefault(rule, set()).add(device)
    assert {rule for rule, seen in devices.items() if seen != {'DLA', 'GPU'}} == set()
    assert len(devices) >= 40


# --- Rules that need options or more than one node ----------------------------------------


@pytest.mark.parametrize('platform', ['xavier', 'orin'])
def test_flatten_feeding_gemm_is_folded_into_the_fully_connected_layer(platform: str) -> None:
    report = analyze_onnx(flatten_gemm(), platform)
    assert [(layer.name, layer.device) for layer in report.layers] == [('flat', 'DLA'),
                                                                       ('n', 'DLA')]


def test_folded_flatten_lets_the_fully_connected_layer_see_a_wide_input() -> None:
    # AlexNet fc6: [1, 256, 6, 6] -> 9216 features, wider than the 8192 limit as a 2-D tensor.
    report = analyze_onnx(flatten_gemm((1, 256, 6, 6)), 'xavier')
    assert report.all_on_dla


def test_flatten_before_a_gpu_gemm_stays_on_the_gpu_with_the_head_hint() -> None:
    nodes = [helper.make_node('Flatten', ['x'], ['f'], name='flat', axis=1),
             helper.make_node('Gemm', ['f', 'w'], ['y'], name='n', transB=1)]
    model = graph(nodes, {'x': (1, 8, 2, 2)}, {'w': np.zeros((9000, 32), F32)})
    layers = {layer.name: layer for layer in analyze_onnx(model, 'orin').layers}
    assert layers['n'].device == 'GPU' and layers['flat'].device == 'GPU'
    assert any('1x1 Conv' in hint for hint in layers['flat'].hints)


def test_dynamic_batch_needs_a_batch_size() -> None:
    model = graph([helper.make_node('Relu', ['x'], ['y'], name='n')], {'x': ('N', 2, 4, 4)})
    with pytest.raises(DlaInferError, match=r"axis 0 is 'N'.*give the batch size \(--batch N\)"):
        analyze_onnx(model, 'orin')
    assert place(model, 'orin', batch=2).device == 'DLA'


def test_dynamic_spatial_dims_are_refused() -> None:
    model = graph([helper.make_node('Relu', ['x'], ['y'], name='n')], {'x': (1, 3, 'H', 'W')})
    with pytest.raises(DlaInferError, match=r'dynamic shape \[1, 3, H, W\].*static shapes'):
        analyze_onnx(model, 'orin', batch=1)


def test_fixed_batch_cannot_be_changed() -> None:
    with pytest.raises(DlaInferError, match='batch 8 requested.*fixed shape'):
        analyze_onnx(op('Relu', X), 'orin', batch=8)


def _islands(count: int) -> Any:
    """:return: ``count`` DLA Relus separated by GPU Divs: ``count`` DLA subgraphs."""
    nodes, x = [], 'x'
    for i in range(count):
        nodes.append(helper.make_node('Relu', [x], [f'r{i}'], name=f'r{i}'))
        nodes.append(helper.make_node('Div', [f'r{i}', 'z'], [f'd{i}'], name=f'd{i}'))
        x = f'd{i}'
    return graph(nodes, {'x': X, 'z': X})


@pytest.mark.parametrize('platform', ['xavier', 'orin'])
def test_loadable_limit_warning(platform: str) -> None:
    within = analyze_onnx(_islands(16), platform)
    assert len(within.subgraphs) == 16 and within.warnings == ()
    beyond = analyze_onnx(_islands(17), platform)
    assert len(beyond.subgraphs) == 17
    assert len(beyond.warnings) == 1 and 'exceed the 16 DLA loadables' in beyond.warnings[0]


def test_custom_domain_op_is_a_gpu_plugin() -> None:
    node = helper.make_node('MyOp', ['x'], ['y'], name='n', domain='com.example')
    model = graph([node], {'x': X})
    model.opset_import.append(helper.make_opsetid('com.example', 1))
    assert 'custom operator com.example::MyOp' in place(model, 'orin').reasons[0]


# --- Rewrite hints ------------------------------------------------------------------------


@pytest.mark.parametrize('size, hint', [
    (7, 'replace by AveragePool kernel_shape=[7, 7]'),
    (14, 'replace by 2 chained AveragePools with kernel = stride = 7x7, 2x2'),
    (13, '13x13 does not split into DLA pooling windows <= 8'),
])
def test_global_average_pool_hint(size: int, hint: str) -> None:
    verdict = place(op('GlobalAveragePool', (1, 8, size, size)), 'orin')
    assert verdict.device == 'GPU' and hint in verdict.hints[0]


def test_global_average_pool_hint_is_a_dla_graph() -> None:
    # Following the hint for 14x14 gives two pools that the DLA runs.
    nodes = [helper.make_node('AveragePool', ['x'], ['a'], name='a', kernel_shape=[7, 7],
                              strides=[7, 7]),
             helper.make_node('AveragePool', ['a'], ['y'], name='n', kernel_shape=[2, 2],
                              strides=[2, 2])]
    assert analyze_onnx(graph(nodes, {'x': (1, 8, 14, 14)}), 'xavier').all_on_dla


def test_reduce_mean_hint_mentions_the_flatten_when_dims_are_dropped() -> None:
    verdict = place(op('ReduceMean', (1, 8, 7, 7), axes=[2, 3], keepdims=0), 'orin')
    assert 'AveragePool kernel_shape=[7, 7]' in verdict.hints[0]
    assert 'Flatten' in verdict.hints[0]


@pytest.mark.parametrize('build, platform, text', [
    (lambda: op('Softmax', (1, 1000), axis=1), 'xavier', 'leave the final Softmax out'),
    (lambda: op('ArgMax', (1, 1000), axis=1), 'orin', 'take the arg-max/top-k on the CPU'),
    (lambda: op('Pad', X, {'p': np.array([0, 0, 1, 1, 0, 0, 1, 1])}), 'orin',
     'fold a constant zero Pad'),
    (lambda: op('HardSwish', X, opset=14), 'orin', 'x * Clip(x + 3, 0, 6)'),
    (lambda: op('Div', X, {'c': np.full((1, 8, 1, 1), 2, F32)}), 'orin',
     'multiply by the reciprocal'),
    (lambda: op('AveragePool', X, kernel_shape=[3, 3], pads=[1] * 4), 'xavier',
     'count_include_pad=1'),
    (lambda: op('MatMul', (1, 4), {'w': np.zeros((4, 9000), F32)}), 'orin', '1x1 Conv'),
])
def test_rewrite_hints(build: Callable[[], Any], platform: str, text: str) -> None:
    verdict = place(build(), platform)
    assert verdict.device == 'GPU'
    assert any(text in hint for hint in verdict.hints), verdict.hints


def test_following_the_hardswish_hint_keeps_it_on_the_dla() -> None:
    nodes = [helper.make_node('Add', ['x', 'three'], ['a'], name='add'),
             helper.make_node('Clip', ['a', 'zero', 'six'], ['c'], name='clip'),
             helper.make_node('Mul', ['c', 'sixth'], ['s'], name='scale'),
             helper.make_node('Mul', ['x', 's'], ['y'], name='n')]
    consts = {'three': F32(3), 'zero': F32(0), 'six': F32(6), 'sixth': F32(1 / 6)}
    assert analyze_onnx(graph(nodes, {'x': X}, consts), 'xavier').all_on_dla


# --- The pure layer: NodeView in, reasons out ---------------------------------------------


def test_check_node_works_without_onnx_objects() -> None:
    view = NodeView(name='c', op='Conv', attrs={'kernel_shape': [3, 3], 'pads': [1, 1, 1, 1]},
                    input_shapes=((1, 8, 8, 8), (4, 8, 3, 3)), output_shapes=((1, 4, 8, 8),),
                    constant_inputs=frozenset({1}), output_dtypes=('float32',))
    assert check_node(view, ORIN) == []
    bad = NodeView(name='c', op='Conv', attrs={'kernel_shape': [3, 3], 'strides': [10, 10]},
                   input_shapes=((1, 8, 64, 64), (4, 8, 3, 3)), constant_inputs=frozenset({1}))
    assert check_node(bad, ORIN) == ['stride 10x10 outside the DLA range [1, 8]']
    assert rewrite_hints(NodeView(name='t', op='TopK'), ORIN)[0].startswith('keep it off')


def test_unknown_platform_and_precision_are_refused() -> None:
    with pytest.raises(DlaInferError, match="platform='thor' requested; choose one of orin, "
                                            'xavier'):
        get_platform('thor')
    with pytest.raises(DlaInferError, match="precision='bf16'"):
        check_node(NodeView(name='r', op='Relu'), ORIN, 'bf16')
