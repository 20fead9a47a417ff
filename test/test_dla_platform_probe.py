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


"""Choosing the DLA rule table from the device tree."""

import os

import pytest

from dla_infer_ros.dla.platform_probe import choose_platform, detect_platform, platform_choice
from dla_infer_ros.errors import DlaInferError


def _compatible(tmp_path: object, names: bytes) -> str:
    path = os.path.join(str(tmp_path), 'compatible')
    with open(path, 'wb') as f:
        f.write(names)
    return path


def test_detects_xavier_and_orin(tmp_path: object) -> None:
    xavier = _compatible(tmp_path, b'nvidia,p2972-0000\0nvidia,tegra194\0')
    assert detect_platform(xavier) == 'xavier'
    orin = _compatible(tmp_path, b'nvidia,p3737-0000+p3701-0005\0nvidia,tegra234\0')
    assert detect_platform(orin) == 'orin' and choose_platform('auto', orin) == 'orin'


def test_off_jetson_auto_means_orin_rules(tmp_path: object) -> None:
    assert detect_platform(os.path.join(str(tmp_path), 'missing')) is None
    assert choose_platform('auto', os.path.join(str(tmp_path), 'missing')) == 'orin'
    assert choose_platform('xavier', os.path.join(str(tmp_path), 'missing')) == 'xavier'
    with pytest.raises(DlaInferError, match="dla_platform='thor'"):
        choose_platform('thor')


def test_the_choice_says_how_it_was_made(tmp_path: 'os.PathLike[str]') -> None:
    orin = os.path.join(str(tmp_path), 'orin')
    with open(orin, 'wb') as f:
        f.write(b'nvidia,p3737-0000+p3701-0000\0nvidia,tegra234\0')
    missing = os.path.join(str(tmp_path), 'missing')
    assert platform_choice('auto', orin) == ('orin', 'detected')
    assert platform_choice('xavier', missing) == ('xavier', 'asked')
    platform, how = platform_choice('auto', missing)
    assert platform == 'orin'
    assert how.startswith('dla_platform auto on a host that is not a Jetson Xavier or Orin')
    assert 'set dla_platform to xavier or orin' in how
