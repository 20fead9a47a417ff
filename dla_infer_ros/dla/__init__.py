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
Offline DLA compatibility checks for ONNX models (Xavier DLA v1, Orin DLA v2).

``analyze_model(path, platform, batch)`` predicts, without TensorRT, which layers
TensorRT would place on the DLA and which fall back to the GPU, with every reason
and the known rewrites; :mod:`dla_infer_ros.dla.zoo` builds the seed networks.
Importing this package needs neither onnx nor TensorRT; analysing a model needs onnx.
"""

from dla_infer_ros.dla.analyzer import analyze_model, analyze_onnx, DlaReport, LayerVerdict
from dla_infer_ros.dla.rules import get_platform, ORIN, Platform, PLATFORMS, XAVIER

__all__ = ['analyze_model', 'analyze_onnx', 'DlaReport', 'get_platform', 'LayerVerdict',
           'ORIN', 'Platform', 'PLATFORMS', 'XAVIER']
