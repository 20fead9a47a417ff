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
The launch files: arguments, nodes, parameters and remappings.

They need launch and launch_ros, which a ROS 2 install has and PyPI does not;
the topology they are built from is tested in full by test_topology.py.
"""

import importlib.util
import os
import re
from types import ModuleType
from typing import Any, Dict, List, Mapping

import pytest

pytest.importorskip('launch_ros', reason='launch_ros is not installed (it comes with a ROS 2 '
                    'install, not from PyPI); test_topology.py covers what the launch files build')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'test', 'data')


def load_launch_file(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'),
                                                  os.path.join(ROOT, 'launch', name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expand(module: ModuleType, arguments: Mapping[str, str],
           monkeypatch: pytest.MonkeyPatch) -> List[Dict[str, Any]]:
    """Run the launch file's setup with ``arguments``; describe each node it starts."""
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument
    written: Dict[str, Dict[str, Any]] = {}
    real_writer = module.write_parameter_file

    def recording_writer(parameters: Mapping[str, Any], label: str) -> str:
        written[label] = dict(parameters)
        path: str = real_writer(parameters, label)
        return path

    monkeypatch.setattr(module, 'write_parameter_file', recording_writer)
    description = module.generate_launch_description()
    context = LaunchContext()
    context.launch_configurations.update(arguments)
    for entity in description.entities:
        if isinstance(entity, DeclareLaunchArgument):
            entity.visit(context)  # fills in the defaults of the arguments not given
    nodes = module.launch_setup(context)
    described = []
    for node in nodes:
        node._perform_substitutions(context)
        # Without a namespace the full name starts with a placeholder; keep the node name.
        name = node.node_name.rsplit('/', 1)[-1]
        described.append({'name': name, 'executable': node.node_executable,
                          'remappings': dict(node.expanded_remapping_rules or []),
                          'parameters': written.get(name)})
    return described


def test_multi_accel_declares_the_documented_arguments() -> None:
    module = load_launch_file('multi_accel.launch.py')
    names = [a.name for a in module.generate_launch_description().get_launch_arguments()]
    assert {'params_file', 'model_path', 'image_topic', 'use_dispatcher',
            'start_image_source', 'images', 'rate'} <= set(names)


def test_multi_accel_default_is_three_classifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = expand(load_launch_file('multi_accel.launch.py'), {}, monkeypatch)
    assert [(n['name'], n['executable']) for n in nodes] == [
        ('classifier_gpu', 'classifier'), ('classifier_dla0', 'classifier'),
        ('classifier_dla1', 'classifier')]
    assert [n['parameters']['dla_core'] for n in nodes] == [-1, 0, 1]
    for node in nodes:
        assert node['remappings']['classification'] == f'{node["name"]}/classification'


def test_multi_accel_with_dispatcher_and_image_source(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = expand(load_launch_file('multi_accel.launch.py'), {
        'use_dispatcher': 'true', 'start_image_source': 'true', 'images': DATA,
        'rate': '12.5', 'image_topic': '/camera/image_raw', 'model_path': '/models/m.onnx'},
        monkeypatch)
    by_name = {n['name']: n for n in nodes}
    assert set(by_name) == {'classifier_gpu', 'classifier_dla0', 'classifier_dla1',
                            'dispatcher', 'image_source'}
    assert by_name['dispatcher']['parameters']['targets'] == [
        'classifier_gpu', 'classifier_dla0', 'classifier_dla1']
    assert by_name['dispatcher']['remappings'] == {'image': '/camera/image_raw'}
    assert by_name['image_source']['parameters']['source'] == DATA
    assert by_name['image_source']['parameters']['rate'] == 12.5
    assert by_name['image_source']['remappings'] == {'image': '/camera/image_raw'}
    gpu = by_name['classifier_gpu']
    assert gpu['parameters']['model_path'] == '/models/m.onnx'
    assert gpu['remappings']['image'] == 'classifier_gpu/image'


def test_single_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = expand(load_launch_file('classifier.launch.py'), {
        'image_topic': '/camera/image_raw', 'dla_core': '1', 'node_name': 'front'}, monkeypatch)
    assert len(nodes) == 1
    node = nodes[0]
    assert (node['name'], node['executable']) == ('front', 'classifier')
    # The compressed topic follows image (image_transport's naming): no second remap.
    assert node['remappings'] == {'image': '/camera/image_raw'}
    assert node['parameters'] == {'dla_core': 1}


@pytest.mark.parametrize('launch_file, arguments, message', [
    ('classifier.launch.py', {'params_file': '/nonexistent.yaml'},
     "parameters file '/nonexistent.yaml' cannot be read"),
    ('classifier.launch.py', {'dla_core': 'abc'}, "dla_core='abc' given; use a whole number"),
    ('multi_accel.launch.py', {'rate': 'abc', 'start_image_source': 'true', 'images': ROOT},
     "rate='abc' given; use a number"),
    ('multi_accel.launch.py', {'start_image_source': 'true', 'images': '/nonexistent'},
     "images '/nonexistent': no such file or folder"),
    ('multi_accel.launch.py', {'use_dispatcher': 'maybe'}, "use_dispatcher='maybe' given"),
])
def test_bad_arguments_are_refused_with_one_clear_error(
        launch_file: str, arguments: Mapping[str, str], message: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dla_infer_ros.errors import DlaInferError
    with pytest.raises(DlaInferError, match=re.escape(message)):
        expand(load_launch_file(launch_file), arguments, monkeypatch)


def test_classifiers_start_as_lifecycle_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    from launch_ros.actions import LifecycleNode
    module = load_launch_file('multi_accel.launch.py')
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument
    context = LaunchContext()
    for entity in module.generate_launch_description().entities:
        if isinstance(entity, DeclareLaunchArgument):
            entity.visit(context)
    actions = module.launch_setup(context)
    assert len(actions) == 3 and all(isinstance(a, LifecycleNode) for a in actions)
