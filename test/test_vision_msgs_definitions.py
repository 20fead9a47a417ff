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
The vision_msgs stand-in (tools/ros_interfaces/vision_msgs) matches upstream vision_msgs 4.x.

Three views must agree: the .msg files, the Python classes generated from them, and the
upstream definitions written out below. The RIHS01 type hashes that rosidl derives from the
field layout must equal those of upstream vision_msgs as built for Jazzy and Kilted, so the
stand-in's messages are the same type on the wire as a robot's vision_msgs.
"""

import importlib
import json
import os
from pathlib import Path
import sys
from typing import Dict, List, Tuple

import pytest

try:
    import rclpy  # noqa: F401 (only probes that ROS 2 is present)
except ImportError as error:
    pytest.skip(f'rclpy cannot be imported ({error}); run the tests through '
                'tools/run_tests.sh, which provides ROS 2', allow_module_level=True)

pytestmark = pytest.mark.ros

MSG_DIR = Path(__file__).resolve().parents[1] / 'tools' / 'ros_interfaces' / 'vision_msgs' / 'msg'

#: Upstream field layouts (ros-perception/vision_msgs, ros2 branch, 4.1.x / 4.2.x), in the
#: type names that rosidl's get_fields_and_field_types() reports.
UPSTREAM_FIELDS: Dict[str, List[Tuple[str, str]]] = {
    'ObjectHypothesis': [('class_id', 'string'), ('score', 'double')],
    'Classification': [('header', 'std_msgs/Header'),
                       ('results', 'sequence<vision_msgs/ObjectHypothesis>')],
    'VisionClass': [('class_id', 'uint16'), ('class_name', 'string')],
    'LabelInfo': [('header', 'std_msgs/Header'),
                  ('class_map', 'sequence<vision_msgs/VisionClass>'),
                  ('threshold', 'float')],
    'VisionInfo': [('header', 'std_msgs/Header'), ('method', 'string'),
                   ('database_location', 'string'), ('database_version', 'int32')],
}

#: RIHS01 hashes of upstream vision_msgs, from the type-description sources that rosidl
#: generated for it in Jazzy / Kilted builds.
UPSTREAM_TYPE_HASHES: Dict[str, str] = {
    'ObjectHypothesis': '51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90',
    'Classification': 'f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143',
    'VisionClass': '1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a',
    'LabelInfo': '3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
    'VisionInfo': '95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284',
}

#: .msg primitive types and the names rosidl's Python classes give them.
PRIMITIVE_TYPES: Dict[str, str] = {
    'bool': 'boolean', 'byte': 'octet', 'char': 'uint8', 'float32': 'float',
    'float64': 'double', 'int8': 'int8', 'uint8': 'uint8', 'int16': 'int16',
    'uint16': 'uint16', 'int32': 'int32', 'uint32': 'uint32', 'int64': 'int64',
    'uint64': 'uint64', 'string': 'string', 'wstring': 'wstring',
}


def rosidl_type(msg_type: str) -> str:
    """
    Translate a .msg field type into rosidl's Python type name.

    :param msg_type: e.g. ``float64``, ``std_msgs/Header`` or ``ObjectHypothesis[]``.
    :return: e.g. ``double``, ``std_msgs/Header`` or ``sequence<vision_msgs/ObjectHypothesis>``.
    :raises ValueError: for bounded or fixed-size arrays and strings, which the stand-in
        does not use.
    """
    if msg_type.endswith('[]'):
        return f'sequence<{rosidl_type(msg_type[:-2])}>'
    if '[' in msg_type or '<=' in msg_type:
        raise ValueError(f'unsupported .msg type {msg_type!r}')
    if msg_type in PRIMITIVE_TYPES:
        return PRIMITIVE_TYPES[msg_type]
    return msg_type if '/' in msg_type else f'vision_msgs/{msg_type}'


def msg_file_fields(name: str) -> List[Tuple[str, str]]:
    """Read the (field name, rosidl type) pairs of ``msg/<name>.msg`` in order."""
    fields = []
    for line in (MSG_DIR / f'{name}.msg').read_text().splitlines():
        declaration = line.split('#', 1)[0].split()
        if declaration:
            msg_type, field_name = declaration
            fields.append((field_name, rosidl_type(msg_type)))
    return fields


def test_stand_in_has_exactly_the_verified_messages() -> None:
    assert sorted(path.stem for path in MSG_DIR.glob('*.msg')) == sorted(UPSTREAM_FIELDS)


@pytest.mark.parametrize('name', sorted(UPSTREAM_FIELDS))
def test_msg_file_matches_upstream(name: str) -> None:
    assert msg_file_fields(name) == UPSTREAM_FIELDS[name]


@pytest.mark.parametrize('name', sorted(UPSTREAM_FIELDS))
def test_generated_class_matches_msg_file(name: str) -> None:
    message_class = getattr(importlib.import_module('vision_msgs.msg'), name)
    generated = list(message_class.get_fields_and_field_types().items())
    assert generated == msg_file_fields(name)


@pytest.mark.parametrize('name', sorted(UPSTREAM_TYPE_HASHES))
def test_type_hash_matches_upstream(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ament_index_python.packages import get_package_share_directory
    if not os.environ.get('AMENT_PREFIX_PATH'):
        # tools/bootstrap.sh installs the stand-in into the venv, i.e. sys.prefix.
        monkeypatch.setenv('AMENT_PREFIX_PATH', sys.prefix)
    description = Path(get_package_share_directory('vision_msgs')) / 'msg' / f'{name}.json'
    hashes = {entry['type_name']: entry['hash_string']
              for entry in json.loads(description.read_text())['type_hashes']}
    assert hashes[f'vision_msgs/msg/{name}'] == f'RIHS01_{UPSTREAM_TYPE_HASHES[name]}'
