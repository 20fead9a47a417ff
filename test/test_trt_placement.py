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


"""Layer placement from the builder config and from the engine inspector's JSON."""

import json
from typing import Any, List, Set

from fake_cuda import FakeCudaApi
from fake_tensorrt import FakeWorld, make_fake_tensorrt
import pytest

from dla_infer_ros.backends.base import LayerPlacement
from dla_infer_ros.backends.tensorrt.placement import (placement_from_inspector,
                                                       placement_from_meta,
                                                       placement_from_network,
                                                       placement_to_meta)
from dla_infer_ros.errors import DlaInferError


def configured(version: str, unsupported: Set[str], on_dla: bool) -> Any:
    world = FakeWorld(cuda=FakeCudaApi(), dla_unsupported=unsupported)
    trt = make_fake_tensorrt(version, world)
    network = trt.INetworkDefinition(0)
    network._layers = [trt.ILayer(n) for n in ('conv', 'relu', 'gap', 'softmax')]
    config = trt.IBuilderConfig()
    if on_dla:
        config.default_device_type = trt.DeviceType.DLA
    return trt, config, network


@pytest.mark.parametrize('version', ['8.6.1', '10.3.0'])
def test_dla_layers_the_dla_cannot_run_fall_back(version: str) -> None:
    trt, config, network = configured(version, {'gap', 'softmax'}, on_dla=True)
    placement = placement_from_network(trt, config, network, on_dla=True)
    assert placement.layers == (('conv', 'DLA'), ('relu', 'DLA'), ('gap', 'GPU'),
                                ('softmax', 'GPU'))
    assert placement.fallen_back == ('gap', 'softmax')
    assert placement.summary() == 'layers: 2 on DLA, 2 on GPU (2 fell back to GPU)'


def test_gpu_builds_place_everything_on_the_gpu() -> None:
    trt, config, network = configured('10.3.0', {'gap'}, on_dla=False)
    placement = placement_from_network(trt, config, network, on_dla=False)
    assert placement.counts() == {'GPU': 4} and placement.fallen_back == ()


def inspector(layers: List[Any]) -> str:
    return json.dumps({'Layers': layers, 'Bindings': ['input', 'prob']})


def test_inspector_names_only_on_a_dla_engine() -> None:
    text = inspector(['input to nvm', '{ForeignNode[conv1...relu5]}', 'prob from nvm',
                      'input copy finish', 'prob copy finish', 'Reformatting CopyNode', 'softmax'])
    placement = placement_from_inspector(text, on_dla=True)
    assert placement.layers == (('{ForeignNode[conv1...relu5]}', 'DLA'), ('softmax', 'GPU'))
    assert placement.reformats == ('input to nvm', 'prob from nvm', 'input copy finish',
                                   'prob copy finish', 'Reformatting CopyNode')
    # the transfers between GPU and DLA memory tell a DLA engine loaded without a core
    assert placement_from_inspector(text, on_dla=False) == placement


def test_inspector_reformat_layers_are_counted_apart() -> None:
    text = inspector([{'Name': 'Reformatting CopyNode for Input Tensor 0 to conv',
                       'LayerType': 'Reformat'},
                      {'Name': 'conv', 'LayerType': 'CaskConvolution'},
                      {'Name': 'conv_out_reformat', 'LayerType': 'Reformat'}])
    placement = placement_from_inspector(text, on_dla=False)
    assert placement.layers == (('conv', 'GPU'),)
    assert placement.summary() == 'layers: 1 on GPU; 2 reformat layers'


def test_inspector_detailed_layers() -> None:
    text = inspector([{'Name': '{ForeignNode[a...b]}', 'LayerType': 'Myelin'},
                      {'Name': 'conv', 'LayerType': 'CaskConvolution'},
                      {'Name': 'dla_part', 'LayerType': 'DLA'}])
    assert placement_from_inspector(text, on_dla=True).layers == (
        ('{ForeignNode[a...b]}', 'GPU'), ('conv', 'GPU'), ('dla_part', 'DLA'))
    # on a GPU engine a ForeignNode is a Myelin subgraph, not a DLA loadable
    assert placement_from_inspector(inspector(['{ForeignNode[a...b]}']), False).counts() == {
        'GPU': 1}


@pytest.mark.parametrize('text', ['', 'not json', '{"Bindings": []}', '[1, 2]'])
def test_unreadable_inspector_output(text: str) -> None:
    with pytest.raises(DlaInferError, match='unreadable engine inspector output'):
        placement_from_inspector(text, on_dla=False)


def test_meta_round_trip() -> None:
    placement = LayerPlacement((('a', 'DLA'), ('b', 'GPU')), ('b',))
    assert placement_from_meta(json.loads(json.dumps(placement_to_meta(placement)))) == placement
    assert placement_from_meta({}) == LayerPlacement()
