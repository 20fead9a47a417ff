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

"""The committed digits model reaches its accuracy on the held-out digits, through ONNX Runtime."""

import json
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np
import pytest

from dla_infer_ros._optional import is_available

DATA_DIR = Path(__file__).resolve().parent / 'data'
CONTRACT_PATH = DATA_DIR / 'digits_mlp.json'
REQUIRED_ACCURACY = 0.95

needs_onnxruntime = pytest.mark.skipif(
    not is_available('onnxruntime'), reason='onnxruntime is not installed')
needs_sklearn = pytest.mark.skipif(
    not is_available('sklearn'), reason='scikit-learn (the digits data) is not installed')


def load_contract() -> Dict[str, Any]:
    """:return: the digits model contract."""
    contract: Dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return contract


def held_out_mono8() -> Tuple[np.ndarray, np.ndarray]:
    """:return: the held-out digits as a camera publishes them (mono8 [N, 8, 8]) and labels."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    split = load_contract()['test_split']['test']
    images = np.round(digits.images * 255.0 / 16.0).astype(np.uint8)
    return images[split['start']:split['stop']], digits.target[split['start']:split['stop']]


def test_contract_and_labels_agree() -> None:
    contract = load_contract()
    spec = contract['input']
    assert (spec['layout'], spec['channels'], spec['height'], spec['width']) == ('NCHW', 1, 8, 8)
    assert spec['channel_order'] == 'GRAY'
    assert contract['test_split']['train']['stop'] == contract['test_split']['test']['start']
    labels = (DATA_DIR / contract['labels']).read_text().splitlines()
    assert labels == [str(digit) for digit in range(10)]


@needs_onnxruntime
@needs_sklearn
def test_held_out_accuracy_through_onnxruntime() -> None:
    import onnxruntime
    contract = load_contract()
    spec = contract['input']
    session = onnxruntime.InferenceSession(
        str(DATA_DIR / contract['model']), providers=['CPUExecutionProvider'])
    images, labels = held_out_mono8()
    assert len(labels) == 497
    scaled = images.astype(np.float32) * np.float32(spec['scale'])
    inputs = (scaled - np.float32(spec['mean'][0])) / np.float32(spec['std'][0])
    predicted = [
        int(np.argmax(session.run([contract['output']['name']],
                                  {spec['name']: image.reshape(1, 1, 8, 8)})[0]))
        for image in inputs
    ]
    accuracy = float(np.mean(np.asarray(predicted) == labels))
    assert accuracy >= REQUIRED_ACCURACY, f'held-out accuracy {accuracy:.4f}'
