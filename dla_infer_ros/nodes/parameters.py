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


"""Parameter descriptors of the nodes, built one way."""

from typing import Any, Optional, Tuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


def make_descriptor(default: Any, description: str, read_only: bool,
                    bounds: Optional[Tuple[float, float]]) -> ParameterDescriptor:
    """
    Describe one parameter, with the range rclpy enforces.

    :param default: the default value; an int (not bool) gets an integer range,
        anything else with bounds a floating-point range.
    :param description: shown by ``ros2 param describe``.
    :param read_only: True when a change needs a restart.
    :param bounds: inclusive (low, high), or None.
    :return: the descriptor.
    """
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if bounds is not None and isinstance(default, int) and not isinstance(default, bool):
        descriptor.integer_range = [IntegerRange(from_value=int(bounds[0]),
                                                 to_value=int(bounds[1]), step=1)]
    elif bounds is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(bounds[0]), to_value=float(bounds[1]), step=0.0)]
    return descriptor
