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
The kinds of node this package runs: one entry each, everything else derives from it.

``setup.py`` makes a console script of each (it reads this file alone, so this module
imports nothing but the standard library), :mod:`dla_infer_ros.topology` names them in
the node specs the launch files and ``multi_accel`` start, and ``multi_accel`` creates
them in its process from ``module`` and ``class_name``. A new node kind is one entry here.
"""

import dataclasses
from typing import Dict


@dataclasses.dataclass(frozen=True)
class NodeKind:
    """
    A node: its executable (console script), its module (with ``main``) and its class.

    ``lifecycle``: a managed node (``rclpy.lifecycle``): the launch files start it with
    launch_ros's lifecycle action, ``multi_accel`` makes its transitions itself.
    """

    executable: str
    module: str
    class_name: str
    lifecycle: bool = False

    @property
    def console_script(self) -> str:
        """:return: the ``setup.py`` entry point, ``NAME = MODULE:main``."""
        return f'{self.executable} = {self.module}:main'


CLASSIFIER = NodeKind('classifier', 'dla_infer_ros.nodes.classifier_node', 'ClassifierNode',
                      lifecycle=True)
DISPATCHER = NodeKind('dispatcher', 'dla_infer_ros.nodes.dispatcher_node', 'DispatcherNode')
IMAGE_SOURCE = NodeKind('image_source', 'dla_infer_ros.nodes.image_source_node',
                        'ImageSourceNode')
#: executable -> kind
NODE_KINDS: Dict[str, NodeKind] = {kind.executable: kind
                                   for kind in (CLASSIFIER, DISPATCHER, IMAGE_SOURCE)}
