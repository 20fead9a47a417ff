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
The classifier node's parameters, without ROS.

Its own, with the shared ones and each backend's options (:mod:`dla_infer_ros.schema`).

The node declares them, its ``--help`` lists them, and a test holds ``config/*.yaml``
and the README's parameter table to them.
"""

from typing import Dict

from dla_infer_ros.classifier import PREPROCESS_DEVICES
from dla_infer_ros.image_conversion import MAX_PIXELS
from dla_infer_ros.schema import classifier_settings, Setting

RELIABILITIES = ('auto', 'reliable', 'best_effort')
#: image_transport's names: raw frames on the base topic, compressed ones on <base>/compressed.
IMAGE_TRANSPORTS = ('raw', 'compressed')
#: What ObjectHypothesis.class_id carries.
CLASS_ID_KINDS = ('index', 'label')
DLA_PLATFORMS = ('auto', 'xavier', 'orin')
#: Default of max_image_pixels: 16.8 MP (4096 x 4096) holds 4K and most machine-vision
#: cameras; what such a frame costs to decode and convert is a fraction of the node's size.
MAX_IMAGE_PIXELS = 4096 * 4096

#: The node's own parameters; with the shared ones and each backend's options they make
#: :data:`PARAMETERS` (:mod:`dla_infer_ros.schema`).
NODE_SETTINGS = (
    Setting('autostart', True, 'configure and activate at start; false: stay unconfigured '
            'until a lifecycle manager or `ros2 lifecycle set` drives the node'),
    Setting('preprocess_device', 'auto', 'auto (the GPU when the TensorRT backend runs the '
            'model on the GPU or a DLA; otherwise the CPU, saying why) | cpu | gpu (refuse to '
            'start when it cannot)', choices=PREPROCESS_DEVICES),
    Setting('top_k', 5, 'results per image (changes take effect on the next frame)',
            read_only=False, bounds=(1, 1000)),
    Setting('score_threshold', 0.0, 'drop results scoring below this (changes at run time)',
            read_only=False, bounds=(0.0, 1.0)),
    Setting('image_transport', 'raw', 'raw: sensor_msgs/Image on image | compressed: '
            'sensor_msgs/CompressedImage on image/compressed (the base topic after remapping, '
            '+ /compressed, as image_transport names it)', choices=IMAGE_TRANSPORTS),
    Setting('result_class_id', 'index', 'what ObjectHypothesis.class_id carries: index (the '
            'class index as text, the key of the class_map of label_info, as vision_msgs '
            'asks) | label (the class name)', choices=CLASS_ID_KINDS),
    Setting('image_reliability', 'auto', 'auto (match the publishers on the topic) | reliable '
            '| best_effort', choices=RELIABILITIES),
    Setting('image_depth', 1, 'depth of the image subscription queue', bounds=(1, 100)),
    Setting('queue_size', 1, 'frames waiting for inference; older ones are dropped and counted',
            bounds=(1, 100)),
    Setting('max_image_pixels', MAX_IMAGE_PIXELS, 'larger frames (height x width; for '
            'compressed ones as their header says, before decoding) are rejected and counted',
            bounds=(1, MAX_PIXELS)),
    Setting('dla_platform', 'auto', 'DLA rules for the start-up placement prediction: auto '
            '(read the device tree) | xavier | orin', choices=DLA_PLATFORMS),
    Setting('diagnostics_period', 1.0, 'seconds between /diagnostics messages',
            bounds=(0.1, 60.0)),
)


def classifier_parameters() -> Dict[str, Setting]:
    """:return: name -> setting of every parameter of the classifier node, in order."""
    return classifier_settings(NODE_SETTINGS)
