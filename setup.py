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

from glob import glob
import os
import runpy

from setuptools import find_packages, setup

package_name = 'dla_infer_ros'
# The node kinds, from their one declaration (a file that imports only the standard library).
_registry = os.path.join(os.path.dirname(os.path.abspath(__file__)), package_name, 'nodes',
                         'registry.py')
node_scripts = [kind.console_script for kind in runpy.run_path(_registry)['NODE_KINDS'].values()]

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'tools', 'tools.*']),
    package_data={package_name: ['models/*.onnx', 'models/*.json', 'models/*.txt',
                                 'models/NOTICE', 'py.typed']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')),
    ],
    install_requires=['setuptools', 'numpy'],
    extras_require={'test': ['pytest']},
    zip_safe=False,
    maintainer='dla_infer_ros developers',
    maintainer_email='dev@dla-infer-ros.invalid',
    description='Image classification on NVIDIA GPUs, Jetson DLA cores and CPUs for ROS 2',
    license='Apache-2.0',
    entry_points={
        'console_scripts': node_scripts + [
            'classify_image = dla_infer_ros.cli.classify_image:main',
            'dla_bench = dla_infer_ros.cli.dla_bench:main',
            'dla_check = dla_infer_ros.cli.dla_check:main',
            'dla_zoo = dla_infer_ros.cli.dla_zoo:main',
            'multi_accel = dla_infer_ros.cli.multi_accel:main',
            'trt_engine_info = dla_infer_ros.cli.trt_engine_info:main',
        ],
    },
)
