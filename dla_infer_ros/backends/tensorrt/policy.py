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
Pure decisions of the TensorRT backend: where to run and in which precision.

Nothing here touches TensorRT; the backend feeds in what TensorRT reported
(number of DLA cores) and what the user asked for (:class:`BackendOptions`).
"""

import dataclasses

from dla_infer_ros.backends.base import BackendOptions
from dla_infer_ros.errors import DlaInferError


@dataclasses.dataclass(frozen=True)
class DeviceChoice:
    """The accelerator an engine is built and run for."""

    dla_core: int  # -1: the GPU
    fallback_reason: str = ''

    @property
    def on_dla(self) -> bool:
        """:return: True when the engine targets a DLA core."""
        return self.dla_core >= 0

    @property
    def label(self) -> str:
        """:return: ``GPU`` or ``DLA0``, ``DLA1``."""
        return f'DLA{self.dla_core}' if self.on_dla else 'GPU'

    @property
    def engine_kind(self) -> str:
        """
        Name what an engine is built for: ``GPU`` or ``DLA``.

        A DLA plan runs on any core (the runtime's ``DLA_core`` picks it at
        load), so cache keys and file names use this, not :attr:`label`: two
        nodes on two cores share one build and one INT8 calibration.
        """
        return 'DLA' if self.on_dla else 'GPU'

    @property
    def text(self) -> str:
        """:return: ``GPU`` or ``DLA core N`` (used in reports)."""
        return f'DLA core {self.dla_core}' if self.on_dla else 'GPU'


def choose_device(options: BackendOptions, num_dla_cores: int) -> DeviceChoice:
    """
    Decide between the GPU and a DLA core.

    :param options: ``dla_core`` and ``allow_gpu_fallback`` are read.
    :param num_dla_cores: what TensorRT reports for this device (0 on x86 and Thor).
    :return: the device to build for, with the reason when it is not the one asked.
    :raises DlaInferError: when the DLA is asked on a host without one and fallback
        is off, or when the core index does not exist.
    """
    if options.dla_core < 0:
        return DeviceChoice(-1)
    if num_dla_cores == 0:
        message = f'dla_core={options.dla_core} requested, this device has 0 DLA cores'
        if not options.allow_gpu_fallback:
            raise DlaInferError(message + ' and allow_gpu_fallback is false')
        return DeviceChoice(-1, 'this device has 0 DLA cores')
    if options.dla_core >= num_dla_cores:
        raise DlaInferError(f'dla_core={options.dla_core} requested, this device has '
                            f'{num_dla_cores} DLA cores (0..{num_dla_cores - 1})')
    return DeviceChoice(options.dla_core)


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """Builder precision flags and the reason for any change to the request."""

    fp16: bool
    int8: bool
    note: str = ''

    @property
    def label(self) -> str:
        """:return: ``fp32``, ``fp16``, ``int8`` or ``fp16+int8``."""
        if self.fp16 and self.int8:
            return 'fp16+int8'
        if self.int8:
            return 'int8'
        return 'fp16' if self.fp16 else 'fp32'


def choose_precision(requested: str, on_dla: bool, has_calibration: bool) -> PrecisionChoice:
    """
    Turn the requested precision into builder flags.

    The DLA runs FP16 or INT8 only: as trtexec does, FP16 is switched on for a
    DLA build unless INT8 is asked. INT8 needs calibration data; ``best``
    without it builds FP16.

    :param requested: one of ``fp32``, ``fp16``, ``int8``, ``best``.
    :param on_dla: whether the engine targets a DLA core.
    :param has_calibration: whether calibration images or a calibration cache exist.
    :raises DlaInferError: for ``int8`` without calibration data.
    """
    if requested == 'int8':
        if not has_calibration:
            raise DlaInferError('precision=int8 requested without calibration data; set '
                                'calibration_dir to a folder of images or a calibration cache')
        return PrecisionChoice(fp16=False, int8=True)
    if requested == 'best':
        if has_calibration:
            return PrecisionChoice(fp16=True, int8=True)
        return PrecisionChoice(fp16=True, int8=False,
                               note='precision=best without calibration data: INT8 left off')
    if requested == 'fp32' and on_dla:
        return PrecisionChoice(fp16=True, int8=False,
                               note='precision=fp32 requested; the DLA runs FP16 or INT8, '
                                    'building FP16')
    return PrecisionChoice(fp16=requested == 'fp16', int8=False)
