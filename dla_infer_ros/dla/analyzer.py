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
Offline DLA placement of an ONNX model: which layers the DLA runs, which fall to the GPU.

:func:`analyze_model` loads the model (without external weights), fixes the batch
size, runs ONNX shape inference and checks every node against the rule tables of
:mod:`dla_infer_ros.dla.rules`. Nodes that TensorRT folds at build time (Constant,
Identity, Dropout, shape arithmetic on static shapes) are listed apart and are no
layers. The report also predicts the DLA subgraphs (loadables) TensorRT would form
and counts the GPU<->DLA transitions, each of which costs reformat copies.
"""

import collections
import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.backends.base import LayerPlacement
from dla_infer_ros.dla.rules import (check_node, get_platform, HEAD_HINT, NodeView, Platform,
                                     PRECISIONS, rewrite_hints, Shape)
from dla_infer_ros.errors import DlaInferError

DLA = 'DLA'
GPU = 'GPU'

#: Nodes TensorRT removes: their output is their (first) input.
_PASS_THROUGH = frozenset({'Identity', 'Dropout'})
#: Constant inputs up to this many elements keep their values for the rules.
_SMALL_VALUE = 64
#: Initializers up to this many elements stay in the copy used for shape inference.
_SMALL_INITIALIZER = 4096
_FC_OPS = frozenset({'Gemm', 'MatMul'})
_FLATTEN_OPS = frozenset({'Flatten', 'Reshape', 'Squeeze'})


@dataclasses.dataclass(frozen=True)
class LayerVerdict:
    """Where one layer would run, why not on the DLA, and how to change that."""

    name: str
    op: str
    device: str
    reasons: Tuple[str, ...] = ()
    hints: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """:return: the JSON form ``{"name", "op", "device", "reasons", "hints"}``."""
        return {'name': self.name, 'op': self.op, 'device': self.device,
                'reasons': list(self.reasons), 'hints': list(self.hints)}


@dataclasses.dataclass(frozen=True)
class DlaReport:
    """The predicted placement of a model's layers on one DLA platform."""

    platform: str
    model: str
    batch: int
    precision: str
    layers: Tuple[LayerVerdict, ...]
    #: names of the DLA layers of each predicted DLA subgraph (loadable)
    subgraphs: Tuple[Tuple[str, ...], ...] = ()
    #: tensors crossing between a GPU layer and a DLA layer (each needs a reformat copy)
    transitions: int = 0
    #: nodes TensorRT folds at build time (no layers)
    folded: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()

    @property
    def dla_layers(self) -> Tuple[LayerVerdict, ...]:
        """:return: the layers predicted on the DLA."""
        return tuple(layer for layer in self.layers if layer.device == DLA)

    @property
    def gpu_layers(self) -> Tuple[LayerVerdict, ...]:
        """:return: the layers predicted to fall back to the GPU."""
        return tuple(layer for layer in self.layers if layer.device == GPU)

    @property
    def predicted_gpu_layers(self) -> Tuple[str, ...]:
        """:return: names of the layers predicted on the GPU."""
        return tuple(layer.name for layer in self.gpu_layers)

    @property
    def all_on_dla(self) -> bool:
        """:return: True when every layer fits the DLA (no GPU fallback needed)."""
        return bool(self.layers) and not self.gpu_layers

    def counts(self) -> Dict[str, int]:
        """:return: ``dla_layers``, ``gpu_layers``, ``dla_subgraphs``, ``transitions``."""
        return {'dla_layers': len(self.dla_layers), 'gpu_layers': len(self.gpu_layers),
                'dla_subgraphs': len(self.subgraphs), 'transitions': self.transitions}

    def summary(self) -> str:
        """:return: one line, e.g. ``xavier: 175 of 176 layers on the DLA in 1 subgraph; ...``."""
        total, gpu = len(self.layers), self.gpu_layers
        graphs = _plural(len(self.subgraphs), 'subgraph')
        if not gpu:
            return f'{self.platform}: all {total} layers on the DLA in {graphs}'
        if len(gpu) == total:
            return (f'{self.platform}: no layer on the DLA, all {total} on the GPU '
                    f'({gpu[0].reasons[0]})')
        shown = ', '.join(f'{layer.name} ({layer.op})' for layer in gpu[:4])
        if len(gpu) > 4:
            shown += f', +{len(gpu) - 4} more'
        return (f'{self.platform}: {total - len(gpu)} of {total} layers on the DLA in {graphs}; '
                f'{len(gpu)} on the GPU: {shown}; '
                f'{_plural(self.transitions, "GPU<->DLA transition")}')

    def to_dict(self) -> Dict[str, Any]:
        """:return: the JSON form printed by ``dla_check --json``."""
        return {'platform': self.platform, 'model': self.model, 'batch': self.batch,
                'precision': self.precision,
                'layers': [layer.to_dict() for layer in self.layers],
                'summary': self.counts(),
                'subgraphs': [list(names) for names in self.subgraphs],
                'folded': list(self.folded), 'warnings': list(self.warnings),
                'verdict': self.summary()}

    def to_placement(self) -> LayerPlacement:
        """:return: the prediction in the form backends report the real placement."""
        return LayerPlacement(layers=tuple((layer.name, layer.device) for layer in self.layers),
                              fallen_back=self.predicted_gpu_layers)


def _plural(count: int, noun: str) -> str:
    return f'{count} {noun}' + ('' if count == 1 else 's')


def analyze_model(path: str, platform: str = 'orin', batch: Optional[int] = None,
                  precision: str = 'fp16') -> DlaReport:
    """
    Predict which layers of an ONNX model TensorRT would place on the DLA.

    :param path: the ONNX file; external weight files are not read.
    :param platform: ``'xavier'`` (DLA v1) or ``'orin'`` (DLA v2).
    :param batch: batch size for a dynamic batch axis (must match a fixed one).
    :param precision: the build precision, ``'fp16'`` (default), ``'int8'`` or ``'fp32'``.
    :return: the report.
    :raises DlaInferError: missing or unreadable file, not ONNX, dynamic shapes, bad options.
    """
    onnx = require('onnx', 'checking a model for the DLA')
    return analyze_onnx(_load(onnx, path), platform, batch, precision, name=path)


def analyze_onnx(model: Any, platform: str = 'orin', batch: Optional[int] = None,
                 precision: str = 'fp16', name: str = '<model>') -> DlaReport:
    """
    Like :func:`analyze_model`, for an ``onnx.ModelProto`` in memory (left unchanged).

    :param name: what the report calls the model.
    """
    onnx = require('onnx', 'checking a model for the DLA')
    target = get_platform(platform)
    if precision not in PRECISIONS:
        raise DlaInferError(f'precision={precision!r} requested; choose one of '
                            f'{", ".join(PRECISIONS)}')
    if batch is not None and batch < 1:
        raise DlaInferError(f'batch={batch} requested; the batch size must be >= 1')
    facts = _ModelFacts(onnx, model, batch)
    views = [facts.view(index) for index in range(len(facts.layers))]
    flattens = _fc_flattens(facts, views)
    views = _fold_flattens(views, flattens)
    effective_batch = facts.effective_batch()
    verdicts = [_verdict(view, target, precision, effective_batch) for view in views]
    verdicts = _place_flattens(verdicts, facts, flattens)
    devices = [v.device for v in verdicts]
    subgraphs = _dla_subgraphs(devices, facts.edges())
    names = [v.name for v in verdicts]
    warnings = []
    if len(subgraphs) > target.max_loadables_per_core:
        warnings.append(f'{len(subgraphs)} DLA subgraphs exceed the '
                        f'{target.max_loadables_per_core} DLA loadables one core holds at once; '
                        'the build fails or puts more layers on the GPU: remove the GPU layers '
                        'that split the model')
    return DlaReport(platform=target.name, model=name, batch=effective_batch, precision=precision,
                     layers=tuple(verdicts),
                     subgraphs=tuple(tuple(names[i] for i in group) for group in subgraphs),
                     transitions=_transitions(devices, facts.edges()),
                     folded=tuple(facts.folded), warnings=tuple(warnings))


def _verdict(view: NodeView, platform: Platform, precision: str, batch: int) -> LayerVerdict:
    reasons = check_node(view, platform, precision)
    if batch > platform.max_batch:
        # [TRTlay] "The maximum supported batch size is 4096" (product of all index dims).
        reasons.append(f'batch {batch} larger than the DLA limit {platform.max_batch}')
    if not reasons:
        return LayerVerdict(view.name, view.op, DLA)
    return LayerVerdict(view.name, view.op, GPU, tuple(reasons),
                        tuple(rewrite_hints(view, platform)))


def _load(onnx: Any, path: str) -> Any:
    """:return: the ModelProto at ``path`` without its external data."""
    if not os.path.exists(path):
        raise DlaInferError(f'{path}: no such file')
    if os.path.isdir(path):
        raise DlaInferError(f'{path}: is a directory, not an ONNX file')
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf and onnx raise several types for a non-ONNX file
        raise DlaInferError(f'{path}: not a readable ONNX model ({type(e).__name__}: {e})') from e
    if not model.graph.node:
        raise DlaInferError(f'{path}: not an ONNX model (no graph nodes found)')
    return model


def _dims_text(dims: Sequence[object]) -> str:
    return '[' + ', '.join(str(d) for d in dims) + ']'


def _fixed_inputs(graph: Any, batch: Optional[int]) -> Dict[str, Tuple[Shape, int]]:
    """
    Read the network inputs and fix their batch size.

    :return: input name -> (static shape, ONNX element type).
    :raises DlaInferError: a dynamic dimension that cannot be fixed, or a batch mismatch.
    """
    initializers = {tensor.name for tensor in graph.initializer}
    result = {}
    for value in graph.input:
        if value.name in initializers:
            continue
        if not value.type.HasField('tensor_type') or not value.type.tensor_type.HasField('shape'):
            raise DlaInferError(f'input {value.name!r} has no tensor shape; the DLA needs static '
                                'shapes')
        dims: List[Any] = [
            d.dim_value if d.HasField('dim_value') and d.dim_value > 0 else (d.dim_param or '?')
            for d in value.type.tensor_type.shape.dim]
        if dims and batch is not None:
            if isinstance(dims[0], int) and dims[0] != batch:
                raise DlaInferError(f'batch {batch} requested, but input {value.name!r} has the '
                                    f'fixed shape {_dims_text(dims)}; re-export the model with a '
                                    'dynamic batch axis or leave out the batch size')
            dims[0] = batch
        for axis, dim in enumerate(dims):
            if isinstance(dim, str):
                fix = ('give the batch size (--batch N)' if axis == 0 else
                       're-export the model with fixed channels/height/width')
                raise DlaInferError(f'input {value.name!r} has the dynamic shape '
                                    f'{_dims_text(dims)} (axis {axis} is {dim!r}); the DLA needs '
                                    f'static shapes: {fix}')
        result[value.name] = (tuple(int(d) for d in dims), value.type.tensor_type.elem_type)
    return result


class _ModelFacts:
    """Static shapes, build-time constants and the real layers of one model."""

    def __init__(self, onnx: Any, model: Any, batch: Optional[int]) -> None:
        self._onnx = onnx
        self.opsets = {('' if o.domain == 'ai.onnx' else o.domain): int(o.version)
                       for o in model.opset_import}
        self.inputs = _fixed_inputs(model.graph, batch)
        self.shapes: Dict[str, Shape] = {}
        self.dtypes: Dict[str, str] = {}
        self._infer(model)
        self.constants: Set[str] = {tensor.name for tensor in model.graph.initializer}
        self.values: Dict[str, np.ndarray] = {}
        for tensor in model.graph.initializer:
            if _is_small(onnx, tensor, _SMALL_VALUE):
                self.values[tensor.name] = onnx.numpy_helper.to_array(tensor)
        self.alias: Dict[str, str] = {}
        self.folded: List[str] = []
        self.layers: List[Tuple[str, Any, List[str]]] = []
        self._classify(model.graph)
        self._edges: Optional[List[Tuple[int, int, str]]] = None

    def _light_copy(self, model: Any) -> Any:
        """:return: the model without its large weights, inputs fixed, for shape inference."""
        helper = self._onnx.helper
        graph = model.graph
        small = [t for t in graph.initializer if _is_small(self._onnx, t, _SMALL_INITIALIZER)]
        small_names = {t.name for t in small}
        inputs = [helper.make_tensor_value_info(name, elem, list(shape))
                  for name, (shape, elem) in self.inputs.items()]
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                   for t in graph.initializer if t.name not in small_names]
        outputs = [helper.make_tensor_value_info(o.name, o.type.tensor_type.elem_type, None)
                   for o in graph.output]
        light_graph = helper.make_graph(list(graph.node), graph.name or 'model', inputs, outputs,
                                        initializer=small)
        light = helper.make_model(light_graph, opset_imports=list(model.opset_import),
                                  ir_version=model.ir_version)
        light.functions.extend(model.functions)
        return light

    def _infer(self, model: Any) -> None:
        try:
            inferred = self._onnx.shape_inference.infer_shapes(
                self._light_copy(model), check_type=False, strict_mode=False, data_prop=True)
        except Exception as e:  # onnx raises InferenceError, ValidationError, RuntimeError
            raise DlaInferError(f'ONNX shape inference failed: {e}') from e
        for tensor in model.graph.initializer:
            self.shapes[tensor.name] = tuple(int(d) for d in tensor.dims)
            self.dtypes[tensor.name] = _dtype_name(self._onnx, tensor.data_type)
        graph = inferred.graph
        for value in list(graph.input) + list(graph.value_info) + list(graph.output):
            tensor_type = value.type.tensor_type
            self.dtypes.setdefault(value.name, _dtype_name(self._onnx, tensor_type.elem_type))
            dims = tensor_type.shape.dim if tensor_type.HasField('shape') else None
            if dims is not None and all(d.HasField('dim_value') for d in dims):
                self.shapes.setdefault(value.name, tuple(int(d.dim_value) for d in dims))

    def _classify(self, graph: Any) -> None:
        """Split the nodes into folded ones (constants, pass-through) and real layers."""
        taken: Set[str] = set()
        for index, node in enumerate(graph.node):
            name = node.name or f'{node.op_type}_{index}'
            while name in taken:
                name += '_'
            taken.add(name)
            inputs = [self.alias.get(i, i) for i in node.input]
            default_domain = node.domain in ('', 'ai.onnx')
            if default_domain and node.op_type in _PASS_THROUGH and inputs and inputs[0]:
                self.alias[node.output[0]] = inputs[0]
                self.folded.append(name)
                continue
            real = [i for i in inputs if i]
            if default_domain and (node.op_type in ('Constant', 'Shape', 'Size') or
                                   (real and all(i in self.constants for i in real))):
                self.constants.update(o for o in node.output if o)
                self._fold_value(node, inputs)
                self.folded.append(name)
                continue
            self.layers.append((name, node, inputs))

    def _fold_value(self, node: Any, inputs: List[str]) -> None:
        """Keep the value of a small Constant, or of Shape on a static tensor."""
        onnx = self._onnx
        if node.op_type == 'Shape' and inputs[0] in self.shapes:
            shape = self.shapes[inputs[0]]
            start, end = _node_attr(onnx, node, 'start', 0), _node_attr(onnx, node, 'end', None)
            self.values[node.output[0]] = np.asarray(shape[start:end], dtype=np.int64)
        if node.op_type != 'Constant':
            return
        for attribute in node.attribute:
            value = onnx.helper.get_attribute_value(attribute)
            if attribute.name == 'value':
                array = onnx.numpy_helper.to_array(value)
            elif attribute.name in ('value_float', 'value_floats', 'value_int', 'value_ints'):
                array = np.asarray(value)
            else:
                continue
            if array.size <= _SMALL_VALUE:
                self.values[node.output[0]] = array

    def view(self, index: int) -> NodeView:
        """:return: layer ``index`` as the rules see it."""
        name, node, inputs = self.layers[index]
        outputs = [o for o in node.output if o]
        helper = self._onnx.helper
        return NodeView(
            name=name, op=node.op_type,
            attrs={a.name: helper.get_attribute_value(a) for a in node.attribute},
            input_shapes=tuple(self.shapes.get(i) if i else None for i in inputs),
            output_shapes=tuple(self.shapes.get(o) for o in outputs),
            constant_inputs=frozenset(k for k, i in enumerate(inputs) if i in self.constants),
            constant_values={k: self.values[i] for k, i in enumerate(inputs) if i in self.values},
            output_dtypes=tuple(self.dtypes.get(o, '') for o in outputs),
            missing_inputs=frozenset(k for k, i in enumerate(inputs) if not i),
            domain=node.domain,
            opset=self.opsets.get('' if node.domain == 'ai.onnx' else node.domain, 0))

    def edges(self) -> List[Tuple[int, int, str]]:
        """:return: (producer layer, consumer layer, tensor) for every data edge between layers."""
        if self._edges is None:
            producer = {o: index for index, (_, node, _) in enumerate(self.layers)
                        for o in node.output if o}
            self._edges = [(producer[t], index, t)
                           for index, (_, _, inputs) in enumerate(self.layers)
                           for t in inputs if t in producer]
        return self._edges

    def effective_batch(self) -> int:
        """:return: the DLA batch: product of all dims but C, H, W of the inputs ([TRTlay])."""
        batches = [int(np.prod(shape[:-3])) if len(shape) >= 4 else shape[0]
                   for shape, _ in self.inputs.values() if len(shape) >= 2]
        return max(batches, default=1)


def _node_attr(onnx: Any, node: Any, key: str, default: Any) -> Any:
    """:return: attribute ``key`` of an ONNX node, or ``default``."""
    for attribute in node.attribute:
        if attribute.name == key:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _is_small(onnx: Any, tensor: Any, limit: int) -> bool:
    external = tensor.data_location == onnx.TensorProto.EXTERNAL
    return not external and int(np.prod(tensor.dims)) <= limit


def _dtype_name(onnx: Any, elem_type: int) -> str:
    try:
        return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name)
    except (KeyError, TypeError, ValueError):
        return ''


def _flattens_all(view: NodeView) -> bool:
    """:return: True for a reshape of [N, ...] to [N, features], what a FullyConnected takes."""
    shape_in, shape_out = view.shape(0), view.out_shape()
    return (shape_in is not None and shape_out is not None and len(shape_in) >= 2
            and len(shape_out) == 2 and shape_out[0] == shape_in[0])


def _fc_flattens(facts: _ModelFacts, views: Sequence[NodeView]) -> Dict[int, List[int]]:
    """
    Find the flattens that TensorRT folds into a fully connected layer.

    A Flatten/Reshape/Squeeze of [N, C, H, W] to [N, C*H*W] whose only consumers are
    Gemm/MatMul nodes becomes part of the FullyConnected layer, which flattens C, H, W
    itself ([NvI85] IFullyConnectedLayer; [DLAtut]: the Gemm of an ONNX model and its
    flatten form one DLA ForeignNode on Orin).

    :return: flatten layer index -> indices of the fully connected layers it feeds.
    """
    consumers: Dict[int, List[int]] = {}
    for producer, consumer, _ in facts.edges():
        consumers.setdefault(producer, []).append(consumer)
    result = {}
    for index, view in enumerate(views):
        users = consumers.get(index, [])
        if (view.op in _FLATTEN_OPS and users and _flattens_all(view)
                and all(views[u].op in _FC_OPS and views[u].shape(0) == view.out_shape()
                        for u in users)):
            result[index] = users
    return result


def _fold_flattens(views: List[NodeView], flattens: Dict[int, List[int]]) -> List[NodeView]:
    """:return: the views with each fed FullyConnected seeing the tensor before the flatten."""
    result = list(views)
    for index, users in flattens.items():
        for user in users:
            view = result[user]
            result[user] = dataclasses.replace(
                view, input_shapes=(views[index].shape(0),) + view.input_shapes[1:],
                attrs={**view.attrs, 'flattened_input': 1})
    return result


def _place_flattens(verdicts: List[LayerVerdict], facts: _ModelFacts,
                    flattens: Dict[int, List[int]]) -> List[LayerVerdict]:
    """
    Put folded flattens where their fully connected layers run; hint the others.

    A GPU shuffle next to a Gemm/MatMul gets the 1x1-Conv head hint ([DLASWr50]).
    """
    result = list(verdicts)
    neighbours: Dict[int, List[int]] = {}
    for producer, consumer, _ in facts.edges():
        neighbours.setdefault(producer, []).append(consumer)
        neighbours.setdefault(consumer, []).append(producer)
    for index, verdict in enumerate(verdicts):
        if verdict.device != GPU or verdict.op not in _FLATTEN_OPS:
            continue
        if index in flattens and all(verdicts[u].device == DLA for u in flattens[index]):
            result[index] = LayerVerdict(verdict.name, verdict.op, DLA)
        elif (any(verdicts[n].op in _FC_OPS for n in neighbours.get(index, []))
              and HEAD_HINT not in verdict.hints):
            result[index] = dataclasses.replace(verdict, hints=verdict.hints + (HEAD_HINT,))
    return result


def _topological(count: int, edges: Sequence[Tuple[int, int, str]]) -> List[int]:
    """:return: layer indices with every producer before its consumers (Kahn's algorithm)."""
    indegree = [0] * count
    successors: List[List[int]] = [[] for _ in range(count)]
    for producer, consumer, _ in edges:
        indegree[consumer] += 1
        successors[producer].append(consumer)
    ready = collections.deque(i for i in range(count) if indegree[i] == 0)
    order = []
    while ready:
        index = ready.popleft()
        order.append(index)
        for successor in successors[index]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                ready.append(successor)
    placed = set(order)
    return order + [i for i in range(count) if i not in placed]  # cycles: keep file order


def _dla_subgraphs(devices: Sequence[str],
                   edges: Sequence[Tuple[int, int, str]]) -> List[List[int]]:
    """
    Group the DLA layers into the subgraphs (loadables) TensorRT can form.

    Each layer gets the number of device changes on the longest path that reaches
    it; DLA layers joined by an edge and with the same number form one subgraph, so
    no subgraph contains a path that leaves it for the GPU and comes back.
    """
    predecessors: List[List[int]] = [[] for _ in devices]
    for producer, consumer, _ in edges:
        predecessors[consumer].append(producer)
    stage = [0] * len(devices)
    for index in _topological(len(devices), edges):
        for producer in predecessors[index]:
            change = int(devices[producer] != devices[index])
            stage[index] = max(stage[index], stage[producer] + change)
    parent = list(range(len(devices)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for producer, consumer, _ in edges:
        if devices[producer] == devices[consumer] == DLA and stage[producer] == stage[consumer]:
            parent[root(consumer)] = root(producer)
    groups: Dict[int, List[int]] = {}
    for index, device in enumerate(devices):
        if device == DLA:
            groups.setdefault(root(index), []).append(index)
    return sorted(groups.values(), key=lambda group: group[0])


def _transitions(devices: Sequence[str], edges: Sequence[Tuple[int, int, str]]) -> int:
    """:return: tensors handed between a GPU and a DLA layer, once per receiving device."""
    crossings: Set[Tuple[str, str]] = {(tensor, devices[consumer])
                                       for producer, consumer, tensor in edges
                                       if devices[producer] != devices[consumer]}
    return len(crossings)
