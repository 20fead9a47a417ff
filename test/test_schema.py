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
One declaration per parameter (:mod:`dla_infer_ros.schema`), and what must follow it.

The shipped parameter files and their comments, the README's parameter table and the
command lines' options are checked against the declarations; a backend with an option
of its own is added with its module and one registry entry.
"""

import argparse
import os
import re
from typing import Any, Dict, List

import numpy as np
import pytest
from toy_backend import ToyBackend

from dla_infer_ros import backends
from dla_infer_ros.classifier import Classifier
from dla_infer_ros.cli import classify_image, dla_bench, trt_engine_info
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import resolve_model
from dla_infer_ros.nodes.classifier_settings import classifier_parameters
from dla_infer_ros.schema import (add_arguments, argument_values, backend_options,
                                  classifier_settings, Setting)
from dla_infer_ros.topology import build_topology, load_parameter_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSIFIER_YAML = os.path.join(ROOT, 'config', 'classifier.yaml')
MULTI_ACCEL_YAML = os.path.join(ROOT, 'config', 'multi_accel.yaml')
TOY_ENTRY = backends.BackendEntry('toy_backend', 'ToyBackend', 'numpy',
                                  options='toy_backend:OPTIONS')


def test_each_parameter_is_declared_once_and_says_which_backend_reads_it() -> None:
    declared = classifier_parameters()
    assert declared['workspace_mb'].backends == ('tensorrt',)
    assert declared['cpu_threads'].backends == ('onnxruntime',)
    assert declared['precision'].backends == () and declared['top_k'].backends == ()
    assert declared['backend'].choices == backends.BACKEND_CHOICES
    with pytest.raises(DlaInferError, match="parameter 'top_k' is declared twice"):
        classifier_settings([Setting('top_k', 1, 'again'), Setting('top_k', 2, 'and again')])


def test_the_shipped_files_follow_the_declarations() -> None:
    declared = classifier_parameters()
    with open(CLASSIFIER_YAML, encoding='utf-8') as f:
        comments = dict(re.findall(r'^\s{4}(\w+):.*?#\s*(.*)$', f.read(), re.MULTILINE))
    sections = load_parameter_file(CLASSIFIER_YAML)
    assert list(sections) == ['/**']
    values = sections['/**']
    assert sorted(values) == sorted(declared)
    for name, entry in declared.items():
        assert values[name] == entry.default, f'{name}: {values[name]!r} in the file'
        assert type(values[name]) is type(entry.default), name
        assert comments[name].startswith('(restart)') == entry.read_only, name
    for spec in build_topology(MULTI_ACCEL_YAML):
        assert sorted(spec.parameters) == sorted(declared)
        for name, value in spec.parameters.items():
            assert type(value) is type(declared[name].default), name


def test_the_readme_table_follows_the_declarations() -> None:
    yaml = pytest.importorskip('yaml')
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    table = readme[readme.index('| Parameter | Default |'):]
    table = table[:table.index('\n\n')]
    documented: Dict[str, object] = {}
    for row in table.splitlines()[2:]:
        cells = row.split('|')
        names = re.findall(r'`(\w+)`', cells[1])
        defaults = re.findall(r'`([^`]*)`', cells[2])
        assert len(names) == len(defaults), row
        documented.update((n, yaml.safe_load(d)) for n, d in zip(names, defaults))
    declared = classifier_parameters()
    assert sorted(documented) == sorted(declared)
    for name, value in documented.items():
        assert value == declared[name].default, f'README: {name} = {value!r}'


@pytest.mark.parametrize('module', [classify_image, dla_bench, trt_engine_info],
                         ids=['classify_image', 'dla_bench', 'trt_engine_info'])
def test_command_lines_offer_the_declared_options(module: Any) -> None:
    declared = classifier_settings()
    parser: argparse.ArgumentParser = module.build_parser()
    offered = {action.dest: action for action in parser._actions if action.dest in declared}
    assert sorted(offered) == sorted(module.SETTINGS)
    for name, action in offered.items():
        entry = declared[name]
        assert action.option_strings == [entry.cli_flag], name
        assert entry.description in str(action.help), name
        assert tuple(action.choices or ()) == entry.choices, name
        if not isinstance(entry.default, bool):
            assert action.type is type(entry.default), name


def test_options_read_back_are_checked_against_the_declarations() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, ['batch_size', 'allow_gpu_fallback', 'engine_cache_dir'])
    args = parser.parse_args(['--batch', '4', '--no-gpu-fallback', '--cache-dir', '/tmp/c'])
    values = argument_values(args, ['batch_size', 'allow_gpu_fallback', 'engine_cache_dir'])
    assert values == {'batch_size': 4, 'allow_gpu_fallback': False,
                      'engine_cache_dir': '/tmp/c'}
    options = backend_options(values)
    assert (options.batch_size, options.allow_gpu_fallback) == (4, False)
    with pytest.raises(DlaInferError, match=r'batch_size=999; allowed 1..256'):
        argument_values(parser.parse_args(['--batch', '999']), ['batch_size'])


def test_a_backend_with_an_option_of_its_own_is_its_module_and_one_entry(
        monkeypatch: pytest.MonkeyPatch, tiny_model: str) -> None:
    # test/toy_backend.py declares the class and OPTIONS; the entry below is all else.
    monkeypatch.setitem(backends.BACKENDS, 'toy', TOY_ENTRY)
    declared = classifier_parameters()
    assert declared['toy_gray_score'].backends == ('toy',)
    assert declared['toy_gray_score'].default == 5.0
    assert declared['backend'].choices == ('auto', 'tensorrt', 'onnxruntime', 'toy')
    parser = argparse.ArgumentParser()
    add_arguments(parser, ['toy_gray_score'])
    values = argument_values(parser.parse_args(['--toy-gray-score', '50']), ['toy_gray_score'])
    options = backend_options({**values, 'top_k': 3})  # the node's own are left out
    assert options.option('toy_gray_score') == 50.0 and options.extra == values
    gray: List[np.ndarray] = [np.full((8, 8, 3), 128, np.uint8)]
    contract = resolve_model(tiny_model)
    with Classifier(contract, 'toy', options, top_k=1) as classifier:
        assert isinstance(classifier.backend, ToyBackend)
        [[(index, _, score)]] = classifier.classify(gray, 'RGB')
        assert index == 3 and score > 0.99  # gray scored 50: far above the colours
    with Classifier(contract, 'toy', backend_options({}), top_k=1) as classifier:
        assert classifier.backend.options.option('toy_gray_score') == 5.0  # its default
    with pytest.raises(DlaInferError, match="no backend option 'toy_grey_score'"):
        backend_options({}).option('toy_grey_score')
