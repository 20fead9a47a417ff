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
The sources stay runnable on Python 3.8 (JetPack 5, Ubuntu 20.04) though CI runs a newer one.

mypy 1.18 no longer targets 3.8 and CI has no 3.8 interpreter, so this test reads the
sources: they must parse with the 3.8 grammar, must not evaluate typing forms that 3.8
rejects at run time (``list[int]``, ``Optional[int] | None``), and must not use the newer
standard-library names listed below. The lists hold the likely names, not every one
(``dict | dict`` needs types to spot); the whole suite under a real 3.8 (README) is the
full check.
"""

import ast
import os
from typing import Dict, Iterator, List, Optional, Tuple, Union

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKED = ['dla_infer_ros', 'test', 'tools', 'launch', 'setup.py']
OLDEST_PYTHON = (3, 8)

#: classes that can be subscripted at run time only from Python 3.9 on (PEP 585)
GENERIC_FROM_39 = {'list', 'dict', 'tuple', 'set', 'frozenset', 'type', 'os.PathLike',
                   'queue.Queue', 're.Pattern', 're.Match', 'collections.deque',
                   'collections.defaultdict', 'collections.OrderedDict', 'collections.Counter'}

#: dotted names (modules, functions, classes) -> the Python that added them
NEWER_NAMES: Dict[str, Tuple[int, int]] = {
    'functools.cache': (3, 9), 'math.lcm': (3, 9), 'random.randbytes': (3, 9),
    'ast.unparse': (3, 9), 'asyncio.to_thread': (3, 9), 'typing.Annotated': (3, 9),
    'zoneinfo': (3, 9), 'graphlib': (3, 9), 'os.waitstatus_to_exitcode': (3, 9),
    'itertools.pairwise': (3, 10), 'typing.ParamSpec': (3, 10), 'typing.TypeAlias': (3, 10),
    'typing.TypeGuard': (3, 10), 'typing.Concatenate': (3, 10), 'aiter': (3, 10),
    'anext': (3, 10), 'contextlib.aclosing': (3, 10), 'inspect.get_annotations': (3, 10),
    'sys.stdlib_module_names': (3, 10), 'sys.orig_argv': (3, 10),
    'tomllib': (3, 11), 'typing.Self': (3, 11), 'typing.Never': (3, 11),
    'typing.LiteralString': (3, 11), 'typing.assert_never': (3, 11), 'enum.StrEnum': (3, 11),
    'datetime.UTC': (3, 11), 'contextlib.chdir': (3, 11), 'hashlib.file_digest': (3, 11),
    'asyncio.TaskGroup': (3, 11), 'ExceptionGroup': (3, 11), 'BaseExceptionGroup': (3, 11),
    'itertools.batched': (3, 12), 'typing.override': (3, 12),
}

#: method names distinctive enough to check on any object -> the Python that added them
NEWER_METHODS: Dict[str, Tuple[int, int]] = {
    'removeprefix': (3, 9), 'removesuffix': (3, 9), 'is_relative_to': (3, 9),
    'with_stem': (3, 9), 'bit_count': (3, 10), 'hardlink_to': (3, 10), 'add_note': (3, 11),
}

#: function -> keyword arguments it takes only from a newer Python
NEWER_KEYWORDS: Dict[str, Dict[str, Tuple[int, int]]] = {
    'zip': {'strict': (3, 10)},
    'dataclasses.dataclass': {'slots': (3, 10), 'kw_only': (3, 10), 'weakref_slot': (3, 11)},
}

#: numpy.typing came with numpy 1.20; Ubuntu 20.04 has 1.17. One module imports it, guarded.
NUMPY_TYPING_HOME = os.path.join('dla_infer_ros', 'backends', 'cuda', 'interface.py')


def _sources() -> Iterator[str]:
    for entry in CHECKED:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield path
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '__')))
            yield from (os.path.join(folder, f) for f in sorted(files) if f.endswith('.py'))


class NewerPythonFinder(ast.NodeVisitor):
    """Collects the uses of Python > 3.8 names and run-time typing forms in one module."""

    def __init__(self, relative_path: str) -> None:
        self.relative_path = relative_path
        self.problems: List[str] = []
        self.aliases: Dict[str, str] = {}
        self.postponed_annotations = False
        self.function_depth = 0
        self.in_annotation = False
        self.import_guarded = False

    def report(self, node: ast.AST, what: str, version: Tuple[int, int]) -> None:
        """Record ``what`` at the line of ``node``, needing Python ``version``."""
        self.problems.append(f'{self.relative_path}:{getattr(node, "lineno", 0)}: {what} '
                             f'needs Python {version[0]}.{version[1]}')

    def dotted(self, node: ast.AST) -> Optional[str]:
        """:return: the imported name an expression refers to, e.g. 'functools.cache'."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f'{base}.{node.attr}' if base else None
        return None

    def visit_Import(self, node: ast.Import) -> None:
        """Remember aliases; check the modules."""
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split('.')[0]] = (
                alias.name if alias.asname else alias.name.split('.')[0])
            self.check_name(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """Remember aliases; check the module and every imported name."""
        module = node.module or ''
        if module == '__future__':
            self.postponed_annotations |= any(a.name == 'annotations' for a in node.names)
        self.check_name(node, module)
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f'{module}.{alias.name}'
            self.check_name(node, f'{module}.{alias.name}')

    def check_name(self, node: ast.AST, name: str) -> None:
        """Report ``name`` if a newer Python added it, or if it is numpy.typing misplaced."""
        if name in NEWER_NAMES and not self.import_guarded:
            self.report(node, name, NEWER_NAMES[name])
        if name.startswith('numpy.typing') and (self.relative_path != NUMPY_TYPING_HOME or
                                                not self.import_guarded):
            self.problems.append(f'{self.relative_path}:{getattr(node, "lineno", 0)}: '
                                 f'numpy.typing needs numpy 1.20; take DTypeLike from '
                                 f'{NUMPY_TYPING_HOME}, which imports it guarded')

    def visit_guarded(self, statements: List[ast.stmt]) -> None:
        """Visit imports that may fail: under ``TYPE_CHECKING`` or ``try/except ImportError``."""
        outer, self.import_guarded = self.import_guarded, True
        for statement in statements:
            self.visit(statement)
        self.import_guarded = outer

    def visit_If(self, node: ast.If) -> None:
        """Visit an ``if``; its body is guarded where the test is ``TYPE_CHECKING``."""
        if (self.dotted(node.test) or '').endswith('TYPE_CHECKING'):
            self.visit_guarded(node.body)
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def caught(self, handler: ast.ExceptHandler) -> List[str]:
        """:return: the names of the exceptions an ``except`` clause catches."""
        if handler.type is None:
            return ['BaseException']
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        return [self.dotted(t) or '' for t in types]

    def visit_Try(self, node: ast.Try) -> None:
        """Visit a ``try``; its body is guarded where a handler catches ImportError."""
        caught = {name for handler in node.handlers for name in self.caught(handler)}
        if caught & {'ImportError', 'ModuleNotFoundError', 'Exception', 'BaseException'}:
            self.visit_guarded(node.body)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        """Check builtins used by name (imported names were checked at their import)."""
        if node.id not in self.aliases and node.id in NEWER_NAMES:
            self.report(node, node.id, NEWER_NAMES[node.id])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        """Check ``module.name`` and the distinctive newer methods."""
        name = self.dotted(node)
        if name in NEWER_NAMES:
            self.report(node, name, NEWER_NAMES[name])
        if node.attr in NEWER_METHODS:
            self.report(node, f'.{node.attr}()', NEWER_METHODS[node.attr])
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """Check keyword arguments newer Pythons added, and ``isinstance(x, A | B)``."""
        function = self.dotted(node.func) or ''
        for keyword in node.keywords:
            version = NEWER_KEYWORDS.get(function, {}).get(keyword.arg or '')
            if version:
                self.report(node, f'{function}({keyword.arg}=...)', version)
        if function in ('isinstance', 'issubclass') and len(node.args) == 2 and isinstance(
                node.args[1], ast.BinOp) and isinstance(node.args[1].op, ast.BitOr):
            self.report(node, f'{function}() with an X | Y union', (3, 10))
        self.generic_visit(node)

    def evaluated(self) -> bool:
        """:return: whether the expression being visited runs when the module runs."""
        return not (self.in_annotation and self.postponed_annotations)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        """Report ``list[int]`` and the like where Python evaluates them."""
        name = self.dotted(node.value) or ''
        if self.evaluated() and (name in GENERIC_FROM_39 or name.startswith('collections.abc.')):
            self.report(node, f'{name}[...] at run time (its typing alias works)', (3, 9))
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """Report ``X | Y`` unions in annotations that Python evaluates."""
        if self.in_annotation and self.evaluated() and isinstance(node.op, ast.BitOr):
            self.report(node, 'an X | Y union in an annotation (Optional/Union work)', (3, 10))
        self.generic_visit(node)

    def visit_annotation(self, annotation: Optional[ast.expr]) -> None:
        """Visit an annotation that Python evaluates (those of local variables it does not)."""
        if annotation is None:
            return
        self.in_annotation = True
        self.visit(annotation)
        self.in_annotation = False

    def visit_function(self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> None:
        """Visit argument and return annotations (evaluated at def), then the body."""
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                    arguments.vararg, arguments.kwarg]:
            self.visit_annotation(arg.annotation if arg else None)
        self.visit_annotation(node.returns)
        for child in [*node.decorator_list, *arguments.defaults,
                      *[d for d in arguments.kw_defaults if d is not None]]:
            self.visit(child)
        self.function_depth += 1
        for statement in node.body:
            self.visit(statement)
        self.function_depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """Visit a function."""
        self.visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        """Visit a coroutine function."""
        self.visit_function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        """Visit a class: the annotations in its body are evaluated, even inside a function."""
        depth, self.function_depth = self.function_depth, 0
        self.generic_visit(node)
        self.function_depth = depth

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        """Visit an annotated assignment: module and class annotations run, local ones do not."""
        if self.function_depth == 0:
            self.visit_annotation(node.annotation)
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)


def newer_python_uses(path: str) -> List[str]:
    """:return: the problems of one source file, 'path:line: what needs Python x.y'."""
    relative_path = os.path.relpath(path, ROOT)
    with open(path, encoding='utf-8') as f:
        source = f.read()
    try:
        tree = ast.parse(source, path, feature_version=OLDEST_PYTHON)
    except SyntaxError as e:
        return [f'{relative_path}:{e.lineno}: not Python {OLDEST_PYTHON[0]}.{OLDEST_PYTHON[1]} '
                f'syntax: {e.msg}']
    finder = NewerPythonFinder(relative_path)
    finder.visit(tree)
    return sorted(set(finder.problems))


@pytest.mark.linter
def test_sources_keep_to_python_38() -> None:
    problems = [p for path in _sources() for p in newer_python_uses(path)]
    assert not problems, 'Python 3.8 (JetPack 5) cannot run:\n' + '\n'.join(problems)


NEWER_SNIPPETS = [
    ('with (open("a") as a, open("b") as b):\n    pass\n', 'syntax'),
    ('match x:\n    case 1:\n        pass\n', 'syntax'),
    ('def f(x: list[int]) -> None:\n    pass\n', 'list[...] at run time'),
    ('from typing import Optional\nX: Optional[int] | None = None\n', 'X | Y union'),
    ('import functools\n@functools.cache\ndef f() -> int:\n    return 1\n', 'functools.cache'),
    ('from functools import cache\n', 'functools.cache'),
    ('name = "a_b".removeprefix("a_")\n', '.removeprefix()'),
    ('pairs = list(zip([1], [2], strict=True))\n', 'zip(strict=...)'),
    ('from numpy.typing import DTypeLike\n', 'numpy.typing needs numpy 1.20'),
    ('try:\n    import numpy.typing\nexcept ImportError:\n    pass\n', 'numpy.typing needs'),
    ('from collections.abc import Sequence\nS = Sequence[int]\n', 'collections.abc.Sequence'),
]

ALLOWED_SNIPPETS = [
    'from typing import List\n\ndef f(x: List[int]) -> "list[int]":\n    return x\n',
    'def f() -> None:\n    local: list[int] = []\n    print(local)\n',
    'from __future__ import annotations\n\ndef f(x: list[int] | None) -> dict[str, int]:\n'
    '    return {}\n',
    'flags = 1 | 2\n',
    'try:\n    from functools import cache\nexcept ImportError:\n    cache = None\n',
    'try:\n    import tomllib\nexcept (AttributeError, ModuleNotFoundError):\n    pass\n',
    'from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from typing import Self\n',
    'if (n := 3) > 2:\n    print(n)\n',
]


@pytest.mark.parametrize('snippet, expected', NEWER_SNIPPETS)
def test_finds_newer_python(tmp_path: 'os.PathLike[str]', snippet: str, expected: str) -> None:
    path = os.path.join(str(tmp_path), 'newer.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(snippet)
    problems = newer_python_uses(path)
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize('snippet', ALLOWED_SNIPPETS)
def test_accepts_python_38(tmp_path: 'os.PathLike[str]', snippet: str) -> None:
    path = os.path.join(str(tmp_path), 'older.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(snippet)
    assert newer_python_uses(path) == []
