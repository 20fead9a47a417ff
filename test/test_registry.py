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


"""The node kinds are declared once: console scripts, topology and runner follow."""

import importlib
import os
import runpy

import pytest

from dla_infer_ros.nodes import registry
from dla_infer_ros.topology import build_topology, TopologyOptions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_registry_needs_nothing_but_the_standard_library() -> None:
    # setup.py reads the file on its own, before the package is importable
    declared = runpy.run_path(os.path.join(ROOT, 'dla_infer_ros', 'nodes', 'registry.py'))
    assert sorted(declared['NODE_KINDS']) == sorted(registry.NODE_KINDS)


def test_every_kind_is_an_installed_console_script() -> None:
    metadata = pytest.importorskip('importlib.metadata')
    try:
        scripts = {e.name: e.value for e in metadata.distribution('dla_infer_ros').entry_points
                   if e.group == 'console_scripts'}
    except metadata.PackageNotFoundError:
        pytest.skip('dla_infer_ros is not installed (tools/bootstrap.sh installs it)')
    for kind in registry.NODE_KINDS.values():
        assert f'{kind.executable} = {scripts.get(kind.executable)}' == kind.console_script


def test_every_kind_has_its_main_and_class() -> None:
    pytest.importorskip('rclpy', reason='the nodes need rclpy')
    for kind in registry.NODE_KINDS.values():
        module = importlib.import_module(kind.module)
        assert callable(module.main) and isinstance(getattr(module, kind.class_name), type)


def test_the_topology_starts_registered_kinds_only() -> None:
    specs = build_topology(os.path.join(ROOT, 'config', 'multi_accel.yaml'), TopologyOptions(
        use_dispatcher=True, start_image_source=True,
        image_source_overrides={'source': os.path.join(ROOT, 'test', 'data')}))
    assert {spec.executable for spec in specs} == set(registry.NODE_KINDS)
