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


"""Parameter descriptors of the nodes, built one way, their declaration, checks and help."""

import copy
import difflib
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from dla_infer_ros.errors import DlaInferError


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


def declare_parameter(node: Node, name: str, default: Any,
                      descriptor: ParameterDescriptor) -> Any:
    """
    Declare one parameter of ``node``; a floating-point one also takes an integer.

    ``-p rate:=30`` or ``score_threshold:=1`` reach rclpy as integers, which it
    refuses for a double ("expected '3' got '2'"); here they become 30.0 and 1.0,
    checked against the range like any other value. So does ``ros2 param set``
    with an integer where rclpy lets a node see a value before it is checked
    (Jazzy on); on Humble rclpy's own refusal stands.

    :return: the parameter's value.
    :raises DlaInferError: naming the parameter, for a value of the wrong type or
        out of range.
    """
    try:
        if not isinstance(default, float):
            return node.declare_parameter(name, default, descriptor).value
        if not descriptor.read_only:
            _take_integers_at_run_time(node, name)
        loose = copy.deepcopy(descriptor)
        loose.dynamic_typing, loose.read_only, loose.floating_point_range = True, False, []
        value: Any = node.declare_parameter(name, default, loose).value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DlaInferError(f'parameter {name}: {value!r} is not a number')
        descriptor.type = Parameter.Type.DOUBLE.value
        number = Parameter(name, value=float(value)).get_parameter_value()
        return node.set_descriptor(name, descriptor, number).double_value
    except ParameterException as e:
        raise DlaInferError(f'parameter {name}: {e}') from e


def _take_integers_at_run_time(node: Node, name: str) -> None:
    """Turn an integer set at run time for the floating-point parameter ``name`` into a float."""
    register = getattr(node, 'add_pre_set_parameters_callback', None)
    if register is None:  # Humble: no hook before rclpy checks the type
        return

    def as_float(parameters: List[Any]) -> List[Any]:  # Parameter: generic from Jazzy on
        return [Parameter(p.name, value=float(p.value))
                if p.name == name and p.type_ == Parameter.Type.INTEGER else p
                for p in parameters]
    register(as_float)


#: ROS names of the parameter types, by the Python type of the default.
_TYPE_NAMES = {bool: 'bool', int: 'integer', float: 'double', str: 'string',
               list: 'string array'}
#: Parameters rclpy or the middleware read themselves, never declared by a node of ours.
_FOREIGN_PREFIXES = ('qos_overrides.',)


def reject_unknown_overrides(node: Node) -> None:
    """
    Refuse parameters given to ``node`` (``-p``, a parameters file) that it does not declare.

    rclpy keeps such values without a word, so a misspelt ``dla_cor:=1`` would run on
    the GPU. Call after every declaration.

    :raises DlaInferError: naming each unknown parameter with the nearest declared name.
    """
    overrides = getattr(node, '_parameter_overrides', {})
    unknown = [name for name in overrides if not node.has_parameter(name)
               and not name.startswith(_FOREIGN_PREFIXES)]
    if unknown:
        known = sorted(node.get_parameters_by_prefix(''))
        raise DlaInferError(unknown_parameters(unknown, known))


def unknown_parameters(unknown: Sequence[str], known: Sequence[str]) -> str:
    """:return: which parameters a node does not have, with the nearest known names."""
    described = []
    for name in unknown:
        guess = difflib.get_close_matches(name, known, n=1)
        described.append(f'{name!r} (did you mean {guess[0]!r}?)' if guess else repr(name))
    return f'no parameter {", ".join(described)}; the node has {", ".join(known)}'


def parameter_help(executable: str, summary: str,
                   parameters: Mapping[str, Tuple[Any, ParameterDescriptor]]) -> str:
    """
    Describe a node's command line and parameters, from its declarations.

    :param executable: the console script.
    :param summary: what the node does.
    :param parameters: name -> (default, descriptor), in declaration order.
    :return: the text ``--help`` prints.
    """
    lines = [f'usage: ros2 run dla_infer_ros {executable} [--ros-args [-p NAME:=VALUE ...] '
             f'[-r FROM:=TO ...] [--params-file FILE]]', '', summary.strip(), '',
             'parameters (default; (restart): read-only, a change needs a restart):']
    for name, (default, descriptor) in parameters.items():
        limits = ''
        for ranges in (descriptor.integer_range, descriptor.floating_point_range):
            for bounds in ranges:
                limits = f', {bounds.from_value:g}..{bounds.to_value:g}'
        default_text = repr(default) if isinstance(default, str) else str(default).lower() \
            if isinstance(default, bool) else str(default)
        if isinstance(default, Parameter.Type):  # declared by type, no default value
            kind, default_text = default.name.lower().replace('_', ' '), 'unset'
        else:
            kind = _TYPE_NAMES.get(type(default), type(default).__name__)
        lines.append(f'  {name} ({kind}, {default_text}{limits})'
                     f'{" (restart)" if descriptor.read_only else ""}')
        lines.append(f'      {descriptor.description}')
    return '\n'.join(lines)
