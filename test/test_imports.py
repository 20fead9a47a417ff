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


"""Every module imports on a machine without TensorRT, CUDA bindings or ONNX Runtime."""

import os
import subprocess
import sys
import textwrap
from typing import List

import pytest

from ros_harness import ros_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BLOCKER = textwrap.dedent("""
    import importlib.abc, pkgutil, sys
    BLOCKED = ('tensorrt', 'tensorrt_bindings', 'cuda', 'pycuda', 'onnxruntime')
    ROS = ('rclpy', 'rcl_interfaces', 'std_msgs', 'sensor_msgs', 'diagnostic_msgs',
           'vision_msgs', 'launch', 'launch_ros')
    # The ROS room: modules allowed to need ROS. Everything else must import without it.
    ROS_ROOM = ('dla_infer_ros.nodes.', 'dla_infer_ros.cli.multi_accel')
    if sys.argv[1] == 'without-ros':
        BLOCKED += ROS

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in BLOCKED:
                raise ImportError(f'{name} blocked for this test')
            return None

    sys.meta_path.insert(0, Blocker())
    import dla_infer_ros
    names = ['dla_infer_ros'] + [m.name for m in pkgutil.walk_packages(
        dla_infer_ros.__path__, 'dla_infer_ros.')]
    for name in names:
        if sys.argv[1] == 'without-ros' and name.startswith(ROS_ROOM):
            continue
        __import__(name)
    leaked = sorted(n for n in sys.modules if n.split('.')[0] in BLOCKED)
    assert not leaked, leaked
    from dla_infer_ros.backends import available_backends, create_backend
    from dla_infer_ros.errors import DlaInferError
    assert 'onnxruntime' not in available_backends(), available_backends()
    try:
        create_backend('onnxruntime', 'x.onnx').activate()
    except DlaInferError as e:
        assert "needs the Python module 'onnxruntime'" in str(e), e
        assert 'pip install onnxruntime' in str(e), e
    else:
        raise AssertionError('activate() without onnxruntime did not fail')
    print('\\n'.join(names))
""")


def _import_all(mode: str) -> List[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, '-c', BLOCKER, mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_pure_modules_import_without_ros_or_native_runtimes() -> None:
    imported = _import_all('without-ros')
    assert 'dla_infer_ros.backends.onnxruntime_backend' in imported
    assert 'dla_infer_ros.backends.tensorrt.backend' in imported
    assert 'dla_infer_ros.cli.classify_image' in imported


@pytest.mark.ros
@pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                    'importable; run the tests through tools/run_tests.sh')
def test_every_module_imports_without_native_runtimes() -> None:
    imported = _import_all('with-ros')
    assert 'dla_infer_ros.nodes.classifier_node' in imported
    assert 'dla_infer_ros.cli.multi_accel' in imported
