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


"""The ROS-free data path and the classify_image command."""

import dataclasses
import json
import os
from typing import Any

import numpy as np
import pytest
from toy_backend import ToyBackend

from conftest import needs_onnxruntime
from dla_infer_ros.backends import BackendOptions
from dla_infer_ros.classifier import Classifier
from dla_infer_ros.cli import classify_image
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import resolve_model

pytestmark = needs_onnxruntime


def _colour(rgb: tuple, size: int = 16) -> np.ndarray:
    image = np.zeros((size, size + 5, 3), dtype=np.uint8)
    image[...] = rgb
    return image


def test_classifies_rgb_and_bgr_images(tiny_model: str) -> None:
    with Classifier(resolve_model(tiny_model), 'onnxruntime', top_k=2) as classifier:
        [results] = classifier.classify([_colour((255, 0, 0))], 'RGB')
        assert [r[1] for r in results] == ['red', 'green']
        assert results[0][2] > 0.9
        [results] = classifier.classify([_colour((255, 0, 0))], 'BGR')
        assert results[0][1] == 'blue'
        assert set(classifier.last_timings) == {'preprocess', 'inference', 'postprocess'}
        assert all(t >= 0.0 for t in classifier.last_timings.values())


def test_limits_change_between_frames(tiny_model: str) -> None:
    with Classifier(resolve_model(tiny_model), 'onnxruntime', top_k=4) as classifier:
        assert len(classifier.classify([_colour((0, 255, 0))], 'RGB')[0]) == 4
        classifier.set_limits(1, 0.0)
        assert [r[1] for r in classifier.classify([_colour((0, 255, 0))], 'RGB')[0]] == ['green']
        with pytest.raises(DlaInferError, match='top_k=0'):
            classifier.set_limits(0, 0.0)


def test_batch_of_images(tiny_model_factory: object) -> None:
    path = tiny_model_factory(batch='N')  # type: ignore[operator]
    options = BackendOptions(batch_size=3)
    with Classifier(resolve_model(path), 'onnxruntime', options, top_k=1) as classifier:
        images = [_colour((0, 0, 255)), _colour((255, 0, 0)), _colour((0, 255, 0))]
        results = classifier.classify(images, 'RGB')
        assert [r[0][1] for r in results] == ['blue', 'red', 'green']
        with pytest.raises(DlaInferError, match='4 images given; batch_size is 3'):
            classifier.classify(images + images[:1], 'RGB')


def test_contract_and_model_disagree(tiny_model: str) -> None:
    with open(os.path.splitext(tiny_model)[0] + '.json', encoding='utf-8') as f:
        contract = json.load(f)
    contract['input']['height'] = 16
    with open(os.path.splitext(tiny_model)[0] + '.json', 'w', encoding='utf-8') as f:
        json.dump(contract, f)
    classifier = Classifier(resolve_model(tiny_model), 'onnxruntime')
    with pytest.raises(DlaInferError, match=r'contract describes input float32\[1, 3, 16, 8\]'):
        classifier.activate()
    assert not classifier.backend.is_active


def test_cli_prints_top_k(tiny_model: str, tmp_path: object,
                          capsys: pytest.CaptureFixture) -> None:
    cv2 = pytest.importorskip('cv2')
    image_path = os.path.join(str(tmp_path), 'green.png')
    cv2.imwrite(image_path, _colour((0, 255, 0))[:, :, ::-1])
    assert classify_image.run([image_path, '--model', tiny_model, '--top-k', '2']) == 0
    out = capsys.readouterr().out
    assert 'GPU requested -> ' in out
    lines = [line for line in out.splitlines() if line.startswith('  ')]
    assert lines[0].split()[2] == 'green' and len(lines) == 2
    assert classify_image.run([image_path, '--model', tiny_model, '--json']) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload['images'][0]['results'][0]['label'] == 'green'


def test_cli_errors_are_clear(tiny_model: str, tmp_path: object,
                              capsys: pytest.CaptureFixture) -> None:
    missing = os.path.join(str(tmp_path), 'missing.png')
    assert classify_image.run([missing, '--model', tiny_model]) == 2
    assert capsys.readouterr().err == f'classify_image: error: {missing}: no such file\n'
    assert classify_image.run([str(tmp_path), '--model', tiny_model]) == 2
    assert 'is a folder; give image files' in capsys.readouterr().err
    not_an_image = os.path.join(str(tmp_path), 'notes.png')
    with open(not_an_image, 'w', encoding='utf-8') as f:
        f.write('not an image')
    assert classify_image.run([not_an_image, '--model', tiny_model]) == 2
    assert f'{not_an_image}: not a readable image file' in capsys.readouterr().err
    assert classify_image.run([not_an_image, '--model', tiny_model, '--dla-core', '0',
                               '--no-gpu-fallback']) == 2
    assert 'DLA core 0 requested' in capsys.readouterr().err


def test_tensorrt_backend_gets_the_models_own_calibration_preprocessing(
        tiny_model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dla_infer_ros import classifier as classifier_module
    seen = {}

    def fake_create(name: str, path: str, options: BackendOptions, **kwargs: object) -> object:
        seen.update(name=name, kwargs=kwargs)
        return object()
    monkeypatch.setattr(classifier_module, 'create_backend', fake_create)
    classifier = Classifier(resolve_model(tiny_model), 'tensorrt')
    preprocess = seen['kwargs']['calibration_preprocess']  # type: ignore[index]
    bgr = np.zeros((20, 30, 3), dtype=np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    sample = preprocess(bgr)
    assert sample.shape == (3, 8, 8) and sample.dtype == np.float32
    assert np.allclose(sample[2], 1.0) and np.allclose(sample[:2], 0.0)
    assert classifier.backend is not None


def test_backend_stage_timings_join_the_classifier_timings(tiny_model: str) -> None:
    with Classifier(resolve_model(tiny_model), 'onnxruntime') as classifier:
        classifier.backend.last_timings = lambda: {'h2d_ms': 0.5, 'compute_ms': 2.0}
        classifier.classify([_colour((0, 0, 255))], 'RGB')
        assert classifier.last_timings['h2d'] == 0.5
        assert classifier.last_timings['compute'] == 2.0


def test_preprocesses_straight_into_offered_backend_memory(tiny_model: str) -> None:
    classifier = Classifier(resolve_model(tiny_model), 'onnxruntime', top_k=1)
    offered = np.zeros((1, 3, 8, 8), dtype=np.float32)
    classifier.backend.input_buffers = lambda: {'input': offered}  # type: ignore[method-assign]
    with classifier:
        assert classifier.preprocessor.tensor is offered
        [results] = classifier.classify([_colour((0, 255, 0))], 'RGB')
        assert results[0][1] == 'green' and np.allclose(offered[0, 1], 1.0)
    assert classifier.preprocessor.tensor is not offered  # own buffer again once inactive


def test_cli_reports_an_undecodable_image_and_classifies_the_rest(
        tiny_model: str, tmp_path: object, capsys: pytest.CaptureFixture) -> None:
    cv2 = pytest.importorskip('cv2')
    good = os.path.join(str(tmp_path), 'red.png')
    cv2.imwrite(good, _colour((255, 0, 0))[:, :, ::-1])
    bad = os.path.join(str(tmp_path), 'broken.png')
    with open(bad, 'wb') as f:
        f.write(b'not a picture')
    assert classify_image.run([bad, good, '--model', tiny_model, '--top-k', '1']) == 2
    captured = capsys.readouterr()
    assert 'broken.png: not a readable image file' in captured.err
    assert 'red.png:' in captured.out and ' red ' in captured.out


def test_preprocessing_stays_on_the_cpu_for_onnxruntime(tiny_model: str) -> None:
    with Classifier(resolve_model(tiny_model), 'onnxruntime') as classifier:
        assert classifier.preprocessing == ('CPU (not on the GPU: the onnxruntime backend '
                                            'takes its inputs from host memory)')
        assert dict(classifier.describe().details)['preprocessing'] == classifier.preprocessing
    classifier = Classifier(resolve_model(tiny_model), 'onnxruntime', preprocess_device='gpu')
    with pytest.raises(DlaInferError, match='preprocess_device=gpu cannot be met: the '
                                            'onnxruntime backend takes its inputs from host'):
        classifier.activate()
    assert not classifier.backend.is_active


def test_a_failed_activation_frees_the_backend(tiny_model: str, tmp_path: Any) -> None:
    labels = tmp_path / 'labels.txt'
    labels.write_text('only\ntwo\n')
    contract = dataclasses.replace(resolve_model(tiny_model), labels_path=str(labels))
    classifier = Classifier(contract, 'onnxruntime')
    with pytest.raises(DlaInferError, match='label'):
        classifier.activate()
    assert not classifier.backend.is_active and classifier.postprocessor is None


def test_a_new_backend_is_its_class_and_one_registry_entry(
        tiny_model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dla_infer_ros import backends
    monkeypatch.setitem(backends.BACKENDS, 'toy', backends.BackendEntry(
        'toy_backend', 'ToyBackend', 'numpy', calibration_hook=True,
        options='toy_backend:OPTIONS'))
    with Classifier(resolve_model(tiny_model), 'toy', top_k=1) as classifier:
        assert isinstance(classifier.backend, ToyBackend)
        # its capabilities come from the entry: the calibration hook is handed over
        assert callable(classifier.backend.calibration_preprocess)
        assert classifier.preprocessing.startswith('CPU (not on the GPU: the toy backend')
        [[(index, _, _)]] = classifier.classify([_colour((0, 0, 255))], 'RGB')
        assert index == 2  # blue
    with pytest.raises(DlaInferError, match="backend='toys' requested; known backends: auto, "):
        Classifier(resolve_model(tiny_model), 'toys')
