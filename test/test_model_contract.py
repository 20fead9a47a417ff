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


"""Model contract files: loading, validation, defaults."""

import json
import os
from typing import Optional, Tuple

import pytest

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import (contract_path_for, DEFAULT_MODEL_PATH, load_contract,
                                          load_labels, resolve_model)

GOOD = {
    'format': 'dla_infer_ros/model-contract-1', 'name': 'm', 'model': 'm.onnx', 'labels': 'l.txt',
    'input': {'name': 'x', 'channels': 1, 'channel_order': 'GRAY', 'height': 8, 'width': 8,
              'mean': [0.0], 'std': [1.0], 'resize': 'stretch'},
    'output': {'name': 'y', 'kind': 'probabilities'},
}


def _write(folder: str, contract: dict) -> str:
    path = os.path.join(folder, 'm.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(contract, f)
    for name in ('m.onnx', 'l.txt'):
        with open(os.path.join(folder, name), 'w', encoding='utf-8') as f:
            f.write('a\nb\n')
    return path


def test_loads_fields_and_resolves_paths(tmp_path: object) -> None:
    contract = load_contract(_write(str(tmp_path), GOOD))
    assert contract.model_path == os.path.join(str(tmp_path), 'm.onnx')
    assert contract.input_contract.channel_order == 'GRAY'
    assert contract.input_contract.mean == (0.0,)
    assert (contract.output_name, contract.output_kind) == ('y', 'probabilities')


def test_resolve_model_uses_contract_next_to_model(tmp_path: object) -> None:
    _write(str(tmp_path), GOOD)
    contract = resolve_model(os.path.join(str(tmp_path), 'm.onnx'))
    assert contract.name == 'm'
    assert contract_path_for('/a/b.onnx') == '/a/b.json'


@pytest.mark.parametrize('change,match', [
    ({'format': 'other'}, 'not a model contract'),
    ({'input': {**GOOD['input'], 'channels': 3}}, 'does not fit channel_order=GRAY'),
    ({'input': {**GOOD['input'], 'resize': 'zoom'}}, "input.resize='zoom'"),
    ({'input': {**GOOD['input'], 'std': [0.0]}}, 'std contains 0'),
    ({'input': {**GOOD['input'], 'mean': [0.0, 0.0]}}, 'mean has 2 values'),
    ({'input': {**GOOD['input'], 'colour': 1}}, "unknown input keys \\['colour'\\]"),
    ({'output': {'kind': 'boxes'}}, "output.kind='boxes'"),
])
def test_bad_contracts_rejected(tmp_path: object, change: dict, match: str) -> None:
    with pytest.raises(DlaInferError, match=match):
        load_contract(_write(str(tmp_path), {**GOOD, **change}))


def test_missing_files_rejected(tmp_path: object) -> None:
    with pytest.raises(DlaInferError, match='no such file'):
        resolve_model(os.path.join(str(tmp_path), 'none.onnx'))
    model = os.path.join(str(tmp_path), 'lonely.onnx')
    open(model, 'w').close()
    with pytest.raises(DlaInferError, match='has no contract file'):
        resolve_model(model)
    with pytest.raises(DlaInferError, match='not valid JSON'):
        with open(os.path.join(str(tmp_path), 'lonely.json'), 'w') as f:
            f.write('{')
        resolve_model(model)


def test_labels_count_checked(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), 'labels.txt')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('cat\ndog\n')
    assert load_labels(path, 2) == ('cat', 'dog')
    with pytest.raises(DlaInferError) as error:
        load_labels(path, 3)
    assert str(error.value) == f'labels file {path} has 2 labels, the model has 3 classes'


@pytest.mark.parametrize('text, labels', [
    ('cat\ndog', ('cat', 'dog')),  # no newline at the end
    ('cat\r\ndog\r\n', ('cat', 'dog')),  # written on Windows
    ('cat\ndog\n\n  \n', ('cat', 'dog')),  # blank lines at the end
    (' tabby cat \ndog\n', (' tabby cat ', 'dog')),  # the label as written
])
def test_labels_read_in_class_order(tmp_path: object, text: str,
                                    labels: Tuple[str, ...]) -> None:
    path = os.path.join(str(tmp_path), 'labels.txt')
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(text)
    assert load_labels(path, 2) == labels


@pytest.mark.parametrize('content, expected, message', [
    (b'', 3, 'labels file {} is empty; the model has 3 classes'),
    (b'\n\n \n', None, 'labels file {} is empty'),
    (b'cat\n\ndog\n', 2, 'labels file {}: line 2 is blank (1 blank line(s) before the last '
     'label); give every class a label, one per line, in class order'),
    (b'\ncat\ndog\nbird\n', 4, 'labels file {}: line 1 is blank'),
    (b'cat\n\xff\xfe\n', 2, 'labels file {} is not UTF-8 text (invalid start byte at byte 4)'),
])
def test_unusable_labels_are_named(tmp_path: object, content: bytes, expected: Optional[int],
                                   message: str) -> None:
    path = os.path.join(str(tmp_path), 'labels.txt')
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(DlaInferError) as error:
        load_labels(path, expected)
    assert str(error.value).startswith(message.format(path)), error.value


def test_resolve_model_refuses_an_empty_labels_file(tmp_path: object) -> None:
    _write(str(tmp_path), GOOD)
    empty = os.path.join(str(tmp_path), 'empty.txt')
    open(empty, 'w').close()
    with pytest.raises(DlaInferError, match=f'labels file {empty} is empty'):
        resolve_model(os.path.join(str(tmp_path), 'm.onnx'), empty)


def test_default_model_is_embedded() -> None:
    assert os.path.isfile(DEFAULT_MODEL_PATH), 'the embedded default model is missing'
    contract = resolve_model('')
    assert contract.name == 'efficientnet_lite0'
    assert len(load_labels(contract.labels_path)) == 1000
