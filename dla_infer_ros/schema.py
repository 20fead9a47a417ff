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
The parameters of a classifier, each declared once (no ROS here).

An entry has its name, default, description, range or choices, whether it is read-only
and which backends it concerns. :data:`SHARED` holds what every backend reads (model,
device, fallback, precision, batch); each backend declares its own options next to its
code (``OPTIONS`` of its module, found through the backend registry's ``options``);
the node adds its own (:mod:`dla_infer_ros.nodes.classifier_node`). From the entries
come the node's ``declare_parameter`` calls and its ``--help``, the command-line
options of ``classify_image``, ``dla_bench`` and ``trt_engine_info``
(:func:`add_arguments`), and :class:`~dla_infer_ros.backends.BackendOptions`
(:func:`backend_options`); a test holds ``config/*.yaml`` and the README's parameter
table to them.
"""

import argparse
import dataclasses
import importlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from dla_infer_ros.errors import DlaInferError


@dataclasses.dataclass(frozen=True)
class Setting:
    """One parameter: what a node declares and a command line offers."""

    name: str
    default: Any
    description: str
    read_only: bool = True
    #: inclusive (low, high) of a number
    bounds: Optional[Tuple[float, float]] = None
    #: the values a string takes
    choices: Tuple[str, ...] = ()
    #: the backends it concerns; () = every one (or the node itself)
    backends: Tuple[str, ...] = ()
    #: its command-line flag where not ``--<name with dashes>``; a true-by-default
    #: flag is offered as its negation (``--no-gpu-fallback``)
    flag: str = ''

    def check(self, value: Any) -> None:
        """
        Check a value against the choices and the range.

        :raises DlaInferError: naming the setting, for a value outside them.
        """
        if self.choices and value not in self.choices:
            raise DlaInferError(f'{self.name}={value!r}; expected one of '
                                + ', '.join(self.choices))
        if self.bounds is not None and not isinstance(value, bool) \
                and not self.bounds[0] <= value <= self.bounds[1]:
            raise DlaInferError(f'{self.name}={value!r}; allowed {self.bounds[0]:g}..'
                                f'{self.bounds[1]:g}')

    @property
    def cli_flag(self) -> str:
        """:return: the command-line flag of this setting."""
        return self.flag or '--' + self.name.replace('_', '-')


def _shared() -> Tuple[Setting, ...]:
    from dla_infer_ros.backends import BACKENDS, BATCH_SIZES
    from dla_infer_ros.backends.base import PRECISIONS
    choices = ('auto', *BACKENDS)  # read now: a backend registered later is a choice too
    return (
        Setting('model_path', '', 'ONNX model (or TensorRT plan) with its contract .json next '
                'to it; empty: the embedded EfficientNet-Lite0 (ImageNet)', flag='--model'),
        Setting('labels_path', '', "labels file, one per line; empty: the model contract's",
                flag='--labels'),
        Setting('backend', 'auto', ' | '.join(choices), choices=choices),
        Setting('dla_core', -1, 'DLA core to run on; -1 asks for the GPU', bounds=(-1, 15)),
        Setting('allow_gpu_fallback', True, 'run layers the DLA cannot run (or the whole '
                'model, when the requested accelerator is missing) on the GPU/CPU instead of '
                'refusing to start', flag='--no-gpu-fallback'),
        Setting('precision', 'fp32', 'fp32 | fp16 | int8 | best (DLA needs fp16 or int8; '
                'fp16 is chosen for the DLA unless int8 is asked)', choices=PRECISIONS),
        Setting('batch_size', 1, 'images per inference; queued frames are batched, never '
                'waited for', bounds=BATCH_SIZES, flag='--batch'),
        Setting('device_id', 0, 'CUDA device index', bounds=(0, 15)),
    )


def backend_settings() -> List[Setting]:
    """:return: the options every backend of the registry declares, in registry order."""
    from dla_infer_ros.backends import BACKENDS
    settings: List[Setting] = []
    for name, entry in BACKENDS.items():
        if not entry.options:
            continue
        module, attribute = entry.options.split(':')
        declared: Sequence[Setting] = getattr(importlib.import_module(module), attribute)
        settings += [dataclasses.replace(s, backends=s.backends or (name,)) for s in declared]
    return settings


def classifier_settings(node: Iterable[Setting] = ()) -> Dict[str, Setting]:
    """
    Gather the settings of a classifier: shared, each backend's, then ``node``'s own.

    :return: name -> setting, in that order.
    :raises DlaInferError: when two declare the same name.
    """
    gathered: Dict[str, Setting] = {}
    for setting in (*_shared(), *backend_settings(), *node):
        if setting.name in gathered:
            raise DlaInferError(f'parameter {setting.name!r} is declared twice')
        gathered[setting.name] = setting
    return gathered


def setting(name: str) -> Setting:
    """
    Find a shared or backend setting.

    :raises DlaInferError: for a name none declares.
    """
    settings = classifier_settings()
    if name not in settings:
        raise DlaInferError(f'no backend option {name!r}; declared: ' + ', '.join(settings))
    return settings[name]


def backend_options(values: Mapping[str, Any], **fixed: Any) -> Any:
    """
    Build :class:`~dla_infer_ros.backends.BackendOptions` from setting values.

    The fields it has are set by name; a backend's option it has no field for goes
    into ``extra``, where that backend reads it (``options.option(name)``). Names
    that are neither (the node's own) are left out.

    :param values: name -> value (the node's parameters, a command line's options).
    :param fixed: fields set by the caller (e.g. ``tactic_sources``).
    """
    from dla_infer_ros.backends import BackendOptions
    fields = {f.name for f in dataclasses.fields(BackendOptions)}
    owned = {s.name for s in backend_settings()}
    chosen = {name: value for name, value in values.items() if name in fields}
    extra = {name: value for name, value in values.items()
             if name in owned and name not in fields}
    return BackendOptions(**{**chosen, **fixed}, extra=extra)


def add_arguments(parser: argparse.ArgumentParser, names: Sequence[str],
                  defaults: Optional[Mapping[str, Any]] = None) -> None:
    """
    Offer settings as command-line options, with their flag, type, choices and description.

    :param names: the settings, in the order they are listed.
    :param defaults: defaults of this command where they differ from the node's.
    """
    settings = classifier_settings()
    for name in names:
        entry = settings[name]
        default = (defaults or {}).get(name, entry.default)
        if isinstance(entry.default, bool):
            parser.add_argument(entry.cli_flag, dest=name, default=default,
                                action='store_false' if entry.default else 'store_true',
                                help=f'do not {entry.description}' if entry.default
                                else entry.description)
            continue
        parser.add_argument(entry.cli_flag, dest=name, default=default,
                            type=type(entry.default), choices=entry.choices or None,
                            metavar=None if entry.choices else
                            entry.cli_flag[2:].replace('-', '_').upper(),
                            help=f'{entry.description} (default: {default!r})')


def argument_values(args: argparse.Namespace, names: Sequence[str]) -> Dict[str, Any]:
    """
    Read back the options :func:`add_arguments` offered.

    :return: name -> value.
    :raises DlaInferError: for a value outside a setting's range.
    """
    settings = classifier_settings()
    values = {name: getattr(args, name) for name in names}
    for name, value in values.items():
        settings[name].check(value)
    return values
