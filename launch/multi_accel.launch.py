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

r"""
One classifier node per accelerator (GPU, DLA core 0, DLA core 1 by default).

The nodes, their parameters and remappings come from ``params_file`` through
:func:`dla_infer_ros.topology.build_topology`, the same function the
``multi_accel`` runner uses. Each classifier publishes on
``<node name>/classification``; with ``use_dispatcher:=true`` the dispatcher
spreads the camera frames over them and merges the results, in frame order, on
``classification``. Example::

    ros2 launch dla_infer_ros multi_accel.launch.py use_dispatcher:=true \
        image_topic:=/camera/image_raw
"""

from typing import Any, List

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from dla_infer_ros.nodes.registry import NODE_KINDS
from dla_infer_ros.topology import (build_topology, default_config_path, NodeSpec, PACKAGE,
                                    parse_bool, parse_float, TopologyOptions,
                                    write_parameter_file)

#: (name, default, description) of every launch argument.
ARGUMENTS = (
    ('params_file', default_config_path('multi_accel.yaml'),
     'parameters file: one section per classifier node, /** for all of them, dispatcher and '
     'image_source sections'),
    ('model_path', '', "model for every classifier; empty: the file's model_path"),
    ('image_topic', 'image', 'camera topic (sensor_msgs/Image)'),
    ('use_dispatcher', 'false', 'true: spread the camera frames over the classifiers and merge '
     'their results in frame order on classification'),
    ('start_image_source', 'false', 'true: also publish the file, folder or video given by '
     "images (or the parameters file's image_source.source) on image_topic"),
    ('images', '', 'image file, folder of images or video for the image source'),
    ('rate', '', "frames per second of the image source; empty: the file's rate"),
    ('log_level', 'info', 'log level of every node: debug, info, warn, error or fatal'),
)


def node_specs(context: LaunchContext) -> List[NodeSpec]:
    """:return: the nodes the launch arguments ask for."""
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    source_overrides: dict = {}
    if value('images'):
        source_overrides['source'] = value('images')
    if value('rate'):
        source_overrides['rate'] = parse_float(value('rate'), 'rate')
    options = TopologyOptions(
        image_topic=value('image_topic'),
        use_dispatcher=parse_bool(value('use_dispatcher'), 'use_dispatcher'),
        start_image_source=parse_bool(value('start_image_source'), 'start_image_source'),
        model_path=value('model_path'), image_source_overrides=source_overrides)
    return build_topology(value('params_file'), options)


def launch_setup(context: LaunchContext, *args: Any, **kwargs: Any) -> List[Node]:
    """:return: one Node (or, for a managed node, LifecycleNode) action per node."""
    log_level = LaunchConfiguration('log_level').perform(context)
    return [(LifecycleNode if NODE_KINDS[spec.executable].lifecycle else Node)(
        package=PACKAGE, executable=spec.executable, name=spec.name, namespace=spec.namespace,
        parameters=[write_parameter_file(spec.parameters, spec.name)],
        remappings=list(spec.remappings), output='screen',
        arguments=['--ros-args', '--log-level', log_level])
        for spec in node_specs(context)]


def generate_launch_description() -> LaunchDescription:
    """:return: the launch arguments, then the nodes they select."""
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, default, description in ARGUMENTS]
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_setup)])
