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


"""Which Jetson this is, for choosing the DLA rule table (no ROS, no TensorRT)."""

from typing import Optional, Tuple

from dla_infer_ros.errors import DlaInferError

#: SoC names in the device tree's ``compatible`` list, and their DLA rule table.
SOC_PLATFORMS = {'nvidia,tegra194': 'xavier', 'nvidia,tegra234': 'orin'}
COMPATIBLE_PATH = '/proc/device-tree/compatible'


def detect_platform(compatible_path: str = COMPATIBLE_PATH) -> Optional[str]:
    """
    Read the SoC from the device tree.

    :param compatible_path: the device tree's ``compatible`` file (NUL-separated names).
    :return: ``'xavier'`` or ``'orin'``, or None off a Jetson with a DLA.
    """
    try:
        with open(compatible_path, 'rb') as f:
            names = f.read().split(b'\0')
    except OSError:
        return None
    for name in names:
        platform = SOC_PLATFORMS.get(name.decode('ascii', 'replace'))
        if platform:
            return platform
    return None


def choose_platform(requested: str, compatible_path: str = COMPATIBLE_PATH) -> str:
    """
    Turn a ``dla_platform`` setting into a rule table name.

    :param requested: ``auto``, ``xavier`` or ``orin``.
    :param compatible_path: see :func:`detect_platform`.
    :return: ``xavier`` or ``orin``; ``auto`` off a Jetson gives ``orin``, the current DLA.
    :raises DlaInferError: for any other value.
    """
    if requested in ('xavier', 'orin'):
        return requested
    if requested != 'auto':
        raise DlaInferError(f'dla_platform={requested!r}; expected auto, xavier or orin')
    return detect_platform(compatible_path) or 'orin'


def platform_choice(requested: str, compatible_path: str = COMPATIBLE_PATH) -> Tuple[str, str]:
    """
    Give :func:`choose_platform`'s answer and how it was reached, for the log.

    :return: the rule table name, and ``asked``, ``detected`` or, for ``auto`` off a
        Jetson, a sentence saying that the rules of Orin are assumed.
    :raises DlaInferError: as :func:`choose_platform`.
    """
    platform = choose_platform(requested, compatible_path)
    if requested != 'auto':
        return platform, 'asked'
    if detect_platform(compatible_path) is not None:
        return platform, 'detected'
    return platform, ('dla_platform auto on a host that is not a Jetson Xavier or Orin (no '
                      'tegra194/tegra234 in the device tree): the rules of Orin are assumed; '
                      'set dla_platform to xavier or orin')
