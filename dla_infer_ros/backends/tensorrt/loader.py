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
Import TensorRT once and tell its version family apart.

The backend supports TensorRT 8.5 (JetPack 5.1), 8.6 (JetPack 6.0) and 10.x
(JetPack 6.1/6.2 ship 10.3; 10.7 is the last 10.x with DLA). The differences it handles are named
here as properties of :class:`TrtVersion`, so the code that depends on them
reads ``if version.has_progress_monitor`` rather than comparing numbers.
TensorRT 11 dropped the FP16/INT8 builder flags and the INT8 calibrators this
backend relies on, so it is refused with a clear message.
"""

import dataclasses
import re
from types import ModuleType
from typing import Tuple

from dla_infer_ros._optional import require
from dla_infer_ros.errors import DlaInferError

#: oldest supported version, and the first unsupported one
SUPPORTED_FROM = (8, 5)
SUPPORTED_BEFORE = (11, 0)


@dataclasses.dataclass(frozen=True)
class TrtVersion:
    """A TensorRT version and what differs between the supported families."""

    major: int
    minor: int
    patch: int = 0
    text: str = ''

    @classmethod
    def parse(cls, text: str) -> 'TrtVersion':
        """
        Read ``trt.__version__``.

        :param text: e.g. ``'10.3.0'`` or ``'8.6.1.6'``.
        :raises DlaInferError: when it does not start with two numbers.
        """
        match = re.match(r'(\d+)\.(\d+)(?:\.(\d+))?', text)
        if match is None:
            raise DlaInferError(f'cannot read the TensorRT version {text!r}')
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0), text)

    @property
    def family(self) -> Tuple[int, int]:
        """:return: (major, minor)."""
        return self.major, self.minor

    @property
    def is_supported(self) -> bool:
        """:return: True for 8.5 up to the last 10.x."""
        return SUPPORTED_FROM <= self.family < SUPPORTED_BEFORE

    @property
    def needs_explicit_batch_flag(self) -> bool:
        """:return: True on 8.x, where networks are implicit-batch unless flagged (not 10)."""
        return self.major < 10

    @property
    def has_progress_monitor(self) -> bool:
        """:return: True where ``IProgressMonitor`` and ``config.progress_monitor`` exist (10+)."""
        return self.major >= 10

    @property
    def has_int64_tensors(self) -> bool:
        """:return: True where ``DataType.INT64`` exists (10+)."""
        return self.major >= 10

    def __str__(self) -> str:
        """:return: the version as TensorRT reports it."""
        return self.text or f'{self.major}.{self.minor}.{self.patch}'


def load_tensorrt() -> ModuleType:
    """
    Import the ``tensorrt`` module.

    :raises DlaInferError: when it is missing (with how to get it) or unsupported.
    """
    trt = require('tensorrt', 'the TensorRT backend')
    check_supported(tensorrt_version(trt))
    return trt


def tensorrt_version(trt: ModuleType) -> TrtVersion:
    """:return: the version of an imported ``tensorrt`` module."""
    return TrtVersion.parse(str(trt.__version__))


def check_supported(version: TrtVersion) -> None:
    """
    Refuse versions the backend was not written for.

    :raises DlaInferError: for TensorRT < 8.5 or >= 11.
    """
    if not version.is_supported:
        raise DlaInferError(
            f'TensorRT {version} found; the TensorRT backend supports 8.5 to 10.x '
            '(TensorRT 11 has no FP16/INT8 builder flags and no INT8 calibrators, '
            'TensorRT < 8.5 lacks the name-based I/O API)')
