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
The model contract: what a model expects as input and what it emits.

A contract is a JSON file next to the model (``<model>.json``) recording the
input tensor, the preprocessing the weights were trained with and the kind of
output. The embedded default model (EfficientNet-Lite0, ImageNet) ships with one.
"""

import dataclasses
import json
import os
from typing import Any, Dict, Optional, Tuple

from dla_infer_ros.errors import DlaInferError

CONTRACT_FORMAT = 'dla_infer_ros/model-contract-1'
RESIZE_MODES = ('stretch', 'center_crop', 'letterbox')
CHANNEL_ORDERS = ('RGB', 'BGR', 'GRAY')
LAYOUTS = ('NCHW', 'NHWC')
OUTPUT_KINDS = ('logits', 'probabilities')
DTYPES = ('float32', 'float16', 'uint8')

_MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models')
DEFAULT_MODEL_PATH = os.path.join(_MODELS_DIR, 'efficientnet_lite0.onnx')


@dataclasses.dataclass(frozen=True)
class InputContract:
    """The input tensor and the preprocessing the model was trained with."""

    name: str = 'input'
    layout: str = 'NCHW'
    channels: int = 3
    height: int = 224
    width: int = 224
    dtype: str = 'float32'
    channel_order: str = 'RGB'
    resize: str = 'center_crop'
    crop_fraction: float = 0.875
    interpolation: str = 'linear'
    scale: float = 1.0 / 255.0
    mean: Tuple[float, ...] = (0.485, 0.456, 0.406)
    std: Tuple[float, ...] = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class ModelContract:
    """A model file, its labels and its input/output contract."""

    name: str
    model_path: str
    labels_path: str
    input_contract: InputContract
    output_name: str = 'logits'
    output_kind: str = 'logits'


def _check_choice(field: str, value: Any, choices: Tuple[str, ...], path: str) -> None:
    if value not in choices:
        raise DlaInferError(f'{path}: {field}={value!r}; expected one of {", ".join(choices)}')


def _input_from_dict(raw: Dict[str, Any], path: str) -> InputContract:
    known = {f.name for f in dataclasses.fields(InputContract)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DlaInferError(f'{path}: unknown input keys {unknown}; known: {sorted(known)}')
    values = dict(raw)
    for key in ('mean', 'std'):
        if key in values:
            values[key] = tuple(float(v) for v in values[key])
    contract = InputContract(**values)
    _check_choice('input.layout', contract.layout, LAYOUTS, path)
    _check_choice('input.channel_order', contract.channel_order, CHANNEL_ORDERS, path)
    _check_choice('input.resize', contract.resize, RESIZE_MODES, path)
    _check_choice('input.dtype', contract.dtype, DTYPES, path)
    expected_channels = 1 if contract.channel_order == 'GRAY' else 3
    if contract.channels != expected_channels:
        raise DlaInferError(f'{path}: input.channels={contract.channels} does not fit '
                            f'channel_order={contract.channel_order}')
    for key in ('mean', 'std'):
        if len(getattr(contract, key)) != contract.channels:
            raise DlaInferError(f'{path}: input.{key} has {len(getattr(contract, key))} values, '
                                f'the input has {contract.channels} channels')
    if any(s == 0 for s in contract.std):
        raise DlaInferError(f'{path}: input.std contains 0')
    if not (0.0 < contract.crop_fraction <= 1.0):
        raise DlaInferError(f'{path}: input.crop_fraction={contract.crop_fraction}; '
                            'expected 0 < crop_fraction <= 1')
    if contract.height <= 0 or contract.width <= 0:
        raise DlaInferError(f'{path}: input size {contract.width}x{contract.height} is empty')
    return contract


def load_contract(path: str) -> ModelContract:
    """
    Read a contract file.

    :param path: the JSON contract (model and labels are resolved next to it).
    :return: the contract.
    :raises DlaInferError: if the file is missing, malformed or inconsistent.
    """
    try:
        with open(path, encoding='utf-8') as f:
            raw = json.load(f)
    except OSError as e:
        raise DlaInferError(f'cannot read model contract {path}: {e.strerror}') from e
    except json.JSONDecodeError as e:
        raise DlaInferError(f'model contract {path} is not valid JSON: {e}') from e
    if not isinstance(raw, dict) or raw.get('format') != CONTRACT_FORMAT:
        raise DlaInferError(f'{path}: not a model contract (format must be {CONTRACT_FORMAT!r})')
    base = os.path.dirname(os.path.abspath(path))
    try:
        output = raw.get('output', {})
        contract = ModelContract(
            name=str(raw['name']),
            model_path=os.path.join(base, raw['model']),
            labels_path=os.path.join(base, raw['labels']) if raw.get('labels') else '',
            input_contract=_input_from_dict(raw['input'], path),
            output_name=str(output.get('name', 'logits')),
            output_kind=str(output.get('kind', 'logits')))
    except (KeyError, TypeError) as e:
        raise DlaInferError(f'{path}: missing or malformed field {e}') from e
    _check_choice('output.kind', contract.output_kind, OUTPUT_KINDS, path)
    return contract


def contract_path_for(model_path: str) -> str:
    """:return: the contract file that belongs to ``model_path`` (``x.onnx`` -> ``x.json``)."""
    return os.path.splitext(model_path)[0] + '.json'


def resolve_model(model_path: str = '', labels_path: str = '') -> ModelContract:
    """
    Find the contract of a model, with the embedded default for empty paths.

    :param model_path: model file; empty for the embedded default model.
    :param labels_path: labels file overriding the contract's; empty keeps it.
    :return: the contract, with paths checked to exist.
    :raises DlaInferError: if the model, its contract or the labels are missing, or
        the labels file is empty or has blank lines.
    """
    model_path = model_path or DEFAULT_MODEL_PATH
    if not os.path.isfile(model_path):
        raise DlaInferError(f'model_path={model_path!r}: no such file')
    contract_file = contract_path_for(model_path)
    if not os.path.isfile(contract_file):
        raise DlaInferError(f'model_path={model_path!r} has no contract file {contract_file!r} '
                            'describing its input and preprocessing')
    contract = load_contract(contract_file)
    contract = dataclasses.replace(contract, model_path=os.path.abspath(model_path))
    if labels_path:
        contract = dataclasses.replace(contract, labels_path=labels_path)
    if contract.labels_path and not os.path.isfile(contract.labels_path):
        raise DlaInferError(f'labels_path={contract.labels_path!r}: no such file')
    load_labels(contract.labels_path)  # empty or blank lines: refused before the model loads
    return contract


def load_labels(path: str, expected: Optional[int] = None) -> Tuple[str, ...]:
    """
    Read a labels file, one label per line, in class order.

    Blank lines at the end are ignored; a blank line before the last label is
    refused, since skipping it would shift every later label to the wrong class.

    :param path: the file; empty gives no labels.
    :param expected: the number of model classes, checked when given.
    :return: the labels in class order.
    :raises DlaInferError: if unreadable, empty, with a blank line, or of the wrong length.
    """
    if not path:
        return ()
    try:
        with open(path, encoding='utf-8') as f:
            lines = [line.rstrip('\n') for line in f]
    except OSError as e:
        raise DlaInferError(f'cannot read labels {path}: {e.strerror}') from e
    except UnicodeDecodeError as e:
        raise DlaInferError(f'labels file {path} is not UTF-8 text ({e.reason} at byte '
                            f'{e.start})') from e
    while lines and not lines[-1].strip():
        lines.pop()
    classes = '' if expected is None else f'; the model has {expected} classes'
    if not lines:
        raise DlaInferError(f'labels file {path} is empty{classes}')
    blank = [number for number, line in enumerate(lines, 1) if not line.strip()]
    if blank:
        raise DlaInferError(f'labels file {path}: line {blank[0]} is blank ({len(blank)} blank '
                            'line(s) before the last label); give every class a label, one per '
                            'line, in class order')
    if expected is not None and len(lines) != expected:
        raise DlaInferError(f'labels file {path} has {len(lines)} labels, the model has '
                            f'{expected} classes')
    return tuple(lines)
