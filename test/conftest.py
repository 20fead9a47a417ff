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

"""Shared fixtures: tiny ONNX classifiers built in place, no downloads."""

import importlib
import json
import os
import sys
from types import ModuleType
from typing import Callable

import numpy as np
import pytest

from dla_infer_ros._optional import is_available


TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tools')


def import_tool(name: str) -> ModuleType:
    """:return: ``tools/<name>.py`` imported (it may import its siblings in ``tools/``)."""
    sys.path.insert(0, TOOLS)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(TOOLS)


def write_tiny_classifier(folder: str, batch: object = 1, classes: int = 4,
                          size: int = 8, kind: str = 'logits') -> str:
    """
    Write a tiny RGB classifier (mean colour -> linear layer) and its contract.

    The linear layer maps the mean of each channel to a class, so a red image
    is class 0, green class 1, blue class 2.

    :return: path of the ONNX file.
    """
    import onnx
    from onnx import helper, TensorProto
    weights = np.zeros((classes, 3), dtype=np.float32)
    weights[0, 0] = weights[1, 1] = weights[2, 2] = 10.0
    nodes = [
        helper.make_node('GlobalAveragePool', ['input'], ['pooled']),
        helper.make_node('Flatten', ['pooled'], ['flat']),
        helper.make_node('Gemm', ['flat', 'W', 'B'], ['logits'], transB=1),
    ]
    if kind == 'probabilities':
        nodes[-1].output[0] = 'raw'
        nodes.append(helper.make_node('Softmax', ['raw'], ['logits'], axis=1))
    graph = helper.make_graph(
        nodes, 'tiny',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [batch, classes])],
        [helper.make_tensor('W', TensorProto.FLOAT, weights.shape, weights.ravel()),
         helper.make_tensor('B', TensorProto.FLOAT, [classes], np.zeros(classes))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    path = os.path.join(folder, 'tiny.onnx')
    onnx.save(model, path)
    labels = ['red', 'green', 'blue', 'other'][:classes] + [
        f'class{i}' for i in range(4, classes)]
    with open(os.path.join(folder, 'tiny_labels.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(labels) + '\n')
    contract = {
        'format': 'dla_infer_ros/model-contract-1', 'name': 'tiny', 'model': 'tiny.onnx',
        'labels': 'tiny_labels.txt',
        'input': {'name': 'input', 'layout': 'NCHW', 'channels': 3, 'height': size,
                  'width': size, 'dtype': 'float32', 'channel_order': 'RGB',
                  'resize': 'stretch', 'scale': 1.0 / 255.0, 'mean': [0.0, 0.0, 0.0],
                  'std': [1.0, 1.0, 1.0]},
        'output': {'name': 'logits', 'kind': kind}}
    with open(os.path.join(folder, 'tiny.json'), 'w', encoding='utf-8') as f:
        json.dump(contract, f)
    return path


needs_onnxruntime = pytest.mark.skipif(
    not (is_available('onnxruntime') and is_available('onnx')),
    reason='onnxruntime and onnx are not installed (tools/bootstrap.sh installs them)')


@pytest.fixture
def tiny_model(tmp_path: 'os.PathLike[str]') -> str:
    """:return: path of a tiny 4-class RGB classifier with its contract."""
    if not is_available('onnx'):
        pytest.skip('onnx is not installed (tools/bootstrap.sh installs it)')
    return write_tiny_classifier(str(tmp_path))


@pytest.fixture
def tiny_model_factory(tmp_path: 'os.PathLike[str]') -> Callable[..., str]:
    """:return: a function writing tiny classifiers with chosen batch/classes."""
    if not is_available('onnx'):
        pytest.skip('onnx is not installed (tools/bootstrap.sh installs it)')
    counter = [0]

    def make(**kwargs: object) -> str:
        counter[0] += 1
        folder = os.path.join(str(tmp_path), f'm{counter[0]}')
        os.makedirs(folder)
        return write_tiny_classifier(folder, **kwargs)  # type: ignore[arg-type]
    return make
