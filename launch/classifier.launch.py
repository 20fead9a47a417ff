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
One classifier node, parameters from ``params_file`` (``config/classifier.yaml``).

Example::

    ros2 launch dla_infer_ros classifier.launch.py image_topic:=/camera/image_raw dla_core:=0
"""

from typing import Any, Dict, List

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from dla_infer_ros.nodes.registry import CLASSIFIER
from dla_infer_ros.topology import (default_config_path, load_parameter_file, PACKAGE,
                                    parse_int, write_parameter_file)

#: (name, default, description) of every launch argument.
ARGUMENTS = (
    ('params_file', default_config_path('classifier.yaml'), 'parameters file of the node'),
    ('model_path', '', "model to run; empty: the file's model_path"),
    ('dla_core', '', "DLA core to run on, -1 for the GPU; empty: the file's dla_core"),
    ('image_topic', 'image', 'camera topic (sensor_msgs/Image; with the image_transport '
     'parameter compressed, <topic>/compressed is read)'),
    ('node_name', 'classifier', 'node name'),
    ('namespace', '', 'node namespace; its topics are relative to it'),
    ('log_level', 'info', 'log level: debug, info, warn, error or fatal'),
)


def launch_setup(context: LaunchContext, *args: Any, **kwargs: Any) -> List[Node]:
    """:return: the classifier node with the file's parameters and the arguments' overrides."""
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    load_parameter_file(value('params_file'))  # a missing or malformed file: one clear error
    overrides: Dict[str, Any] = {}
    if value('model_path'):
        overrides['model_path'] = value('model_path')
    if value('dla_core'):
        overrides['dla_core'] = parse_int(value('dla_core'), 'dla_core')
    parameters: List[Any] = [value('params_file')]
    if overrides:
        parameters.append(write_parameter_file(overrides, value('node_name')))
    image_topic = value('image_topic')
    remappings = [] if image_topic == 'image' else [('image', image_topic)]
    # A managed node: it configures and activates itself unless its autostart is false.
    action = LifecycleNode if CLASSIFIER.lifecycle else Node
    return [action(package=PACKAGE, executable=CLASSIFIER.executable, name=value('node_name'),
                   namespace=value('namespace'), parameters=parameters,
                   remappings=remappings, output='screen',
                   arguments=['--ros-args', '--log-level', value('log_level')])]


def generate_launch_description() -> LaunchDescription:
    """:return: the launch arguments, then the node."""
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, default, description in ARGUMENTS]
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_setup)])
