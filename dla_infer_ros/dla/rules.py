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
What the DLA of Xavier (DLA v1) and Orin (DLA v2) can run, as rules over ONNX nodes.

Pure: numpy only, no onnx, no TensorRT, no ROS. The analyzer turns each ONNX node
into a :class:`NodeView` (attributes, shapes after shape inference, which inputs
are build-time constants) and :func:`check_node` returns every reason the node
would fall back to the GPU; an empty list means TensorRT can place it on the DLA.

Every rule names its source in a comment, by these keys:

- [TRT84]   TensorRT 8.4/8.5 Developer Guide, "DLA Supported Layers and Restrictions"
            (the JetPack 5 text, valid for Xavier and Orin; the TensorRT 5 text of the
            seed field report is marked [SEED] where it differs).
- [NvI85]   NVIDIA/TensorRT include/NvInfer.h of TensorRT 8.5/8.6 (per-layer DLA notes,
            including "On Xavier, this layer is not supported on DLA" for SoftMax).
- [NvI10]   NVIDIA/TensorRT include/NvInfer.h of TensorRT 10.x (JetPack 6, Orin only).
- [PyDoc]   NVIDIA/TensorRT python/docstrings/infer/pyGraphDoc.h (IResizeLayer DLA modes).
- [TRTlay]  docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/
            dla-layer-restrictions.html (general restrictions, summary table).
- [DLASWops] NVIDIA/Deep-Learning-Accelerator-SW operators/README.md, ONNX operator
            support on Orin DLA through TensorRT 8.5/8.6 ("Native", "Reconstruction",
            "See RFE" = not exposed through TensorRT).
- [DLASWr50] NVIDIA/Deep-Learning-Accelerator-SW scripts/prepare_models (ResNet-50 recipe:
            ReduceMean -> AveragePool 7x7, Squeeze+MatMul+Add -> 1x1 Conv, TopK kept on GPU).
- [DLAtut]  NVIDIA-AI-IOT/jetson_dla_tutorial README (TensorRT 8.4 build log on Orin:
            GlobalAveragePool lands on the GPU as REDUCE).
- [TRTbuild] docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/
            dla-build-and-run.html ("DLA supports FP16 and INT8").
- [SEED]    TensorRT 5 "Working with DLA" as quoted by the Xavier field report.
"""

import dataclasses
import math
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from dla_infer_ros.errors import DlaInferError

Shape = Tuple[int, ...]

PRECISIONS = ('fp16', 'int8', 'fp32')


@dataclasses.dataclass(frozen=True)
class Platform:
    """The DLA generation of one Jetson family, with the TensorRT line its rules come from."""

    name: str
    title: str
    dla_version: int
    #: Largest effective batch (product of all dims but C, H, W) [TRTlay]; [SEED] had 32.
    max_batch: int
    #: Largest size of any non-batch dimension [TRTlay].
    max_dim: int
    #: DLA loadables (subgraphs) one core can hold at once [TRTlay], [TRT84].
    max_loadables_per_core: int
    #: ONNX activation ops that map to a DLA activation type.
    activations: FrozenSet[str]
    #: ONNX binary ops that map to a DLA ElementWise (or Scale) layer.
    elementwise: FrozenSet[str]
    #: SoftMax on the DLA at all ("On Xavier, this layer is not supported on DLA" [NvI85]).
    softmax: bool
    #: Shuffle (Reshape/Transpose) on the DLA ([DLASWops] lists them for Orin; the DLA v1
    #: layer list of [TRT84] has no Shuffle layer).
    shuffle: bool
    #: Equal on the DLA, INT8 only ([TRTlay] "Comparison ... INT8"; Orin-only feature).
    equal_int8: bool
    #: Average pooling whose divisor excludes the padding ("On Xavier, DLA supports only
    #: inclusive padding" [NvI85] IPoolingLayer::setAverageCountExcludesPadding).
    exclusive_avg_padding: bool
    #: Slice runs in FP16 only on this line ([TRT84] "Only supports FP16 precision").
    slice_fp16_only: bool


# [TRT84] Activation: "ReLU, Sigmoid, TanH, Clipped ReLU and Leaky ReLU". NvInfer.h of 8.5 and
# 10.x still says "kRELU, kSIGMOID, kTANH, and kCLIP", but TensorRT's ONNX parser imports
# LeakyRelu as kLEAKY_RELU and [DLASWops] marks LeakyRelu "Native"; [SEED] (TensorRT 5) had
# ReLU, Sigmoid and TanH only.
_ACTIVATIONS = frozenset({'Relu', 'Sigmoid', 'Tanh', 'Clip', 'LeakyRelu'})
# [NvI85] [NvI10] IElementWiseLayer: "DLA supports only kSUM, kPROD, kMAX, kMIN, and kSUB" (on
# Xavier TensorRT builds Sub from a Scale and a Sum [TRT84]). Div and Pow are newer than 10.x.
_ELEMENTWISE = frozenset({'Add', 'Sum', 'Sub', 'Mul', 'Max', 'Min'})

XAVIER = Platform(
    name='xavier', title='Xavier (DLA v1; TensorRT 8.x, JetPack 4.6/5.x)', dla_version=1,
    max_batch=4096, max_dim=8192, max_loadables_per_core=16,
    activations=_ACTIVATIONS, elementwise=_ELEMENTWISE, softmax=False, shuffle=False,
    equal_int8=False, exclusive_avg_padding=False, slice_fp16_only=True)

ORIN = Platform(
    name='orin', title='Orin (DLA v2; TensorRT 8.6/10.x, JetPack 5.1/6.x)', dla_version=2,
    max_batch=4096, max_dim=8192, max_loadables_per_core=16,
    activations=_ACTIVATIONS, elementwise=_ELEMENTWISE, softmax=True, shuffle=True,
    equal_int8=True, exclusive_avg_padding=True, slice_fp16_only=False)

PLATFORMS: Dict[str, Platform] = {p.name: p for p in (XAVIER, ORIN)}


def get_platform(name: str) -> Platform:
    """
    Look a platform up by name.

    :raises DlaInferError: for an unknown name, listing the known ones.
    """
    try:
        return PLATFORMS[name.lower()]
    except KeyError:
        raise DlaInferError(f'platform={name!r} requested; choose one of '
                            f'{", ".join(sorted(PLATFORMS))}') from None


@dataclasses.dataclass(frozen=True)
class NodeView:
    """One ONNX node as the rules see it: op, attributes, static shapes, constant inputs."""

    name: str
    op: str
    attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    input_shapes: Tuple[Optional[Shape], ...] = ()
    output_shapes: Tuple[Optional[Shape], ...] = ()
    #: indices of inputs that are build-time constants (initializers, folded subgraphs)
    constant_inputs: FrozenSet[int] = frozenset()
    #: values of the small constant inputs, by input index
    constant_values: Mapping[int, np.ndarray] = dataclasses.field(default_factory=dict)
    #: numpy dtype names of the outputs ('' where unknown)
    output_dtypes: Tuple[str, ...] = ()
    #: indices of optional inputs that are absent (empty name in ONNX)
    missing_inputs: FrozenSet[int] = frozenset()
    domain: str = ''
    opset: int = 13

    def attr(self, key: str, default: Any = None) -> Any:
        """:return: attribute ``key`` (bytes decoded to str), or ``default``."""
        value = self.attrs.get(key, default)
        return value.decode() if isinstance(value, bytes) else value

    def shape(self, index: int) -> Optional[Shape]:
        """:return: static shape of input ``index``, or None when unknown or absent."""
        return self.input_shapes[index] if index < len(self.input_shapes) else None

    def out_shape(self, index: int = 0) -> Optional[Shape]:
        """:return: static shape of output ``index``, or None when unknown."""
        return self.output_shapes[index] if index < len(self.output_shapes) else None

    def has_input(self, index: int) -> bool:
        """:return: True when input ``index`` exists and is not an omitted optional."""
        return index < len(self.input_shapes) and index not in self.missing_inputs

    def value(self, index: int) -> Optional[np.ndarray]:
        """:return: the value of constant input ``index`` when it is small and known."""
        return self.constant_values.get(index)


Check = Callable[[NodeView, Platform, str], List[str]]


def _fmt(values: Sequence[int]) -> str:
    return 'x'.join(str(v) for v in values)


def _range(what: str, values: Sequence[int], low: int, high: int) -> List[str]:
    """:return: one reason when any of ``values`` lies outside ``[low, high]``."""
    if all(low <= v <= high for v in values):
        return []
    return [f'{what} {_fmt(values)} outside the DLA range [{low}, {high}]']


def _ints(values: Any) -> Tuple[int, ...]:
    return tuple(int(v) for v in values)


def _kernel(node: NodeView) -> Tuple[int, ...]:
    """:return: the spatial kernel of a Conv/ConvTranspose/pooling node."""
    kernel = node.attr('kernel_shape')
    if kernel:
        return _ints(kernel)
    weights = node.shape(1)
    return tuple(weights[2:]) if weights is not None else ()


def _spatial(node: NodeView, key: str, count: int) -> Tuple[int, ...]:
    values = node.attr(key)
    return _ints(values) if values else (1,) * count


def _pads(node: NodeView, kernel: Sequence[int], strides: Sequence[int],
          dilations: Sequence[int]) -> Tuple[Tuple[int, int], ...]:
    """:return: (begin, end) padding per spatial axis, resolving ONNX ``auto_pad``."""
    count = len(kernel)
    auto_pad = node.attr('auto_pad', 'NOTSET')
    if auto_pad in ('NOTSET', ''):
        pads = _ints(node.attr('pads') or (0,) * (2 * count))
        return tuple((pads[i], pads[i + count]) for i in range(count))
    if auto_pad == 'VALID':
        return ((0, 0),) * count
    shape = node.shape(0)
    if shape is None:
        return ((0, 0),) * count
    result = []
    for i in range(count):
        size = shape[2 + i]
        out = math.ceil(size / strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
        small, large = total // 2, total - total // 2
        result.append((small, large) if auto_pad == 'SAME_UPPER' else (large, small))
    return tuple(result)


def _rank(node: NodeView, index: int = 0) -> Optional[int]:
    shape = node.shape(index)
    return len(shape) if shape is not None else None


def _max_rank_4(node: NodeView) -> List[str]:
    """[TRT84] Activation, ElementWise, Scale: "Only supports two spatial dimension operations"."""
    ranks = [len(s) for s in node.input_shapes if s is not None]
    if ranks and max(ranks) > 4:
        return [f'rank-{max(ranks)} tensor; the DLA runs 2-D (at most 4-D NCHW) operations only']
    return []


# --- Convolution, deconvolution, fully connected ------------------------------------------


def check_conv(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Convolution layer ([NvI85] IConvolutionLayer, [TRT84])."""
    kernel = _kernel(node)
    if len(kernel) != 2:
        # [NvI85] setKernelSizeNd: "If executing this layer on DLA, only support 2D kernel size".
        return [f'{len(kernel)}-D convolution; the DLA runs 2-D convolutions only']
    strides = _spatial(node, 'strides', 2)
    dilations = _spatial(node, 'dilations', 2)
    pads = _pads(node, kernel, strides, dilations)
    reasons = []
    # [NvI85] kernel "must be in the range [1,32]"; stride "[1,8]"; dilation "[1,32]".
    reasons += _range('kernel', kernel, 1, 32)
    reasons += _range('stride', strides, 1, 8)
    reasons += _range('dilation', dilations, 1, 32)
    # [NvI85] padding "must be in the range [0,31], and the padding size must be less than
    # the kernel size".
    flat_pads = [p for pair in pads for p in pair]
    reasons += _range('padding', flat_pads, 0, 31)
    if any(p >= k for pair, k in zip(pads, kernel) for p in pair):
        reasons.append(f'padding {_fmt(flat_pads)} not smaller than kernel {_fmt(kernel)}')
    weights = node.shape(1)
    if weights is not None:
        # [NvI85] setNbOutputMaps: "the number of output maps must be in the range [1,8192]".
        reasons += _range('output maps', (weights[0],), 1, 8192)
    # [NvI85] setNbGroups: "If executing this layer on DLA, the max number of groups is 8192".
    reasons += _range('groups', (int(node.attr('group', 1)),), 1, 8192)
    return reasons


def _deconv_size_ok(values: Sequence[int]) -> bool:
    """[NvI85] IDeconvolutionLayer: [1,32] per axis, or 1 x {64, 96, 128} in either order."""
    if all(1 <= v <= 32 for v in values):
        return True
    height, width = values
    return (height == 1 and width in (64, 96, 128)) or (width == 1 and height in (64, 96, 128))


def check_deconv(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Deconvolution layer ([NvI85] IDeconvolutionLayer, [TRT84])."""
    kernel = _kernel(node)
    if len(kernel) != 2:
        return [f'{len(kernel)}-D deconvolution; the DLA runs 2-D deconvolutions only']
    strides = _spatial(node, 'strides', 2)
    reasons = []
    for what, values in (('kernel', kernel), ('stride', strides)):
        if not _deconv_size_ok(values):
            reasons.append(f'deconvolution {what} {_fmt(values)} not in [1, 32] per axis '
                           'nor 1x{64, 96, 128}')
        elif values[0] == values[1] and 23 <= values[0] <= 32:
            # [TRT84] "TensorRT has disabled deconvolution square kernels and strides in the
            # range [23 - 32] on DLA as they significantly slow down compilation".
            reasons.append(f'square deconvolution {what} {_fmt(values)} in [23, 32] '
                           '(disabled by TensorRT on the DLA)')
    pads = _ints(node.attr('pads') or ())
    auto_pad = node.attr('auto_pad', 'NOTSET')
    same_pads = auto_pad.startswith('SAME') and any(k > s for k, s in zip(kernel, strides))
    if any(pads) or same_pads:
        # [NvI85] setPaddingNd: "If executing this layer on DLA, padding must be 0".
        reasons.append('deconvolution padding is not 0 (the DLA needs padding 0)')
    if int(node.attr('group', 1)) != 1:
        # [NvI85] setNbGroups: "If executing this layer on DLA, nbGroups must be one".
        reasons.append(f'grouped deconvolution (group={node.attr("group")}); the DLA needs 1')
    if any(d != 1 for d in _spatial(node, 'dilations', 2)):
        # [TRT84] "Dilated deconvolutions must be 1".
        reasons.append('dilated deconvolution; the DLA needs dilation 1')
    weights = node.shape(1)
    if weights is not None:
        # [TRT84] "Input and output channels must be in the range [1, 8192]".
        outputs = weights[1] * int(node.attr('group', 1))
        reasons += _range('input channels', (weights[0],), 1, 8192)
        reasons += _range('output maps', (outputs,), 1, 8192)
    return reasons


def check_fully_connected(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Gemm/MatMul as a DLA FullyConnected / 1x1 convolution ([DLASWops], [NvI85])."""
    reasons = []
    if 1 not in node.constant_inputs:
        # [DLASWops] Gemm, MatMul: "The second input must be a constant".
        reasons.append('second input (weights) is not a build-time constant')
    rank = _rank(node, 0)
    # [NvI85] IFullyConnectedLayer takes [N, C, H, W] and flattens C, H, W itself; the
    # analyzer shows such a layer the tensor before a folded Flatten ('flattened_input').
    folded = rank == 4 and bool(node.attr('flattened_input'))
    if rank is not None and rank != 2 and not folded:
        # [DLASWops] "TensorRT can translate this to a 1x1 Conv internally": a rank-2
        # [batch, features] input; higher ranks are batched matrix products.
        reasons.append(f'rank-{rank} input is a batched matrix product, not a fully connected '
                       'layer')
    if node.op == 'Gemm' and int(node.attr('transA', 0)):
        reasons.append('Gemm with transA=1 (the activations are transposed)')
    out = node.out_shape()
    if out is not None and out:
        # [NvI85] IFullyConnectedLayer: "number of output channels must in the range [1,8192]".
        reasons += _range('output channels', (out[-1],), 1, 8192)
    return reasons


# --- Activations, elementwise, scale -------------------------------------------------------


def _clip_bounds(node: NodeView) -> Tuple[Optional[float], Optional[float], List[str]]:
    """:return: (min, max, reasons) of a Clip node, from attributes (opset < 11) or inputs."""
    if node.opset < 11:
        return float(node.attr('min', -np.inf)), float(node.attr('max', np.inf)), []
    bounds: List[Optional[float]] = []
    reasons = []
    for index, default in ((1, -np.inf), (2, np.inf)):
        if not node.has_input(index):
            bounds.append(default)
        elif node.value(index) is not None:
            bounds.append(float(np.asarray(node.value(index)).reshape(-1)[0]))
        else:
            bounds.append(None)
            reasons.append('Clip bounds are not build-time constants')
    return bounds[0], bounds[1], reasons[:1]


def check_activation(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Activation layer ([TRT84], [NvI85] IActivationLayer)."""
    if node.op not in platform.activations:
        return [f'{node.op} is not a DLA activation on {platform.name} (ReLU, Sigmoid, TanH, '
                'Clip, LeakyReLU only)']
    reasons = _max_rank_4(node)
    if node.op == 'Clip':
        low, high, reasons_clip = _clip_bounds(node)
        reasons += reasons_clip
        # [TRT84] "Clipped ReLU only supports values in the range [1, 127]": a ReLU with an
        # upper bound, so the lower bound must be 0 (ReLU6 = Clip(0, 6) qualifies).
        if low is not None and high is not None and not (low == 0.0 and 1.0 <= high <= 127.0):
            reasons.append(f'Clip({low:g}, {high:g}) is not a clipped ReLU Clip(0, [1, 127])')
    return reasons


def check_prelu(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[TRT84] Parametric ReLU: "Slopes input must be a build time constant"."""
    reasons = _max_rank_4(node)
    if 1 not in node.constant_inputs:
        reasons.append('PRelu slope is not a build-time constant')
    return reasons


def check_elementwise(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA ElementWise/Scale layers ([NvI85] IElementWiseLayer, [TRT84])."""
    if node.op not in platform.elementwise:
        return [f'{node.op} is not a DLA ElementWise operation (Sum, Sub, Prod, Max, Min only)']
    return _max_rank_4(node)


def check_scale(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Map BatchNormalization to a DLA Scale layer ([DLASWops], [TRT84] Scale layer)."""
    reasons = _max_rank_4(node)
    if any(i not in node.constant_inputs for i in range(1, 5)):
        reasons.append('BatchNormalization parameters are not build-time constants')
    if int(node.attr('training_mode', 0)):
        reasons.append('BatchNormalization in training mode')
    return reasons


def check_unary(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[NvI10] IUnaryLayer: "When running this layer on DLA, only UnaryOperation::kABS"."""
    if node.op == 'Abs':
        return _max_rank_4(node)
    return [f'{node.op} is a unary operation; the DLA runs ABS only']


def check_equal(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[TRTlay] Comparison (Equal): INT8 only, output cast right away; not on Xavier."""
    if not platform.equal_int8:
        return [f'Equal is not supported on the DLA of {platform.name}']
    if precision != 'int8':
        return [f'Equal runs on the DLA in INT8 only (precision {precision} requested)']
    return []


# --- Pooling, reductions ---------------------------------------------------------------------


def _has_padding_effect(node: NodeView, kernel: Sequence[int], strides: Sequence[int],
                        pads: Sequence[Tuple[int, int]]) -> bool:
    """:return: True when padding (explicit, or ceil_mode's partial windows) changes results."""
    if any(p for pair in pads for p in pair):
        return True
    shape = node.shape(0)
    if not int(node.attr('ceil_mode', 0)) or shape is None:
        return False
    return any((shape[2 + i] - kernel[i]) % strides[i] for i in range(len(kernel)))


def check_pooling(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Pooling layer ([NvI85] IPoolingLayer, [TRT84])."""
    if node.op not in ('MaxPool', 'AveragePool'):
        # [NvI85] setPoolingType: "DLA only supports kMAX and kAVERAGE pooling types".
        return [f'{node.op}: the DLA pools with MAX and AVERAGE only']
    kernel = _kernel(node)
    if len(kernel) != 2:
        return [f'{len(kernel)}-D pooling; the DLA pools in 2-D only']
    strides = _spatial(node, 'strides', 2)
    pads = _pads(node, kernel, strides, (1, 1))
    # [NvI85] window "[1,8]", stride "[1,16]", padding "[0,7]".
    reasons = _range('window', kernel, 1, 8)
    reasons += _range('stride', strides, 1, 16)
    reasons += _range('padding', [p for pair in pads for p in pair], 0, 7)
    if node.op == 'MaxPool' and len(node.output_shapes) > 1:
        reasons.append('MaxPool with an Indices output')
    exclusive = not int(node.attr('count_include_pad', 0))
    if (node.op == 'AveragePool' and exclusive and not platform.exclusive_avg_padding
            and _has_padding_effect(node, kernel, strides, pads)):
        # [NvI85] setAverageCountExcludesPadding: "On Xavier, DLA supports only inclusive
        # padding" (ONNX count_include_pad=0 is exclusive).
        reasons.append('average pooling that excludes the padding (count_include_pad=0); '
                       'Xavier divides by the padded window only')
    return reasons


def check_reduce(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Global pooling and Reduce*: TensorRT imports them as a Reduce layer, GPU only."""
    # [DLASWops] GlobalAveragePool, GlobalMaxPool, ReduceMean, ReduceMin: "See RFE"/None,
    # ReduceMax, ReduceSum: "Reconstruction"; [DLAtut] "REDUCE: GlobalAveragePool" on the GPU.
    return [f'{node.op} becomes a TensorRT Reduce layer, which has no DLA implementation']


# --- Tensor layout: concat, shuffle, slice, resize, softmax, LRN -----------------------------


def _axis(node: NodeView, default: int, rank: Optional[int]) -> Optional[int]:
    axis = int(node.attr('axis', default))
    if rank is None:
        return axis if axis >= 0 else None
    return axis + rank if axis < 0 else axis


def check_concat(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Concatenation layer ([NvI85] IConcatenationLayer, [TRT84])."""
    rank = _rank(node, 0)
    axis = _axis(node, 1, rank)
    reasons = _max_rank_4(node)
    # [NvI85] "the concatenation axis must be the third to last axis, e.g. C if NCHW".
    if rank is not None and axis != rank - 3:
        reasons.append(f'concatenation on axis {axis} of a rank-{rank} tensor; the DLA '
                       'concatenates on the channel axis (third from last) only')
    if len(node.input_shapes) < 2:
        # [TRT84] "Concat must have at least two inputs".
        reasons.append('concatenation of a single input')
    return reasons


def check_lrn(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[NvI85] ILRNLayer: "If executing this layer on the DLA, only ... [3, 5, 7, 9]"."""
    size = int(node.attr('size', 0))
    if size not in (3, 5, 7, 9):
        return [f'LRN size {size}; the DLA supports windows 3, 5, 7 and 9 only']
    return []


_SHUFFLE_OPS = frozenset({'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze'})


def check_shuffle(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Reshape/Transpose/Flatten/Squeeze/Unsqueeze: a TensorRT Shuffle layer."""
    if not platform.shuffle:
        # [TRT84] lists no Shuffle layer for DLA v1; [DLASWops] lists Reshape/Transpose for
        # Orin only.
        return [f'{node.op} becomes a Shuffle layer, which the DLA of {platform.name} '
                'does not run']
    reasons = []
    shape_in, shape_out = node.shape(0), node.out_shape()
    # [DLASWops] Reshape/Transpose "Native" via the Shuffle layer (4-D tensors, batch axis
    # untouched); Flatten, Squeeze, Unsqueeze "See RFE": they change the rank.
    for what, shape in (('input', shape_in), ('output', shape_out)):
        if shape is not None and len(shape) != 4:
            reasons.append(f'{what} is rank {len(shape)}; the DLA shuffles 4-D tensors only')
    if node.op == 'Reshape' and 1 not in node.constant_inputs:
        reasons.append('reshape target is computed at run time')
    perm = node.attr('perm')
    moves_batch = bool(perm) and int(perm[0]) != 0
    if shape_in and shape_out and shape_in[0] != shape_out[0]:
        moves_batch = True
    if moves_batch:
        reasons.append('the batch axis takes part in the reshape/transpose')
    return reasons


def _slice_params(
        node: NodeView) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], List[str]]:
    """:return: (axes, steps, reasons) of a Slice node; None where not known offline."""
    if node.opset < 10:
        axes = node.attr('axes')
        return (np.asarray(axes) if axes else None), None, []
    reasons = []
    if any(node.has_input(i) and i not in node.constant_inputs for i in range(1, 5)):
        # [NvI10] ISliceLayer: "start, size, and stride are build time constants".
        reasons.append('slice parameters are not build-time constants')
    axes = node.value(3) if node.has_input(3) else None
    steps = node.value(4) if node.has_input(4) else None
    return axes, steps, reasons


def check_slice(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Slice layer ([NvI10] ISliceLayer, [TRT84] Slice layer)."""
    shape_in, shape_out = node.shape(0), node.out_shape()
    if shape_in is not None and len(shape_in) != 4:
        # [NvI10] "The input tensor has four dimensions".
        return [f'slice of a rank-{len(shape_in)} tensor; the DLA slices 4-D tensors only']
    axes, steps, reasons = _slice_params(node)
    if node.op == 'Split':
        sliced = {_axis(node, 0, 4)}
    elif axes is not None:
        sliced = {int(a) % 4 for a in axes.reshape(-1)}
    elif shape_in is not None and shape_out is not None:
        sliced = {i for i in range(4) if shape_in[i] != shape_out[i]}
    else:
        sliced = set()
    if 0 in sliced:
        # [NvI10] "Slicing is not performed on the first dimension".
        reasons.append('slices the batch axis')
    if steps is not None and any(int(s) != 1 for s in steps.reshape(-1)):
        # [NvI10] "Strides are 1 for all dimensions".
        reasons.append(f'slice steps {_fmt(_ints(steps.reshape(-1)))}; the DLA needs 1')
    if platform.slice_fp16_only and precision == 'int8':
        reasons.append(f'Slice runs on the DLA of {platform.name} in FP16 only')
    return reasons


# [PyDoc] IResizeLayer: supported DLA combinations. ONNX names: nearest_mode round_prefer_floor
# is TensorRT's HALF_DOWN, round_prefer_ceil is HALF_UP; pytorch_half_pixel imports as
# HALF_PIXEL with selector UPPER, which DLA accepts for LINEAR only.
_NEAREST_OK = {('asymmetric', 'floor'), ('half_pixel', 'round_prefer_floor'),
               ('half_pixel', 'round_prefer_ceil')}
_LINEAR_OK = {'half_pixel', 'pytorch_half_pixel'}


def _resize_mode_reasons(node: NodeView) -> List[str]:
    mode = node.attr('mode', 'nearest')
    if node.op == 'Upsample' or node.opset < 11:
        return [] if mode in ('nearest', 'linear', 'bilinear') else [f'resize mode {mode}']
    transform = node.attr('coordinate_transformation_mode', 'half_pixel')
    if mode == 'nearest':
        rounding = node.attr('nearest_mode', 'round_prefer_floor')
        if (transform, rounding) not in _NEAREST_OK:
            return [f'nearest resize with {transform}/{rounding}; the DLA takes asymmetric/floor '
                    'or half_pixel/round_prefer_floor|ceil']
        return []
    if mode == 'linear':
        if transform not in _LINEAR_OK:
            return [f'linear resize with {transform}; the DLA takes half_pixel only']
        return []
    return [f'resize mode {mode}; the DLA resizes with nearest and linear only']


def check_resize(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA Resize layer ([PyDoc] IResizeLayer scales, [TRT84] Resize layer)."""
    reasons = _resize_mode_reasons(node)
    shape_in, shape_out = node.shape(0), node.out_shape()
    if shape_in is None or shape_out is None:
        return reasons + ['resize shapes unknown after shape inference']
    if len(shape_in) != 4:
        # [PyDoc] "len(scales) has to be exactly 4".
        return reasons + [f'rank-{len(shape_in)} resize; the DLA resizes 4-D tensors only']
    scales = [o / i for o, i in zip(shape_out, shape_in)]
    if scales[0] != 1 or scales[1] != 1:
        # [PyDoc] "The first two elements in scales need to be exactly 1".
        reasons.append('resize changes the batch or channel axis')
    # [PyDoc] "integer values in the range of [1, 32] for NEAREST mode and [1, 4] for LINEAR".
    high = 4 if node.attr('mode', 'nearest') in ('linear', 'bilinear') else 32
    spatial = scales[2:]
    if any(s != int(s) or not 1 <= s <= high for s in spatial):
        reasons.append(f'resize scales {"x".join(f"{s:g}" for s in spatial)}; the DLA needs '
                       f'integer scales in [1, {high}]')
    return reasons


def check_softmax(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Rules of the DLA SoftMax layer ([NvI85] ISoftMaxLayer, [TRT84] Softmax layer)."""
    if not platform.softmax:
        # [NvI85] "On Xavier, this layer is not supported on DLA"; [TRT84] "Only supported on
        # NVIDIA Orin, not Xavier"; [SEED] "layer prob is not running on DLA".
        return [f'SoftMax is not supported on the DLA of {platform.name}']
    shape = node.shape(0)
    if shape is None:
        return ['softmax shape unknown after shape inference']
    rank = len(shape)
    axis = _axis(node, -1 if node.opset >= 13 else 1, rank)
    if axis == 0:
        # [NvI85] "Axis must be one of the channel or spatial dimensions".
        return ['softmax over the batch axis']
    if rank > 4:
        return [f'rank-{rank} softmax; the DLA runs 4-D tensors at most']
    assert axis is not None
    if node.opset < 13 and int(np.prod(shape[axis + 1:])) > 1:
        return [f'opset-{node.opset} Softmax normalises axes {axis}.. jointly, which TensorRT '
                'imports with reshapes; the DLA normalises one axis']
    others = [d for i, d in enumerate(shape) if i not in (0, axis)]
    # [NvI85] "Non-axis, non-batch dimensions are all 1 and the axis dimension is at most 8192"
    # or "... greater than 1 and the axis dimension is at most 1024".
    limit = 8192 if all(d == 1 for d in others) else 1024
    return _range('softmax axis size', (shape[axis],), 1, limit)


# --- Everything TensorRT keeps off the DLA ----------------------------------------------------


def check_argmax(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[DLASWr50] cuts ResNet-50 before TopK: "always running on GPU"."""
    return [f'{node.op} has no DLA implementation (TopK/arg-max run on the GPU)']


def check_pad(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[DLASWops] Pad: "See RFE" (not exposed through TensorRT)."""
    return ['Pad has no DLA implementation through TensorRT']


def check_quantize(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """[DLASWops] Q/DQ: "Can be collapsed to INT8 scaling factor" (implicit quantization)."""
    return [f'{node.op} (explicit quantization) is not run by the DLA; TensorRT needs the '
            'scales as INT8 dynamic ranges (implicit quantization)']


OP_RULES: Dict[str, Check] = {
    'Conv': check_conv,
    'ConvTranspose': check_deconv,
    'Gemm': check_fully_connected,
    'MatMul': check_fully_connected,
    'BatchNormalization': check_scale,
    'PRelu': check_prelu,
    'Equal': check_equal,
    'Concat': check_concat,
    'LRN': check_lrn,
    'Slice': check_slice,
    'Split': check_slice,
    'Resize': check_resize,
    'Upsample': check_resize,
    'Softmax': check_softmax,
    'Pad': check_pad,
    'QuantizeLinear': check_quantize,
    'DequantizeLinear': check_quantize,
}
for _op in ('Relu', 'Sigmoid', 'Tanh', 'Clip', 'LeakyRelu', 'Elu', 'Selu', 'HardSigmoid',
            'HardSwish', 'Softplus', 'Softsign', 'ThresholdedRelu', 'Mish', 'Gelu', 'Celu'):
    OP_RULES[_op] = check_activation
for _op in ('Add', 'Sum', 'Sub', 'Mul', 'Max', 'Min', 'Div', 'Pow', 'Mean', 'Mod'):
    OP_RULES[_op] = check_elementwise
for _op in ('MaxPool', 'AveragePool', 'LpPool'):
    OP_RULES[_op] = check_pooling
for _op in ('GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'ReduceMean', 'ReduceMax',
            'ReduceMin', 'ReduceSum', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
            'ReduceLogSumExp', 'ReduceSumSquare'):
    OP_RULES[_op] = check_reduce
for _op in _SHUFFLE_OPS:
    OP_RULES[_op] = check_shuffle
for _op in ('Abs', 'Neg', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Sin', 'Cos', 'Tan', 'Erf',
            'Ceil', 'Floor', 'Round', 'Sign', 'Not', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh'):
    OP_RULES[_op] = check_unary
for _op in ('ArgMax', 'ArgMin', 'TopK'):
    OP_RULES[_op] = check_argmax

_FLOAT_DTYPES = frozenset({'float32', 'float16', ''})


def check_general(node: NodeView, platform: Platform, precision: str) -> List[str]:
    """Restrictions that hold for every layer ([TRTlay] general restrictions)."""
    reasons = []
    if precision not in ('fp16', 'int8'):
        # [TRTbuild] DLA runs FP16 or INT8 networks only.
        reasons.append(f'precision {precision}: the DLA runs FP16 and INT8 only')
    # Weights and other constants are no DLA tensors; the limit is on activations.
    tensors = [s for i, s in enumerate(node.input_shapes) if i not in node.constant_inputs]
    shapes = [s for s in tensors + list(node.output_shapes) if s is not None]
    too_large = sorted({d for s in shapes for d in s[1:] if d > platform.max_dim})
    if too_large:
        # [TRTlay] "The maximum supported size for non-batch dimensions is 8192".
        reasons.append(f'dimension {too_large[-1]} larger than the DLA limit {platform.max_dim}')
    wrong = sorted({t for t in node.output_dtypes if t not in _FLOAT_DTYPES})
    if wrong and node.op != 'Equal':
        reasons.append(f'{"/".join(wrong)} output; the DLA computes FP16/INT8 tensors only')
    return reasons


def check_node(node: NodeView, platform: Platform, precision: str = 'fp16') -> List[str]:
    """
    Tell why a node cannot run on the DLA.

    :param node: the node with static shapes.
    :param platform: :data:`XAVIER` or :data:`ORIN`.
    :param precision: 'fp16', 'int8' or 'fp32' (the engine's build precision).
    :return: every reason it would fall back to the GPU; empty when it fits the DLA.
    :raises DlaInferError: for an unknown precision.
    """
    if precision not in PRECISIONS:
        raise DlaInferError(f'precision={precision!r} requested; choose one of '
                            f'{", ".join(PRECISIONS)}')
    reasons = check_general(node, platform, precision)
    if node.domain not in ('', 'ai.onnx'):
        return reasons + [f'custom operator {node.domain}::{node.op} runs as a TensorRT plugin '
                          'on the GPU']
    rule = OP_RULES.get(node.op)
    if rule is None:
        return reasons + [f'{node.op} is not among the layers the DLA runs through TensorRT']
    return reasons + rule(node, platform, precision)


# --- Rewrites that keep more of a model on the DLA --------------------------------------------

#: Hint for a Gemm/MatMul head and the Flatten/Squeeze around it ([DLASWr50]).
HEAD_HINT = ('express the classifier head as a 1x1 Conv on the [N, C, 1, 1] tensor (weights '
             "reshaped to [K, C, 1, 1]) instead of Flatten + Gemm/MatMul, as NVIDIA's ResNet-50 "
             'DLA recipe does')


def _pool_stages(size: int) -> Optional[List[int]]:
    """:return: factors <= 8 whose product is ``size`` (largest first), None if there are none."""
    stages = []
    for factor in range(8, 1, -1):
        while size % factor == 0:
            stages.append(factor)
            size //= factor
    return stages if size == 1 else None


def _global_pool_hint(node: NodeView, kind: str) -> str:
    shape = node.shape(0)
    if shape is None or len(shape) != 4:
        return f'replace by a {kind} whose window covers the feature map'
    height, width = shape[2], shape[3]
    if height <= 8 and width <= 8:
        return (f'replace by {kind} kernel_shape=[{height}, {width}] (a window <= 8 runs on the '
                "DLA; NVIDIA's ResNet-50 recipe does this)")
    rows, cols = _pool_stages(height), _pool_stages(width)
    if rows is None or cols is None:
        return (f'{height}x{width} does not split into DLA pooling windows <= 8; change the '
                'input size so that the last feature map is at most 8x8')
    count = max(len(rows), len(cols))
    rows, cols = rows + [1] * (count - len(rows)), cols + [1] * (count - len(cols))
    stages = ', '.join(f'{r}x{c}' for r, c in zip(rows, cols))
    return f'replace by {count} chained {kind}s with kernel = stride = {stages} (exact)'


def _reduces_spatial(node: NodeView) -> bool:
    """:return: True for a Reduce* over H and W of a 4-D tensor (a global pooling)."""
    shape = node.shape(0)
    axes = node.attr('axes')
    if axes is None and node.has_input(1):
        value = node.value(1)
        axes = value.reshape(-1).tolist() if value is not None else None
    if shape is None or len(shape) != 4 or axes is None:
        return False
    return sorted(int(a) % 4 for a in axes) == [2, 3]


_FIXED_HINTS = {
    'ArgMax': 'keep it off the DLA: end the engine before it and take the arg-max/top-k on the '
              'CPU in postprocessing',
    'Pad': 'fold a constant zero Pad into the pads of the following Conv or pooling node',
    'HardSwish': 'write it as x * Clip(x + 3, 0, 6) * (1/6): Add and Mul by constants become '
                 'Scale layers, Clip(0, 6) is a clipped ReLU, x * y an ElementWise product',
    'HardSigmoid': 'write it as Clip(alpha * x + beta, 0, 1): Mul and Add by constants become '
                   'Scale layers and Clip(0, 1) is a clipped ReLU',
    'QuantizeLinear': 'drop the Q/DQ nodes and build INT8 from a calibration cache (implicit '
                      'quantization)',
    'Gemm': HEAD_HINT,
}
_FIXED_HINTS.update({'ArgMin': _FIXED_HINTS['ArgMax'], 'TopK': _FIXED_HINTS['ArgMax'],
                     'DequantizeLinear': _FIXED_HINTS['QuantizeLinear'],
                     'MatMul': HEAD_HINT})


def rewrite_hints(node: NodeView, platform: Platform) -> List[str]:
    """
    Known rewrites for a node that falls back to the GPU.

    :return: hints (possibly none) on how to express the node so that the DLA runs it.
    """
    op = node.op
    if op in ('GlobalAveragePool', 'GlobalMaxPool'):
        return [_global_pool_hint(node, 'AveragePool' if 'Average' in op else 'MaxPool')]
    if op in ('ReduceMean', 'ReduceMax') and _reduces_spatial(node):
        hint = _global_pool_hint(node, 'AveragePool' if op == 'ReduceMean' else 'MaxPool')
        if not int(node.attr('keepdims', 1)):
            hint += ' (then a Flatten, or better a 1x1 Conv head)'
        return [hint]
    if op == 'Softmax' and not platform.softmax:
        return ['leave the final Softmax out of the engine and apply it on the CPU in '
                'postprocessing (the ranking does not change without it)']
    if op == 'Div' and 1 in node.constant_inputs:
        return ['multiply by the reciprocal instead: Mul by a constant becomes a DLA Scale layer']
    exclusive = not int(node.attr('count_include_pad', 0))
    if op == 'AveragePool' and exclusive and not platform.exclusive_avg_padding:
        return ['export the pooling with count_include_pad=1 (the PyTorch AvgPool2d default)']
    if op in ('Resize', 'Upsample'):
        return ['use integer spatial scale factors (nearest [1, 32], linear [1, 4]) with '
                'asymmetric/floor or half_pixel coordinates']
    return [_FIXED_HINTS[op]] if op in _FIXED_HINTS else []
