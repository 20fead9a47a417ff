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
The declared TensorRT API table matches the source of the TensorRT backend.

An AST walk over ``dla_infer_ros/backends/tensorrt/*.py`` collects every
``trt.X`` / ``trt.X.Y``, every method defined on a subclass of a TensorRT
class, every attribute name and every keyword argument. Each must be in
:data:`api_surface.USED_API` (unless it is a non-TensorRT attribute listed
below with its reason), and each table entry must still be used; so the table
the real-bindings test checks is the API the code really touches.

The table is also checked against every committed surface (names, keyword
arguments, override parameters): the only check for 8.5.3.1, whose surface
is recorded from the full TensorRT wheel, not downloaded by the tests.
"""

import ast
import glob
import json
import os
from typing import Any, Dict, List, Set, Tuple

from fake_tensorrt import DATA, VERSIONS
import pytest

from dla_infer_ros.backends.tensorrt import api_surface

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       'dla_infer_ros', 'backends', 'tensorrt')

#: attribute names the backend uses that TensorRT classes also have, but that the
#: backend uses on its own (non-TensorRT) objects
NOT_TENSORRT = {
    'DEBUG': 'logging.DEBUG (TensorRT VERBOSE maps to it), not BuilderFlag.DEBUG',
    'dtype': 'numpy arrays and IoTensor.dtype; engine dtypes come from get_tensor_dtype()',
    'engine': '_Active.engine, the backend state holding the ICudaEngine',
    'itemsize': 'numpy dtype item size, not DataType.itemsize',
    'nbytes': 'HostBuffer/DeviceBuffer/IoTensor sizes; IHostMemory is read through bytes()',
    'parse': 'TrtVersion.parse; ONNX files go through OnnxParser.parse_from_file',
    'precision': 'BackendOptions/BuildRequest precision, not ILayer.precision',
    'tactic_sources': 'BuildRequest.tactic_sources, the mask given to set_tactic_sources()',
    'update': 'hashlib digests (cache keys, calibration fingerprints)',
}


class Uses(ast.NodeVisitor):
    """Collect what one module touches."""

    def __init__(self) -> None:
        self.module_attrs: Set[str] = set()  # trt.X
        self.nested: Set[Tuple[str, str]] = set()  # trt.X.Y (X may be dotted)
        self.attributes: Dict[str, List[str]] = {}  # name -> where
        self.overrides: Set[Tuple[str, str]] = set()  # (TensorRT base, method)
        self.keywords: Set[Tuple[str, str]] = set()  # (method, keyword)
        self.where = ''

    def visit_Attribute(self, node: ast.Attribute) -> None:  # noqa: N802
        chain = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            chain.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name) and current.id == 'trt':
            chain.reverse()
            self.module_attrs.add(chain[0])
            if len(chain) > 1:
                self.nested.add(('.'.join(chain[:-1]), chain[-1]))
        self.attributes.setdefault(node.attr, []).append(f'{self.where}:{node.lineno}')
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:  # noqa: N802
        for base in node.bases:
            if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) \
                    and base.value.id == 'trt':
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        self.overrides.add((base.attr, item.name))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        if isinstance(node.func, ast.Attribute):
            for keyword in node.keywords:
                if keyword.arg:
                    self.keywords.add((node.func.attr, keyword.arg))
        self.generic_visit(node)


def collect() -> Uses:
    uses = Uses()
    for path in sorted(glob.glob(os.path.join(PACKAGE, '*.py'))):
        if os.path.basename(path) == 'api_surface.py':
            continue
        uses.where = os.path.basename(path)
        with open(path, encoding='utf-8') as f:
            uses.visit(ast.parse(f.read(), path))
    return uses


def real_members() -> Dict[str, Set[str]]:
    """:return: class -> members, over every committed version."""
    members: Dict[str, Set[str]] = {}
    for version in VERSIONS:
        with open(os.path.join(DATA, f'trt_surface_{version}.json'), encoding='utf-8') as f:
            for name, entry in json.load(f)['classes'].items():
                members.setdefault(name, set()).update(entry['members'])
    return members


USES = collect()
TABLE = {(u.owner, u.member): u for u in api_surface.USED_API}
DECLARED = {u.member for u in api_surface.USED_API}


def test_every_module_attribute_is_declared() -> None:
    undeclared = sorted(x for x in USES.module_attrs if ('tensorrt', x) not in TABLE)
    assert undeclared == []


def test_every_nested_name_is_declared() -> None:
    undeclared = sorted(f'{o}.{m}' for o, m in USES.nested if (o, m) not in TABLE)
    assert undeclared == []


def test_every_override_of_a_tensorrt_method_is_declared() -> None:
    members = real_members()
    undeclared = sorted(f'{base}.{method}' for base, method in USES.overrides
                        if method in members.get(base, set()) and (base, method) not in TABLE)
    assert undeclared == []
    overrides = {(u.owner, u.member) for u in api_surface.USED_API if u.kind == 'override'}
    assert overrides == {(b, m) for b, m in USES.overrides if (b, m) in TABLE}


def test_every_tensorrt_member_name_in_the_source_is_declared() -> None:
    members = real_members()
    tensorrt_names = set().union(*(members[o] for o in api_surface.owners() if o in members))
    suspicious = {name: where for name, where in USES.attributes.items()
                  if name in tensorrt_names and name not in DECLARED and name not in NOT_TENSORRT}
    assert suspicious == {}


def test_no_stale_table_entries() -> None:
    used_names = set(USES.attributes) | USES.module_attrs | {m for _, m in USES.overrides}
    stale = sorted(f'{u.owner}.{u.member}' for u in api_surface.USED_API
                   if u.member not in used_names)
    assert stale == []
    assert set(NOT_TENSORRT) <= set(USES.attributes)


def test_keyword_arguments_are_declared() -> None:
    declared = {(u.member, k) for u in api_surface.USED_API for k in u.kwargs}
    trt_calls = {(m, k) for m, k in USES.keywords if m in DECLARED}
    assert trt_calls == declared


def test_every_owner_exists_in_some_real_version() -> None:
    members = real_members()
    for use in api_surface.USED_API:
        if use.owner == 'tensorrt':
            continue
        assert use.owner in members, use
        if use.kind != 'override' or use.member == '__init__':
            assert use.member in members[use.owner], use


def committed_surface(version: str) -> Tuple[Dict[str, Any], Tuple[api_surface.ApiUse, ...]]:
    """:return: the committed surface of ``version`` and the table entries for its family."""
    with open(os.path.join(DATA, f'trt_surface_{version}.json'), encoding='utf-8') as f:
        surface: Dict[str, Any] = json.load(f)
    numbers = version.split('.')
    release = (int(numbers[0]), int(numbers[1]))
    family = max(f for f in api_surface.FAMILIES if f <= release)
    return surface, api_surface.used_for(family)


@pytest.mark.parametrize('version', VERSIONS)
def test_table_entries_exist_in_the_committed_surface(version: str) -> None:
    """The same check the real-bindings test runs, here on the committed dumps."""
    surface, uses = committed_surface(version)
    missing = []
    for use in uses:
        if use.owner == 'tensorrt':
            ok = use.member in surface['module'] or use.member == '__version__'
        elif use.kind == 'enum':
            ok = use.member in surface['classes'].get(use.owner, {}).get('enum', {})
        else:
            ok = use.member in surface['classes'].get(use.owner, {}).get('members', [])
        if not ok:
            missing.append(f'{use.owner}.{use.member}')
    assert missing == []


@pytest.mark.parametrize('version', VERSIONS)
def test_keywords_and_overrides_match_the_committed_surface(version: str) -> None:
    """Keyword arguments and override parameters, from the dumped pybind11 signatures."""
    surface, uses = committed_surface(version)
    wrong = []
    for use in uses:
        if not use.kwargs and use.kind != 'override':
            continue
        overloads = surface['classes'][use.owner]['signatures'][use.member]
        wrong += [f'{use.owner}.{use.member}({kwarg}=)' for kwarg in use.kwargs
                  if not any(kwarg in params for params in overloads)]
        if use.kind == 'override' and use.member != '__init__' \
                and list(use.params) not in overloads:
            wrong.append(f'{use.owner}.{use.member}{use.params} vs {overloads}')
    assert wrong == []
