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


"""The one ``main`` of every node, in the Humble form."""

from typing import Callable, List, Optional

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.logging import get_logger
from rclpy.node import Node

from dla_infer_ros.errors import DlaInferError


def spin_node(make_node: Callable[[], Node], name: str,
              args: Optional[List[str]] = None) -> None:
    """
    Initialise rclpy, make the node, spin it until shutdown, clean up.

    A node that cannot start (:class:`DlaInferError`, a parameter of the wrong
    type or out of range, or ROS arguments rcl cannot read, such as a malformed
    ``--params-file``) logs one fatal line and the process exits with status 1;
    Ctrl-C and external shutdown end quietly.

    :param make_node: builds the node (after ``rclpy.init``).
    :param name: logger name for the start-up failure.
    :param args: command-line arguments for ``rclpy.init``.
    """
    try:
        rclpy.init(args=args)
    except rclpy_implementation.RCLError as e:
        get_logger(name).fatal(f'cannot start: {e}')
        raise SystemExit(1)
    node: Optional[Node] = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (DlaInferError, ParameterException) as e:
        get_logger(name).fatal(f'cannot start: {e}')
        raise SystemExit(1)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
