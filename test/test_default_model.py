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

"""The shipped default model, its contract and labels, run directly through ONNX Runtime."""

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from dla_infer_ros._optional import is_available

MODELS_DIR = Path(__file__).resolve().parents[1] / 'dla_infer_ros' / 'models'
DATA_DIR = Path(__file__).resolve().parent / 'data'
CONTRACT_PATH = MODELS_DIR / 'efficientnet_lite0.json'

# ImageNet-1k indices of the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian cat)
# and of what a cup of espresso may be called (coffee mug, espresso, cup).
CAT_CLASSES = {281, 282, 283, 284, 285}
COFFEE_CLASSES = {504, 967, 968}
# The model's answer to fixed_input(), recorded when the model was exported; the top logit
# leads the second by 1.8, so numeric noise between CPUs cannot change it.
FIXED_INPUT_ARGMAX = 905
FIXED_INPUT_TOP_LOGIT = 8.4986

needs_onnxruntime = pytest.mark.skipif(
    not is_available('onnxruntime'), reason='onnxruntime is not installed')
needs_cv2 = pytest.mark.skipif(
    not is_available('cv2'), reason='cv2 (OpenCV) is not installed to decode the JPEG photos')


def load_contract() -> Dict[str, Any]:
    """:return: the model contract of the default model."""
    contract: Dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return contract


def make_session() -> Any:
    """:return: an ONNX Runtime CPU session on the default model."""
    import onnxruntime
    model_path = MODELS_DIR / load_contract()['model']
    return onnxruntime.InferenceSession(str(model_path), providers=['CPUExecutionProvider'])


def fixed_input() -> np.ndarray:
    """:return: a deterministic float32 [1, 3, 224, 224] tensor with values in -1..1."""
    return np.sin(np.linspace(0.0, 200.0, 3 * 224 * 224, dtype=np.float32)).reshape(1, 3, 224, 224)


def preprocess_photo(path: Path, spec: Dict[str, Any]) -> np.ndarray:
    """
    Turn a JPEG into the model input as the contract describes it.

    Centre crop of ``crop_fraction`` of the shorter side, linear resize, RGB,
    then ``(pixel * scale - mean) / std``, laid out NCHW.
    """
    import cv2
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f'cannot read {path}'
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    height, width = rgb.shape[:2]
    side = int(spec['crop_fraction'] * min(height, width))
    top, left = (height - side + 1) // 2, (width - side + 1) // 2
    crop = rgb[top:top + side, left:left + side]
    resized = cv2.resize(crop, (spec['width'], spec['height']), interpolation=cv2.INTER_LINEAR)
    scaled = resized.astype(np.float32) * np.float32(spec['scale'])
    normalised = (scaled - np.float32(spec['mean'])) / np.float32(spec['std'])
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis])


def read_labels() -> List[str]:
    """:return: the class names, one per line of the labels file."""
    return (MODELS_DIR / load_contract()['labels']).read_text().splitlines()


def test_contract_describes_the_default_model() -> None:
    contract = load_contract()
    assert contract['format'] == 'dla_infer_ros/model-contract-1'
    assert contract['name'] == 'efficientnet_lite0'
    assert contract['license'] == 'Apache-2.0'
    spec = contract['input']
    assert (spec['layout'], spec['channels'], spec['height'], spec['width']) == \
        ('NCHW', 3, 224, 224)
    assert (spec['channel_order'], spec['resize'], spec['dtype']) == \
        ('RGB', 'center_crop', 'float32')
    assert 0.0 < spec['crop_fraction'] <= 1.0
    assert len(spec['mean']) == len(spec['std']) == 3
    assert all(std > 0 for std in spec['std'])
    assert contract['output']['kind'] == 'logits'


def test_labels_file_has_one_name_per_class() -> None:
    labels = read_labels()
    assert len(labels) == 1000
    assert all(label.strip() for label in labels)
    assert labels[281] == 'tabby, tabby cat'
    assert (MODELS_DIR / 'NOTICE').is_file()


@needs_onnxruntime
def test_model_inputs_and_outputs_match_the_contract() -> None:
    contract = load_contract()
    session = make_session()
    inputs, outputs = session.get_inputs(), session.get_outputs()
    assert [i.name for i in inputs] == [contract['input']['name']]
    assert inputs[0].shape == [1, 3, 224, 224]
    assert inputs[0].type == 'tensor(float)'
    assert [o.name for o in outputs] == [contract['output']['name']]
    assert outputs[0].shape == [1, 1000]
    assert outputs[0].type == 'tensor(float)'


@needs_onnxruntime
def test_fixed_input_gives_the_recorded_class() -> None:
    logits = make_session().run(['logits'], {'input': fixed_input()})[0]
    assert logits.shape == (1, 1000)
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits))
    assert int(np.argmax(logits)) == FIXED_INPUT_ARGMAX
    assert float(logits[0, FIXED_INPUT_ARGMAX]) == pytest.approx(FIXED_INPUT_TOP_LOGIT, abs=1e-2)


@needs_onnxruntime
@needs_cv2
@pytest.mark.parametrize('photo, expected_classes', [
    ('chelsea_cat.jpg', CAT_CLASSES),
    ('coffee_cup.jpg', COFFEE_CLASSES),
])
def test_photo_is_classified_correctly(photo: str, expected_classes: set) -> None:
    tensor = preprocess_photo(DATA_DIR / photo, load_contract()['input'])
    logits = make_session().run(['logits'], {'input': tensor})[0][0]
    top1 = int(np.argmax(logits))
    assert top1 in expected_classes, f'{photo}: top-1 is {top1} {read_labels()[top1]!r}'
