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

"""The topology module: nodes, parameters and remappings from one parameters file."""

import os
import re
import textwrap
from typing import Dict, List

import pytest

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.topology import (build_topology, default_config_path,
                                    NodeSpec, parse_bool, parse_float, parse_int,
                                    requested_overrides, TopologyOptions)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'test', 'data')
MULTI_ACCEL = os.path.join(ROOT, 'config', 'multi_accel.yaml')
CLASSIFIER = os.path.join(ROOT, 'config', 'classifier.yaml')


def write(tmp_path: 'os.PathLike[str]', text: str) -> str:
    path = os.path.join(str(tmp_path), 'params.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(textwrap.dedent(text))
    return path


def by_name(specs: List[NodeSpec]) -> Dict[str, NodeSpec]:
    return {spec.name: spec for spec in specs}


class TestShippedConfig:

    def test_default_is_one_classifier_per_accelerator(self) -> None:
        specs = build_topology(MULTI_ACCEL)
        assert [(s.name, s.executable, s.requested_device) for s in specs] == [
            ('classifier_gpu', 'classifier', 'GPU'),
            ('classifier_dla0', 'classifier', 'DLA core 0'),
            ('classifier_dla1', 'classifier', 'DLA core 1')]
        for spec in specs:
            assert spec.namespace == ''
            assert spec.parameters['allow_gpu_fallback'] is True
            assert spec.parameters['model_path'] == ''
            assert dict(spec.remappings) == {
                'classification': f'{spec.name}/classification',
                'label_info': f'{spec.name}/label_info'}

    def test_camera_topic_goes_to_every_classifier_without_dispatcher(self) -> None:
        specs = build_topology(MULTI_ACCEL, TopologyOptions(image_topic='/camera/image_raw'))
        for spec in specs:
            assert (spec.parameters['queue_size'], spec.parameters['image_depth']) == (1, 1)
            remaps = dict(spec.remappings)
            assert remaps['image'] == '/camera/image_raw'
            assert 'image/compressed' not in remaps  # the node derives it from image
        outputs = [dict(s.remappings)['classification'] for s in specs]
        assert len(set(outputs)) == len(outputs)

    def test_dispatcher_reads_the_camera_and_feeds_each_classifier(self) -> None:
        specs = by_name(build_topology(MULTI_ACCEL, TopologyOptions(
            image_topic='/camera/image_raw', use_dispatcher=True)))
        dispatcher = specs['dispatcher']
        assert dispatcher.executable == 'dispatcher'
        assert dispatcher.remappings == (('image', '/camera/image_raw'),)
        assert dispatcher.parameters['targets'] == [
            'classifier_gpu', 'classifier_dla0', 'classifier_dla1']
        assert dispatcher.parameters['window'] == 16
        assert 'model_path' not in dispatcher.parameters  # /** is for the classifiers
        for target in dispatcher.parameters['targets']:
            # queue_size 1 and image_depth 1 in the file, max_in_flight 2.
            assert specs[target].parameters['queue_size'] == 2
            assert specs[target].parameters['image_depth'] == 2
            remaps = dict(specs[target].remappings)
            assert remaps['image'] == f'{target}/image'
            assert remaps['classification'] == f'{target}/classification'

    def test_image_source_publishes_on_the_camera_topic(self) -> None:
        specs = by_name(build_topology(MULTI_ACCEL, TopologyOptions(
            image_topic='cam', start_image_source=True,
            image_source_overrides={'source': DATA, 'rate': 15.0})))
        source = specs['image_source']
        assert source.executable == 'image_source'
        assert source.remappings == (('image', 'cam'),)
        assert source.parameters['source'] == DATA
        assert source.parameters['rate'] == 15.0
        assert source.parameters['encoding'] == 'bgr8'
        assert 'dispatcher' not in specs

    @pytest.mark.parametrize('overrides, message', [
        ({}, 'the image source has no source: give images:=PATH'),
        ({'source': '/nonexistent/clip.mp4'}, "images '/nonexistent/clip.mp4': no such file"),
    ])
    def test_an_image_source_without_frames_stops_the_launch(
            self, overrides: Dict[str, str], message: str) -> None:
        # Checked before any node starts: the classifiers would idle on without a camera.
        with pytest.raises(DlaInferError, match=message):
            build_topology(MULTI_ACCEL, TopologyOptions(start_image_source=True,
                                                        image_source_overrides=overrides))

    def test_model_path_and_overrides_replace_the_file_values(self) -> None:
        specs = build_topology(MULTI_ACCEL, TopologyOptions(
            model_path='/models/resnet.onnx',
            classifier_overrides={'backend': 'onnxruntime', 'dla_core': 0}))
        for spec in specs:
            assert spec.parameters['model_path'] == '/models/resnet.onnx'
            assert spec.parameters['backend'] == 'onnxruntime'
            assert spec.parameters['dla_core'] == 0

    @pytest.mark.parametrize('path', [MULTI_ACCEL, CLASSIFIER])
    def test_every_parameter_in_the_shipped_files_has_a_comment(self, path: str) -> None:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
        parameter_lines = [line for line in lines if re.match(r'^\s{4,}\w+:', line)]
        assert parameter_lines
        uncommented = [line for line in parameter_lines if not re.search(r'\S\s+#\s*\S', line)]
        assert not uncommented

    def test_default_config_path_finds_the_file(self) -> None:
        assert os.path.isfile(default_config_path('multi_accel.yaml'))


class TestParameterFiles:

    def test_wildcards_and_namespaces(self, tmp_path: 'os.PathLike[str]') -> None:
        path = write(tmp_path, """
            /**:
              ros__parameters:
                top_k: 3
                backend: auto
            /**/front_*:
              ros__parameters:
                top_k: 1
            front_gpu:
              ros__parameters:
                backend: tensorrt
            robot/rear:
              ros__parameters:
                dla_core: 1
            """)
        specs = by_name(build_topology(path, TopologyOptions(use_dispatcher=True)))
        front, rear = specs['front_gpu'], specs['rear']
        held = {'queue_size': 2, 'image_depth': 2}  # the dispatcher's default max_in_flight
        assert dict(front.parameters) == {'top_k': 1, 'backend': 'tensorrt', **held}
        assert (rear.namespace, rear.topic_prefix) == ('robot', 'robot/rear')
        assert dict(rear.parameters) == {'top_k': 3, 'backend': 'auto', 'dla_core': 1, **held}
        # Targets resolve in the node's namespace: relative to it, not doubled.
        assert dict(rear.remappings) == {'image': 'rear/image',
                                         'classification': 'rear/classification',
                                         'label_info': 'rear/label_info'}
        assert specs['dispatcher'].parameters['targets'] == ['front_gpu', 'robot/rear']

    def test_a_namespaced_node_reads_the_camera_named_from_the_root(
            self, tmp_path: 'os.PathLike[str]') -> None:
        path = write(tmp_path, """
            robot/front_gpu:
              ros__parameters:
                dla_core: -1
            front_dla:
              ros__parameters:
                dla_core: 0
            """)
        specs = by_name(build_topology(path))
        # The camera of the launch (image, relative) is /image for the namespaced node too,
        # where the image source publishes; a relative name would resolve to /robot/image.
        assert dict(specs['front_gpu'].remappings) == {
            'image': '/image', 'classification': 'front_gpu/classification',
            'label_info': 'front_gpu/label_info'}
        assert dict(specs['front_dla'].remappings) == {
            'classification': 'front_dla/classification', 'label_info': 'front_dla/label_info'}
        absolute = by_name(build_topology(path, TopologyOptions(image_topic='/robot/camera')))
        assert dict(absolute['front_gpu'].remappings)['image'] == '/robot/camera'

    @pytest.mark.parametrize('text, message', [
        ('/**:\n  ros__parameters:\n    top_k: 3\n', 'names no classifier node'),
        ('gpu:\n  top_k: 3\n', "must hold exactly 'ros__parameters:'"),
        ('9gpu:\n  ros__parameters:\n    top_k: 3\n', 'is not a node name'),
        ('gpu:\n  ros__parameters:\n    targets: []\n', 'is not a ROS parameter value'),
        ('gpu:\n  ros__parameters:\n    mixed: [1, a]\n', 'is not a ROS parameter value'),
        ('gpu: [\n', 'not valid YAML'),
        ('', 'holds no node sections'),
    ])
    def test_malformed_files_are_refused_with_the_reason(
            self, tmp_path: 'os.PathLike[str]', text: str, message: str) -> None:
        with pytest.raises(DlaInferError, match=re.escape(message)):
            build_topology(write(tmp_path, text))

    def test_binary_file(self, tmp_path: 'os.PathLike[str]') -> None:
        path = os.path.join(str(tmp_path), 'photo.jpg')
        with open(path, 'wb') as f:
            f.write(b'\xff\xd8\xff\xe0\x00\x10JFIF')
        with pytest.raises(DlaInferError, match='is not UTF-8 text'):
            build_topology(path)

    def test_missing_file(self, tmp_path: 'os.PathLike[str]') -> None:
        with pytest.raises(DlaInferError, match='cannot be read'):
            build_topology(os.path.join(str(tmp_path), 'nope.yaml'))


class TestCommandLineValues:

    def test_overrides_are_read_as_yaml(self) -> None:
        assert requested_overrides(['top_k=3', 'backend=onnxruntime', 'allow_gpu_fallback=false',
                                    'score_threshold=0.5', 'model_path='], '--param') == {
            'top_k': 3, 'backend': 'onnxruntime', 'allow_gpu_fallback': False,
            'score_threshold': 0.5, 'model_path': ''}

    @pytest.mark.parametrize('pair', ['top_k', '=3', 'x={a: 1}'])
    def test_bad_overrides(self, pair: str) -> None:
        with pytest.raises(DlaInferError):
            requested_overrides([pair], '--param')

    def test_parse_bool(self) -> None:
        assert parse_bool('True', 'use_dispatcher') is True
        assert parse_bool('false', 'use_dispatcher') is False
        with pytest.raises(DlaInferError, match="use_dispatcher='maybe'"):
            parse_bool('maybe', 'use_dispatcher')

    def test_numbers_of_launch_arguments_are_named_when_wrong(self) -> None:
        assert parse_int(' 1 ', 'dla_core') == 1 and parse_int('-1', 'dla_core') == -1
        assert parse_float('12.5', 'rate') == 12.5 and parse_float('30', 'rate') == 30.0
        with pytest.raises(DlaInferError, match=r"dla_core='abc' given; use a whole number, "
                                                r'e.g. dla_core:=0'):
            parse_int('abc', 'dla_core')
        for text in ('abc', 'nan', 'inf', ''):
            with pytest.raises(DlaInferError, match=f"rate='{text}' given; use a number"):
                parse_float(text, 'rate')

    def test_parameter_files_written_for_a_launch_are_gone_when_it_ends(self) -> None:
        import subprocess
        import sys
        code = ('from dla_infer_ros.topology import write_parameter_file as w; import os; '
                "p = [w({'top_k': 3}, 'a'), w({'x': 'y'}, 'b')]; "
                'assert all(os.path.isfile(f) for f in p); print(*p)')
        done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        paths = done.stdout.split()
        assert len(paths) == 2 and not any(os.path.exists(p) for p in paths)
