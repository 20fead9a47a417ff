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


"""Device and precision decisions of the TensorRT backend (no TensorRT needed)."""

import pytest

from dla_infer_ros.backends.base import BackendOptions
from dla_infer_ros.backends.tensorrt.loader import check_supported, TrtVersion
from dla_infer_ros.backends.tensorrt.policy import (choose_device, choose_precision,
                                                    PrecisionChoice)
from dla_infer_ros.errors import DlaInferError


def test_gpu_requests_stay_on_the_gpu() -> None:
    choice = choose_device(BackendOptions(dla_core=-1), num_dla_cores=2)
    assert (choice.dla_core, choice.label, choice.text, choice.fallback_reason) == (
        -1, 'GPU', 'GPU', '')


def test_existing_dla_core_is_used() -> None:
    choice = choose_device(BackendOptions(dla_core=1, allow_gpu_fallback=False), 2)
    assert (choice.on_dla, choice.label, choice.text) == (True, 'DLA1', 'DLA core 1')


def test_no_dla_with_fallback_goes_to_the_gpu() -> None:
    choice = choose_device(BackendOptions(dla_core=0, allow_gpu_fallback=True), 0)
    assert (choice.dla_core, choice.fallback_reason) == (-1, 'this device has 0 DLA cores')


@pytest.mark.parametrize('core, cores, fallback, message', [
    (0, 0, False, 'dla_core=0 requested, this device has 0 DLA cores and allow_gpu_fallback '
                  'is false'),
    (2, 2, True, r'dla_core=2 requested, this device has 2 DLA cores \(0..1\)'),
    (1, 1, False, r'dla_core=1 requested, this device has 1 DLA cores \(0..0\)'),
])
def test_impossible_requests_are_refused(core: int, cores: int, fallback: bool,
                                         message: str) -> None:
    with pytest.raises(DlaInferError, match=message):
        choose_device(BackendOptions(dla_core=core, allow_gpu_fallback=fallback), cores)


@pytest.mark.parametrize('requested, on_dla, calibrated, label, noted', [
    ('fp32', False, False, 'fp32', False),
    ('fp32', True, False, 'fp16', True),  # the DLA runs FP16 or INT8 (as trtexec)
    ('fp16', False, False, 'fp16', False),
    ('fp16', True, True, 'fp16', False),
    ('int8', True, True, 'int8', False),  # no FP16 added when INT8 is asked
    ('int8', False, True, 'int8', False),
    ('best', False, True, 'fp16+int8', False),
    ('best', True, False, 'fp16', True),
])
def test_precision(requested: str, on_dla: bool, calibrated: bool, label: str,
                   noted: bool) -> None:
    choice = choose_precision(requested, on_dla, calibrated)
    assert choice.label == label and bool(choice.note) == noted


def test_int8_needs_calibration() -> None:
    with pytest.raises(DlaInferError, match='precision=int8 requested without calibration'):
        choose_precision('int8', True, False)


def test_precision_labels() -> None:
    pairs = ((False, False), (True, False), (False, True), (True, True))
    assert [PrecisionChoice(a, b).label for a, b in pairs] == [
        'fp32', 'fp16', 'int8', 'fp16+int8']


@pytest.mark.parametrize('text, supported, explicit_flag, monitor, int64', [
    ('8.4.3.1', False, True, False, False),
    ('8.5.2.2', True, True, False, False),
    ('8.6.1', True, True, False, False),
    ('8.6.2.3', True, True, False, False),
    ('10.3.0', True, False, True, True),
    ('10.16.1.11', True, False, True, True),
    ('11.4.0.106', False, False, True, True),
])
def test_version_families(text: str, supported: bool, explicit_flag: bool, monitor: bool,
                          int64: bool) -> None:
    version = TrtVersion.parse(text)
    assert (version.is_supported, version.needs_explicit_batch_flag,
            version.has_progress_monitor, version.has_int64_tensors) == (
        supported, explicit_flag, monitor, int64)
    assert str(version) == text
    if not supported:
        with pytest.raises(DlaInferError, match=f'TensorRT {text} found'):
            check_supported(version)


def test_unreadable_version() -> None:
    with pytest.raises(DlaInferError, match="cannot read the TensorRT version 'dev'"):
        TrtVersion.parse('dev')
