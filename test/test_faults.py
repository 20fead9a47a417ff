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
Faults met in the field, end to end through the classifier.

A damaged engine cache file, a cache folder that cannot be written and labels
that do not fit the model. TensorRT runs against the fakes of every committed
version; ONNX Runtime and the node run a tiny ONNX model.
"""

import json
import logging
import os
import tempfile
from typing import Any, Callable, Dict, List, Tuple

from fake_cuda import FakeCudaApi
from fake_tensorrt import (expected_logits, FakeWorld, make_fake_tensorrt, PLAN_MAGIC, VERSIONS,
                           write_model)
import numpy as np
import pytest

from conftest import needs_onnxruntime
from dla_infer_ros.backends import BackendOptions
from dla_infer_ros.backends.tensorrt import engine_cache, TensorRtBackend
from dla_infer_ros.backends.tensorrt.engine_cache import (CacheKey, decode_plan_file,
                                                          encode_plan_file)
from dla_infer_ros.classifier import Classifier
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import resolve_model
from ros_harness import failed_start, ros_available

LOG = logging.getLogger('test.faults')
NODE_MODULE = 'dla_infer_ros.nodes.classifier_node'
UNCACHED = 'the engine is used without being cached and will be built again at the next start'


@pytest.fixture(params=VERSIONS)
def fake(request: Any) -> Tuple[Any, FakeWorld]:
    """:return: (fake tensorrt module of one version, its world)."""
    world = FakeWorld(cuda=FakeCudaApi())
    return make_fake_tensorrt(request.param, world), world


@pytest.fixture
def fake_model(tmp_path: Any) -> str:
    """:return: a fake ONNX model, float32[1, 3, 4, 4] -> 3 classes, with its contract."""
    model = write_model(os.path.join(str(tmp_path), 'tiny.onnx'))
    contract = {'format': 'dla_infer_ros/model-contract-1', 'name': 'tiny', 'model': 'tiny.onnx',
                'input': {'name': 'input', 'height': 4, 'width': 4, 'resize': 'stretch',
                          'mean': [0.0, 0.0, 0.0], 'std': [1.0, 1.0, 1.0]},
                'output': {'name': 'logits', 'kind': 'logits'}}
    with open(os.path.join(str(tmp_path), 'tiny.json'), 'w', encoding='utf-8') as f:
        json.dump(contract, f)
    return model


def trt_classifier(fake: Tuple[Any, FakeWorld], model: str, cache_dir: str, labels: str = '',
                   extra: Any = None, **options: Any) -> Classifier:
    """:return: a classifier of ``model`` on the fake TensorRT (not active)."""
    trt, world = fake
    kwargs: Dict[str, Any] = {'tensorrt_module': trt, 'log': LOG,
                              'cuda_factory': lambda binding, device: world.cuda}
    kwargs.update(extra or {})
    return Classifier(resolve_model(model, labels), 'tensorrt',
                      BackendOptions(engine_cache_dir=cache_dir, **options), top_k=3,
                      backend_kwargs=kwargs)


def serve(classifier: Classifier, frames: int = 3) -> None:
    """Classify a few frames; the scores must be the softmax of the fake engine's logits."""
    for frame in range(frames):
        [results] = classifier.classify([np.full((4, 4, 3), 20 * (frame + 1), np.uint8)], 'RGB')
        logits = expected_logits(classifier.preprocessor.tensor, 3)[0].astype(np.float64)
        scores = np.exp(logits - logits.max())
        scores /= scores.sum()
        assert [index for index, _, _ in results] == [2, 1, 0]
        np.testing.assert_allclose([score for _, _, score in results], scores[::-1], rtol=1e-5)


def engine_of(classifier: Classifier) -> Tuple[str, str]:
    """:return: (engine file, where it came from: built or cache)."""
    details = dict(classifier.describe().details)
    return details['engine'], details['engine_source']


def warnings_of(caplog: Any) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def snapshot(folder: str) -> Dict[str, Tuple[int, int]]:
    """:return: name -> (size, mtime) of every file of ``folder``."""
    return {name: (os.stat(os.path.join(folder, name)).st_size,
                   os.stat(os.path.join(folder, name)).st_mtime_ns)
            for name in os.listdir(folder)}


# -- a damaged engine cache file -------------------------------------------------------

def flip_a_plan_byte(data: bytes, other: bytes) -> bytes:
    return data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:]


@pytest.mark.parametrize('damage, message', [
    (lambda data, other: data[:len(data) // 2], 'truncated plan file'),
    (flip_a_plan_byte, 'corrupt plan file (sha256 of the plan does not match)'),
    (lambda data, other: other, 'plan file built for key'),
    (lambda data, other: np.random.default_rng(7).bytes(len(data)),
     'not a dla_infer_ros plan file (no header)'),
    (lambda data, other: b'', 'not a dla_infer_ros plan file (no header)'),
], ids=['truncated', 'byte-flipped', 'another-key', 'random-bytes', 'empty'])
def test_a_damaged_cache_file_is_deleted_and_rebuilt(fake: Any, fake_model: str, tmp_path: Any,
                                                     caplog: Any, damage: Any,
                                                     message: str) -> None:
    _, world = fake
    cache = os.path.join(str(tmp_path), 'cache')
    with trt_classifier(fake, fake_model, cache, workspace_mb=512) as classifier:
        other_path, _ = engine_of(classifier)  # a plan of another key
    with trt_classifier(fake, fake_model, cache) as classifier:
        serve(classifier)
        path, _ = engine_of(classifier)
    assert path != other_path and world.builds == 2
    with open(path, 'rb') as f, open(other_path, 'rb') as g:
        damaged = damage(f.read(), g.read())
    with open(path, 'wb') as f:
        f.write(damaged)
    caplog.clear()
    with trt_classifier(fake, fake_model, cache) as classifier:
        assert engine_of(classifier) == (path, 'built')
        serve(classifier)
    assert world.builds == 3
    [warning] = warnings_of(caplog)
    assert warning.startswith(f'engine cache: deleting {path}: {message}'), warning
    with open(path, 'rb') as f:
        assert decode_plan_file(f.read())[0].startswith(PLAN_MAGIC)
    caplog.clear()
    with trt_classifier(fake, fake_model, cache) as classifier:
        assert engine_of(classifier) == (path, 'cache')
    assert world.builds == 3 and warnings_of(caplog) == []


def foreign_plan_under_a_valid_header(path: str, world: FakeWorld) -> None:
    """Replace the plan by bytes TensorRT refuses, under this key's intact header."""
    with open(path, 'rb') as f:
        _, header = decode_plan_file(f.read())
    with open(path, 'wb') as f:
        f.write(encode_plan_file(b'ftrt serialized by TensorRT 9.9', CacheKey.of(header['fields']),
                                 header['meta']))


def refused_once_by_tensorrt(path: str, world: FakeWorld) -> None:
    """Let the runtime refuse the next plan, as TensorRT does with another version's plan."""
    world.reject_plans = 1


@pytest.mark.parametrize('refuse', [foreign_plan_under_a_valid_header, refused_once_by_tensorrt])
def test_a_plan_tensorrt_refuses_is_deleted_and_rebuilt(fake: Any, fake_model: str,
                                                        tmp_path: Any, caplog: Any,
                                                        refuse: Callable[[str, FakeWorld],
                                                                         None]) -> None:
    _, world = fake
    cache = os.path.join(str(tmp_path), 'cache')
    with trt_classifier(fake, fake_model, cache) as classifier:
        path, _ = engine_of(classifier)
    refuse(path, world)
    caplog.clear()
    with trt_classifier(fake, fake_model, cache) as classifier:
        assert engine_of(classifier) == (path, 'built')
        serve(classifier)
    assert world.builds == 2 and world.reject_plans == 0
    [warning] = warnings_of(caplog)
    assert warning.startswith(f'engine cache: deleting {path}: TensorRT rejected it (TensorRT '
                              'cannot deserialize the plan'), warning
    assert 'plan magic tag does not match' in warning  # what TensorRT said
    with trt_classifier(fake, fake_model, cache) as classifier:
        assert engine_of(classifier) == (path, 'cache')


def test_a_damaged_engine_file_given_as_the_model_is_named(fake: Any, fake_model: str,
                                                           tmp_path: Any) -> None:
    cache = os.path.join(str(tmp_path), 'cache')
    with trt_classifier(fake, fake_model, cache) as classifier:
        path, _ = engine_of(classifier)
    engine = os.path.join(str(tmp_path), 'tiny.engine')
    with open(path, 'rb') as f, open(engine, 'wb') as g:
        g.write(f.read()[:-10])
    trt, world = fake
    backend = TensorRtBackend(engine, BackendOptions(), tensorrt_module=trt, log=LOG,
                              cuda_factory=lambda binding, device: world.cuda)
    with pytest.raises(DlaInferError) as error:
        backend.activate()
    assert str(error.value).startswith(f"engine file '{engine}': truncated plan file (")
    assert world.cuda.live == 0


# -- a cache folder that cannot be written ---------------------------------------------

def below_a_file(tmp_path: Any, monkeypatch: Any) -> str:
    (tmp_path / 'file').write_text('x')
    return str(tmp_path / 'file' / 'cache')


def deny_writes(folder: str, monkeypatch: Any) -> None:
    """Tell this process it may not write into ``folder`` (root writes anyway)."""
    real_access = os.access

    def access(path: str, mode: int) -> bool:
        if path == folder and mode & os.W_OK:
            return False
        return real_access(path, mode)
    monkeypatch.setattr(os, 'access', access)


def without_write_permission(tmp_path: Any, monkeypatch: Any) -> str:
    folder = str(tmp_path / 'cache')
    os.makedirs(folder)
    deny_writes(folder, monkeypatch)
    return folder


def refusing_plan_files(tmp_path: Any, monkeypatch: Any) -> str:
    def refuse(path: str, data: bytes) -> None:
        raise OSError(28, 'No space left on device', path)
    monkeypatch.setattr(engine_cache, 'atomic_write', refuse)
    return str(tmp_path / 'cache')


@pytest.mark.parametrize('unwritable, why', [
    (below_a_file, 'it cannot be created ([Errno 20] Not a directory'),
    (without_write_permission, 'no write permission (or a read-only file system)'),
    (refusing_plan_files, 'tiny.GPU.fp32.b1.'),
])
def test_an_unwritable_cache_folder_builds_and_serves_with_one_warning(
        fake: Any, fake_model: str, tmp_path: Any, caplog: Any, monkeypatch: Any,
        unwritable: Callable[[Any, Any], str], why: str) -> None:
    _, world = fake
    folder = unwritable(tmp_path, monkeypatch)
    before = snapshot(folder) if os.path.isdir(folder) else {}
    for start in (1, 2):
        caplog.clear()
        with trt_classifier(fake, fake_model, folder) as classifier:
            assert engine_of(classifier)[1] == 'built'
            serve(classifier, frames=5)
        assert world.builds == start  # nothing was kept: every start builds
        [warning] = warnings_of(caplog)
        assert warning.startswith(f'engine cache directory {folder} cannot store engines: '
                                  + why), warning
        assert warning.endswith(UNCACHED)
    after = snapshot(folder) if os.path.isdir(folder) else {}
    if unwritable is not refusing_plan_files:  # there the timing cache is still written
        assert after == before
    assert not any(name.endswith('.plan') for name in after)


def test_a_read_only_cache_folder_is_still_loaded_from(fake: Any, fake_model: str,
                                                       tmp_path: Any, caplog: Any,
                                                       monkeypatch: Any) -> None:
    _, world = fake
    folder = str(tmp_path / 'cache')
    with trt_classifier(fake, fake_model, folder) as classifier:
        path, _ = engine_of(classifier)
    before = snapshot(folder)
    deny_writes(folder, monkeypatch)
    caplog.clear()
    with trt_classifier(fake, fake_model, folder) as classifier:
        assert engine_of(classifier) == (path, 'cache')
        serve(classifier)
    assert world.builds == 1 and warnings_of(caplog) == [] and snapshot(folder) == before
    with trt_classifier(fake, fake_model, folder, force_rebuild=True) as classifier:
        serve(classifier)
    assert world.builds == 2 and snapshot(folder) == before  # no plan, no timing cache
    [warning] = warnings_of(caplog)
    assert warning.startswith(f'engine cache directory {folder} cannot store engines')


def test_int8_calibration_with_a_read_only_cache_folder(fake: Any, fake_model: str,
                                                        tmp_path: Any, caplog: Any,
                                                        monkeypatch: Any) -> None:
    _, world = fake
    images = tmp_path / 'calibration'
    images.mkdir()
    (images / 'a.png').write_bytes(b'unused: the batch source below is used')
    folder = without_write_permission(tmp_path, monkeypatch)

    def batches(shape: Tuple[int, ...]) -> Any:
        for value in range(3):
            yield np.full(shape, value, np.float32)
    with trt_classifier(fake, fake_model, folder, precision='int8',
                        calibration_dir=str(images),
                        extra={'calibration_source': batches}) as classifier:
        serve(classifier)
    assert world.builds == 1 and len(world.calibration_batches) == 3
    assert os.listdir(folder) == []  # no calibration cache, no plan
    assert len(warnings_of(caplog)) == 1


def writes_into_mode_555() -> bool:
    """:return: whether this process writes into a folder of mode 0o555 (as root does)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o555)
        try:
            with open(os.path.join(folder, 'probe'), 'w'):
                return True
        except PermissionError:
            return False
        finally:
            os.chmod(folder, 0o755)


@pytest.mark.skipif(writes_into_mode_555(),
                    reason='this process (root) writes into a folder of mode 0o555 anyway')
def test_a_cache_folder_of_mode_555(fake: Any, fake_model: str, tmp_path: Any,
                                    caplog: Any) -> None:
    _, world = fake
    folder = tmp_path / 'cache'
    with trt_classifier(fake, fake_model, str(folder)) as classifier:
        path, _ = engine_of(classifier)
    for name in os.listdir(str(folder)):  # as filled by another user: only the plan
        if name != os.path.basename(path):
            os.remove(str(folder / name))
    folder.chmod(0o555)
    try:
        caplog.clear()
        with trt_classifier(fake, fake_model, str(folder)) as classifier:
            assert engine_of(classifier) == (path, 'cache')
        assert warnings_of(caplog) == []
        with trt_classifier(fake, fake_model, str(folder), force_rebuild=True) as classifier:
            serve(classifier)
        assert world.builds == 2 and os.listdir(str(folder)) == [os.path.basename(path)]
        [warning] = warnings_of(caplog)
        assert warning.startswith(f'engine cache directory {folder} cannot store engines: no '
                                  'write permission')
    finally:
        folder.chmod(0o755)


# -- labels that do not fit the model --------------------------------------------------

def write_labels(tmp_path: Any, text: str) -> str:
    path = str(tmp_path / 'labels.txt')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


@needs_onnxruntime
@pytest.mark.parametrize('count', [3, 5])
def test_labels_of_another_count_on_onnxruntime(tiny_model: str, tmp_path: Any,
                                                count: int) -> None:
    labels = write_labels(tmp_path, ''.join(f'label{i}\n' for i in range(count)))
    classifier = Classifier(resolve_model(tiny_model, labels), 'onnxruntime')
    with pytest.raises(DlaInferError) as error:
        classifier.activate()
    classifier.deactivate()
    assert str(error.value) == f'labels file {labels} has {count} labels, the model has 4 classes'


def test_labels_of_another_count_on_tensorrt(fake: Any, fake_model: str, tmp_path: Any) -> None:
    labels = write_labels(tmp_path, 'cat\ndog\nbird\nfish\n')
    classifier = trt_classifier(fake, fake_model, str(tmp_path / 'cache'), labels)
    with pytest.raises(DlaInferError) as error:
        classifier.activate()
    classifier.deactivate()
    assert str(error.value) == f'labels file {labels} has 4 labels, the model has 3 classes'


def test_labels_that_fit_are_used(fake: Any, fake_model: str, tmp_path: Any) -> None:
    labels = write_labels(tmp_path, 'cat\ndog\nbird\n\n')  # a blank line at the end is fine
    with trt_classifier(fake, fake_model, str(tmp_path / 'cache'), labels) as classifier:
        [results] = classifier.classify([np.full((4, 4, 3), 9, np.uint8)], 'RGB')
    assert [label for _, label, _ in results] == ['bird', 'dog', 'cat']


@pytest.mark.parametrize('text, message', [
    ('', 'labels file {} is empty'),
    ('\n \n', 'labels file {} is empty'),
    ('cat\n\ndog\nbird\n', 'labels file {}: line 2 is blank'),
])
def test_empty_labels_or_blank_lines_are_refused_before_building(
        fake: Any, fake_model: str, tmp_path: Any, text: str, message: str) -> None:
    _, world = fake
    labels = write_labels(tmp_path, text)
    with pytest.raises(DlaInferError) as error:
        trt_classifier(fake, fake_model, str(tmp_path / 'cache'), labels).activate()
    assert str(error.value).startswith(message.format(labels))
    assert world.builds == 0


@pytest.mark.ros
@needs_onnxruntime
@pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                    'importable; run the tests through tools/run_tests.sh')
@pytest.mark.parametrize('text, message', [
    ('red\ngreen\nblue\n', 'labels file {} has 3 labels, the model has 4 classes'),
    ('', 'labels file {} is empty'),
], ids=['3-of-4', 'empty'])
def test_a_node_with_unfit_labels_says_so_once(tiny_model: str, tmp_path: Any, text: str,
                                               message: str) -> None:
    labels = write_labels(tmp_path, text)
    log = failed_start(NODE_MODULE, {'model_path': tiny_model, 'labels_path': labels,
                                     'backend': 'onnxruntime'})
    assert log.count('cannot start') == 1, log
    assert f'cannot start: {message.format(labels)}' in log, log
