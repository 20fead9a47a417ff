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
Which nodes run, with which parameters and remappings, read from one YAML file.

``launch/multi_accel.launch.py`` and the ``multi_accel`` runner both build
their nodes from :func:`build_topology`, so the two cannot disagree. This
module imports no ROS.

The file is a ROS 2 parameters file (``ros2 run ... --params-file`` reads it):

* ``/**`` (any key with a wildcard): parameters shared by every classifier node;
* ``dispatcher``: the dispatcher's parameters (used with ``use_dispatcher``);
* ``image_source``: the image source's parameters (used when it is started);
* every other key: one classifier node, named after the key (``name`` or
  ``namespace/name``); its parameters override the shared ones.

Topic layout. Each classifier publishes ``<name>/classification`` and
``<name>/label_info``, so nothing collides. Without the dispatcher every
classifier reads the camera topic (``image_topic``); with it, the dispatcher
reads the camera topic, sends each frame to one ``<name>/image`` and merges
the results, in frame order, onto ``classification``; each classifier's
``queue_size`` and ``image_depth`` are then raised to the dispatcher's
``max_in_flight`` if below, so that no frame sent to it is dropped.
"""

import atexit
import contextlib
import dataclasses
import os
import re
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.nodes import registry

PACKAGE = 'dla_infer_ros'
#: Sections of the file that are not classifier nodes.
DISPATCHER = 'dispatcher'
IMAGE_SOURCE = 'image_source'

_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_SCALARS = (bool, int, float, str)

ParameterValue = Any


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    """One node to start: executable, name, namespace, parameters and remappings."""

    name: str
    namespace: str
    executable: str
    parameters: Mapping[str, ParameterValue]
    remappings: Tuple[Tuple[str, str], ...] = ()

    @property
    def topic_prefix(self) -> str:
        """:return: where the node's own topics live, ``<namespace>/<name>``."""
        return f'{self.namespace}/{self.name}' if self.namespace else self.name

    @property
    def requested_device(self) -> str:
        """:return: ``GPU`` or ``DLA core N`` from ``dla_core`` (classifier nodes)."""
        dla_core = int(self.parameters.get('dla_core', -1))
        return 'GPU' if dla_core < 0 else f'DLA core {dla_core}'


@dataclasses.dataclass(frozen=True)
class TopologyOptions:
    """
    What the launch arguments (or the runner's options) change in the file's topology.

    ``model_path`` replaces every classifier's model when not empty;
    ``classifier_overrides`` and ``image_source_overrides`` are applied last.
    """

    image_topic: str = 'image'
    use_dispatcher: bool = False
    start_image_source: bool = False
    model_path: str = ''
    classifier_overrides: Mapping[str, ParameterValue] = dataclasses.field(default_factory=dict)
    image_source_overrides: Mapping[str, ParameterValue] = dataclasses.field(
        default_factory=dict)


def default_config_path(file_name: str) -> str:
    """
    Find a file of the package's ``config/`` folder.

    :param file_name: e.g. ``multi_accel.yaml``.
    :return: the installed copy (``share/dla_infer_ros/config``) when the
        package is installed in an ament prefix, else the source tree's.
    """
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = os.path.join(get_package_share_directory(PACKAGE), 'config', file_name)
        if os.path.isfile(installed):
            return installed
    except (ImportError, LookupError, OSError, ValueError):
        pass  # not installed with ament: fall back to the source tree below
    source_tree = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(source_tree, 'config', file_name)


def parse_bool(text: str, what: str) -> bool:
    """
    Read a launch argument such as ``true`` or ``False``.

    :raises DlaInferError: for anything but true/false/1/0/yes/no.
    """
    lowered = text.strip().lower()
    if lowered in ('true', '1', 'yes', 'on'):
        return True
    if lowered in ('false', '0', 'no', 'off'):
        return False
    raise DlaInferError(f'{what}={text!r} given; use true or false')


def parse_int(text: str, what: str) -> int:
    """
    Read a launch argument that is a whole number, such as ``dla_core:=1``.

    :raises DlaInferError: naming the argument, for anything else.
    """
    try:
        return int(text.strip())
    except ValueError:
        raise DlaInferError(f'{what}={text!r} given; use a whole number, e.g. {what}:=0') \
            from None


def parse_float(text: str, what: str) -> float:
    """
    Read a launch argument that is a number, such as ``rate:=12.5``.

    :raises DlaInferError: naming the argument, for anything else.
    """
    try:
        value = float(text.strip())
    except ValueError:
        value = float('nan')
    if value != value or value in (float('inf'), float('-inf')):
        raise DlaInferError(f'{what}={text!r} given; use a number, e.g. {what}:=30.0')
    return value


def load_parameter_file(path: str) -> Dict[str, Dict[str, ParameterValue]]:
    """
    Read a ROS 2 parameters file into ``{section key: {parameter: value}}``.

    :raises DlaInferError: when the file is missing, not text, not YAML, or not shaped
        as ``key: {ros__parameters: {name: value}}``.
    """
    yaml = _yaml()
    try:
        with open(path, encoding='utf-8') as f:
            raw = yaml.safe_load(f)
    except OSError as e:
        raise DlaInferError(f'parameters file {path!r} cannot be read: {e}') from e
    except UnicodeDecodeError as e:
        raise DlaInferError(f'parameters file {path!r} is not UTF-8 text (a YAML file was '
                            f'expected): {e}') from e
    except yaml.YAMLError as e:
        raise DlaInferError(f'parameters file {path!r} is not valid YAML: {e}') from e
    if not isinstance(raw, dict) or not raw:
        raise DlaInferError(f'parameters file {path!r} holds no node sections')
    return {str(key): _section_parameters(path, str(key), body) for key, body in raw.items()}


def build_topology(path: str, options: TopologyOptions = TopologyOptions()) -> List[NodeSpec]:
    """
    Build the node list: the classifiers, then the dispatcher and the image source if asked.

    :param path: the parameters file.
    :param options: launch arguments.
    :return: one :class:`NodeSpec` per node.
    :raises DlaInferError: for a malformed file, a bad node name, or no classifier.
    """
    sections = load_parameter_file(path)
    specs = classifier_specs(path, sections, options)
    if options.use_dispatcher:
        specs = [_holding_every_frame(spec, sections) for spec in specs]
        specs.append(dispatcher_spec(sections, list(specs), options.image_topic))
    if options.start_image_source:
        specs.append(image_source_spec(sections, options))
    return specs


def classifier_specs(path: str, sections: Mapping[str, Mapping[str, ParameterValue]],
                     options: TopologyOptions) -> List[NodeSpec]:
    """:return: one classifier node per non-wildcard, non-reserved section."""
    specs = []
    for key, own_parameters in sections.items():
        if _is_wildcard(key) or key in (DISPATCHER, IMAGE_SOURCE):
            continue
        namespace, name = split_node_key(path, key)
        parameters = _shared_parameters(sections, namespace, name)
        parameters.update(own_parameters)
        if options.model_path:
            parameters['model_path'] = options.model_path
        parameters.update(options.classifier_overrides)
        specs.append(NodeSpec(name, namespace, registry.CLASSIFIER.executable, parameters,
                              classifier_remappings(namespace, name, options)))
    if not specs:
        raise DlaInferError(f'parameters file {path!r} names no classifier node; sections '
                            f'found: {", ".join(sections)} (reserved: /**, {DISPATCHER}, '
                            f'{IMAGE_SOURCE})')
    return specs


def classifier_remappings(namespace: str, name: str,
                          options: TopologyOptions) -> Tuple[Tuple[str, str], ...]:
    """
    Give a classifier its own topics, ``<namespace>/<name>/...``, and its camera input.

    The targets are resolved in the node's namespace, so its own topics are written
    relative to it (``name/...``). The camera topic is named from the launch's root (where
    the image source and the dispatcher live): a relative one is made absolute for a
    node in a namespace. With the dispatcher the input is the node's own
    ``<namespace>/<name>/image``, which the dispatcher publishes.
    """
    if options.use_dispatcher:
        source = f'{name}/image'
    elif namespace and not options.image_topic.startswith('/'):
        source = f'/{options.image_topic}'
    else:
        source = options.image_topic
    rules = [('image', source), ('classification', f'{name}/classification'),
             ('label_info', f'{name}/label_info')]
    return tuple((src, dst) for src, dst in rules if src != dst)


def _holding_every_frame(spec: NodeSpec,
                         sections: Mapping[str, Mapping[str, ParameterValue]]) -> NodeSpec:
    """
    Let a classifier queue every frame the dispatcher may send it at once.

    With ``queue_size`` or ``image_depth`` below the dispatcher's ``max_in_flight``
    a classifier would drop a frame it was sent; its result would never come and
    the dispatcher would count it dropped after its timeout.
    """
    in_flight = int(sections.get(DISPATCHER, {}).get('max_in_flight', 2))
    parameters = dict(spec.parameters)
    for name in ('queue_size', 'image_depth'):
        parameters[name] = max(int(parameters.get(name, 1)), in_flight)
    return dataclasses.replace(spec, parameters=parameters)


def dispatcher_spec(sections: Mapping[str, Mapping[str, ParameterValue]],
                    classifiers: Sequence[NodeSpec], image_topic: str) -> NodeSpec:
    """:return: the dispatcher, reading the camera topic and feeding every classifier."""
    parameters = dict(sections.get(DISPATCHER, {}))
    parameters['targets'] = [spec.topic_prefix for spec in classifiers]
    remappings = (('image', image_topic),) if image_topic != 'image' else ()
    return NodeSpec(DISPATCHER, '', registry.DISPATCHER.executable, parameters, remappings)


def image_source_spec(sections: Mapping[str, Mapping[str, ParameterValue]],
                      options: TopologyOptions) -> NodeSpec:
    """
    Give the image source, publishing on the camera topic.

    :raises DlaInferError: when it has no source, or the source does not exist (checked
        here, so that a launch does not start classifiers with no camera to serve).
    """
    parameters = dict(sections.get(IMAGE_SOURCE, {}))
    parameters.update(options.image_source_overrides)
    source = str(parameters.get('source', '') or '')
    if not source:
        raise DlaInferError('the image source has no source: give images:=PATH (--images '
                            'PATH), or image_source.source in the parameters file')
    if not os.path.exists(source):
        raise DlaInferError(f'images {source!r}: no such file or folder')
    image_topic = options.image_topic
    remappings = (('image', image_topic),) if image_topic != 'image' else ()
    return NodeSpec(IMAGE_SOURCE, '', registry.IMAGE_SOURCE.executable, parameters, remappings)


def parameter_file_text(parameters: Mapping[str, ParameterValue]) -> str:
    """
    Write parameters as a ROS 2 parameters file for any node (``/**``).

    Strings are quoted, so ``''``, ``'true'`` or ``'1.0'`` stay strings; launch_ros
    would read them as YAML (``''`` as null) if they were passed as a dict.

    :return: the file's text.
    """
    yaml = _yaml()
    text: str = yaml.safe_dump({'/**': {'ros__parameters': dict(parameters)}},
                               default_flow_style=False, sort_keys=False)
    return text


def write_parameter_file(parameters: Mapping[str, ParameterValue], label: str) -> str:
    """
    Write :func:`parameter_file_text` to a new temporary file, removed when this process ends.

    The launch process writes them; its nodes read them when they start, and the files go
    when ``ros2 launch`` exits.

    :param label: part of the file name, e.g. the node name.
    :return: the file's path.
    """
    with tempfile.NamedTemporaryFile('w', encoding='utf-8', prefix=f'{PACKAGE}_{label}_',
                                     suffix='.yaml', delete=False) as f:
        f.write(parameter_file_text(parameters))
    if not _written:
        atexit.register(_remove_written)
    _written.append(f.name)
    return f.name


#: Parameter files this process wrote (removed at exit).
_written: List[str] = []


def _remove_written() -> None:
    while _written:
        with contextlib.suppress(OSError):
            os.remove(_written.pop())


def split_node_key(path: str, key: str) -> Tuple[str, str]:
    """
    Split a section key into namespace and node name.

    :return: ``('', 'name')`` for ``name``, ``('/ns', 'name')`` for ``/ns/name``.
    :raises DlaInferError: when a token is not a valid ROS name.
    """
    namespace, _, name = key.rpartition('/')
    tokens = [t for t in namespace.split('/') if t] + [name]
    if not all(_NAME.match(t) for t in tokens):
        raise DlaInferError(f'parameters file {path!r}: section {key!r} is not a node name '
                            '(letters, digits and _, not starting with a digit, optionally '
                            "after a namespace such as 'robot/')")
    return namespace.rstrip('/'), name


def _shared_parameters(sections: Mapping[str, Mapping[str, ParameterValue]],
                       namespace: str, name: str) -> Dict[str, ParameterValue]:
    """Merge, in file order, the wildcard sections matching the node's full name."""
    full_name = '/' + '/'.join(t for t in (namespace.strip('/'), name) if t)
    merged: Dict[str, ParameterValue] = {}
    for key, parameters in sections.items():
        if _is_wildcard(key) and _wildcard_matches(key, full_name):
            merged.update(parameters)
    return merged


def _is_wildcard(key: str) -> bool:
    return '*' in key


def _wildcard_matches(pattern: str, full_name: str) -> bool:
    """Match as rcl does: ``/**`` stands for any number of tokens, ``*`` for one."""
    pattern = '/' + pattern.lstrip('/')
    regex = re.escape(pattern).replace(r'/\*\*', '(/[^/]+)*').replace(r'\*', '[^/]+')
    return re.fullmatch(regex, full_name) is not None


def _section_parameters(path: str, key: str, body: Any) -> Dict[str, ParameterValue]:
    """Check one ``key: {ros__parameters: {...}}`` section and return its parameters."""
    if not isinstance(body, dict) or set(body) != {'ros__parameters'}:
        raise DlaInferError(f'parameters file {path!r}: section {key!r} must hold exactly '
                            "'ros__parameters:' (nested namespace keys are not supported; "
                            "write 'namespace/name:')")
    parameters = body['ros__parameters'] or {}
    if not isinstance(parameters, dict):
        raise DlaInferError(f'parameters file {path!r}: {key}.ros__parameters must be a mapping')
    for name, value in parameters.items():
        _check_value(path, f'{key}.{name}', value)
    return {str(name): value for name, value in parameters.items()}


def _check_value(path: str, where: str, value: ParameterValue) -> None:
    """Accept what a ROS parameter can hold: a scalar or a non-empty list of one type."""
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, list) and value and all(isinstance(v, _SCALARS) for v in value):
        if len({type(v) for v in value}) == 1:
            return
    raise DlaInferError(f'parameters file {path!r}: {where}={value!r} is not a ROS parameter '
                        'value (bool, int, float, string, or a non-empty list of one of them)')


def _yaml() -> Any:
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError as e:
        raise DlaInferError('reading parameter files needs PyYAML (pip install PyYAML, or '
                            'apt install python3-yaml); rclpy depends on it too') from e
    return yaml


def requested_overrides(pairs: Optional[Sequence[str]], what: str) -> Dict[str, ParameterValue]:
    """
    Parse ``name=value`` pairs; values are read as YAML (``5``, ``true``, ``fp16``).

    :raises DlaInferError: for a pair without ``=`` or an unreadable value.
    """
    yaml = _yaml()
    overrides: Dict[str, ParameterValue] = {}
    for pair in pairs or ():
        name, sep, text = pair.partition('=')
        if not sep or not name:
            raise DlaInferError(f'{what} {pair!r} given; write name=value, '
                                'e.g. backend=onnxruntime')
        try:
            value = yaml.safe_load(text) if text else ''
        except yaml.YAMLError as e:
            raise DlaInferError(f'{what} {pair!r}: the value is not readable: {e}') from e
        _check_value('<command line>', name, value)
        overrides[name] = value
    return overrides
