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
Which layers run on the DLA and which on the GPU.

At build time the builder config knows, for every network layer, the device
it was assigned (``get_device_type``) and whether the DLA can run it
(``can_run_on_DLA``): a DLA layer the DLA cannot run falls back to the GPU.
That per-layer placement is stored in the engine cache file, so a cached
engine reports it too. A loaded engine is also described by TensorRT's engine
inspector (JSON); its DLA subgraphs appear as ``{ForeignNode[...]}`` layers.
"""

import json
import re
from types import ModuleType
from typing import Any, Dict, List, Mapping, Tuple

from dla_infer_ros.backends.base import LayerPlacement
from dla_infer_ros.errors import DlaInferError

#: engine layers that only move data between GPU and DLA memory
_TRANSFER_LAYER = re.compile(r' (to nvm|from nvm|copy finish)$')
#: engine layers that only convert a tensor between formats or precisions
_REFORMAT_NAME = re.compile(r'^Reformatting CopyNode|^reformatted input|\bReformat\b')


def placement_from_network(trt: ModuleType, config: Any, network: Any,
                           on_dla: bool) -> LayerPlacement:
    """
    Read the planned device of every layer from a configured builder.

    :param trt: the imported ``tensorrt`` module.
    :param config: the ``IBuilderConfig`` (device type, DLA core already set).
    :param network: the parsed ``INetworkDefinition``.
    :param on_dla: whether the default device is a DLA core.
    :return: per-layer devices; ``fallen_back`` lists DLA layers the DLA cannot run.
    """
    layers: List[Tuple[str, str]] = []
    fallen_back: List[str] = []
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        wants_dla = on_dla and config.get_device_type(layer) == trt.DeviceType.DLA
        if wants_dla and config.can_run_on_DLA(layer):
            layers.append((layer.name, 'DLA'))
        else:
            layers.append((layer.name, 'GPU'))
            if wants_dla:
                fallen_back.append(layer.name)
    return LayerPlacement(tuple(layers), tuple(fallen_back))


def engine_information(trt: ModuleType, engine: Any) -> str:
    """
    Describe a deserialized engine with TensorRT's engine inspector.

    :return: the inspector's JSON text.
    :raises DlaInferError: when the inspector cannot be created.
    """
    inspector = engine.create_engine_inspector()
    if inspector is None:
        raise DlaInferError('TensorRT could not create an engine inspector')
    return str(inspector.get_engine_information(trt.LayerInformationFormat.JSON))


def placement_from_inspector(info_json: str, on_dla: bool) -> LayerPlacement:
    """
    Classify the layers of an engine from the inspector's JSON.

    With ``ProfilingVerbosity.DETAILED`` each layer is an object whose
    ``LayerType`` may name the DLA; otherwise only names are listed. In an
    engine built for the DLA, ``{ForeignNode[...]}`` layers are DLA loadables
    (on the GPU the same name marks Myelin subgraphs, whose LayerType says
    so). Reformat layers (``LayerType`` ``Reformat``) and the transfers between
    GPU and DLA memory are listed apart in ``reformats``; those transfers also
    mark an engine as a DLA engine when ``on_dla`` was not known (a plan file
    loaded without a DLA core).

    :param info_json: ``get_engine_information(LayerInformationFormat.JSON)``.
    :param on_dla: whether the engine was deserialized for a DLA core.
    :raises DlaInferError: when the text is not the inspector's JSON.
    """
    try:
        info = json.loads(info_json)
        entries = info['Layers']
    except (ValueError, KeyError, TypeError) as e:
        raise DlaInferError(f'unreadable engine inspector output ({e})') from e
    layers: List[Tuple[str, str]] = []
    reformats: List[str] = []
    names = [str(e.get('Name', '')) if isinstance(e, dict) else str(e) for e in entries]
    # GPU<->DLA memory transfers exist only in engines with DLA loadables
    on_dla = on_dla or any(_TRANSFER_LAYER.search(name) for name in names)
    for entry in entries:
        name = str(entry.get('Name', '')) if isinstance(entry, dict) else str(entry)
        layer_type = str(entry.get('LayerType', '')) if isinstance(entry, dict) else ''
        if (_TRANSFER_LAYER.search(name) or layer_type.lower() == 'reformat'
                or (not layer_type and _REFORMAT_NAME.search(name))):
            reformats.append(name)
            continue
        on_dla_layer = 'dla' in layer_type.lower() or (
            on_dla and name.startswith('{ForeignNode[') and layer_type.lower() != 'myelin')
        layers.append((name, 'DLA' if on_dla_layer else 'GPU'))
    return LayerPlacement(tuple(layers), reformats=tuple(reformats))


def placement_to_meta(placement: LayerPlacement) -> Dict[str, Any]:
    """:return: a JSON-ready form, stored beside a cached plan."""
    return {'layers': [list(entry) for entry in placement.layers],
            'fallen_back': list(placement.fallen_back)}


def placement_from_meta(meta: Mapping[str, Any]) -> LayerPlacement:
    """:return: the placement stored by :func:`placement_to_meta` (empty if absent)."""
    layers = tuple((str(name), str(device)) for name, device in meta.get('layers', []))
    return LayerPlacement(layers, tuple(str(n) for n in meta.get('fallen_back', [])))
