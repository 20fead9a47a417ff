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


"""The TensorRT backend's own options (:mod:`dla_infer_ros.schema`); imports no TensorRT."""

from dla_infer_ros.schema import Setting

#: What the node declares and the command lines offer for this backend.
OPTIONS = (
    Setting('engine_cache_dir', '', 'TensorRT engine cache folder; empty: '
            '~/.cache/dla_infer_ros', flag='--cache-dir'),
    Setting('workspace_mb', 1024, 'TensorRT builder workspace in MiB', bounds=(16, 65536)),
    Setting('dla_sram_mb', 0, 'DLA managed SRAM pool in MiB for DLA builds, a power of two; '
            '0: the TensorRT default (1 MiB)', bounds=(0, 64)),
    Setting('force_rebuild', False, 'ignore cached engines and build again'),
    Setting('calibration_dir', '', 'folder of images for INT8 calibration'),
    Setting('cuda_binding', 'cuda-python', 'cuda-python | pycuda (TensorRT backend)',
            choices=('cuda-python', 'pycuda')),
    Setting('spin_wait', False, 'TensorRT backend: busy-wait for each inference (trtexec '
            '--useSpinWait: a little less latency, one CPU core busy while the GPU/DLA '
            'works) instead of sleeping until it completes'),
)
