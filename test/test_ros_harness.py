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

"""The loopback discovery settings of the ROS test harness, per ROS distro."""

import pytest

from ros_harness import loopback_discovery


def test_humble_gets_its_own_localhost_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('ROS_DISTRO', 'humble')
    assert loopback_discovery() == {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
                                    'ROS_LOCALHOST_ONLY': '1'}


@pytest.mark.parametrize('distro', ['jazzy', 'kilted'])
def test_newer_distros_use_the_discovery_range_only(
        monkeypatch: pytest.MonkeyPatch, distro: str) -> None:
    # ROS_LOCALHOST_ONLY is deprecated there and would only add a warning.
    monkeypatch.setenv('ROS_DISTRO', distro)
    assert loopback_discovery() == {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
