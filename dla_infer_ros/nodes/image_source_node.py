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
The image source node: an image file, a folder of images or a video on ``image``.

A camera stand-in for demos and benchmarks. Frames come from
:class:`dla_infer_ros.frame_source.FrameSource` at a fixed rate, each with
``header.stamp`` = now and the ``frame_id`` parameter. Still images become
messages once, at start; each tick only stamps and publishes one.
"""

from typing import Any, Dict, List, Optional, Tuple

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.frame_source import ENCODINGS, FrameSource
from dla_infer_ros.image_conversion import array_to_image_fields
from dla_infer_ros.nodes.parameters import (declare_parameter, make_descriptor,
                                            reject_unknown_overrides)
from dla_infer_ros.nodes.spin import spin_node

RELIABILITIES = ('reliable', 'best_effort')

# name: (default, description, range)
PARAMETERS: Dict[str, Tuple[Any, str, Optional[Tuple[float, float]]]] = {
    'source': ('', 'image file, folder of images, or video file (anything OpenCV reads)',
               None),
    'rate': (30.0, 'frames per second', (0.1, 1000.0)),
    'encoding': ('bgr8', ' | '.join(ENCODINGS), None),
    'frame_id': ('camera', 'header.frame_id of every image', None),
    'loop': (True, 'start again after the last frame; false: stop publishing', None),
    'reliability': ('reliable', 'reliable | best_effort QoS of the image publisher', None),
    'depth': (5, 'publisher queue depth', (1, 100)),
}


def _descriptor(name: str) -> ParameterDescriptor:
    default, description, bounds = PARAMETERS[name]
    return make_descriptor(default, description, True, bounds)


class ImageSourceNode(Node):
    """Publishes the frames of a file, folder or video on ``image`` at a fixed rate."""

    def __init__(self, node_name: str = 'image_source', **kwargs: Any) -> None:
        """
        Declare parameters, open the source and start the timer.

        :param node_name: the node name.
        :param kwargs: passed to :class:`rclpy.node.Node` (namespace, parameter_overrides, ...).
        :raises DlaInferError: for a missing or empty source, or a bad encoding or reliability.
        """
        super().__init__(node_name, **kwargs)
        for name, (default, _, _) in PARAMETERS.items():
            declare_parameter(self, name, default, _descriptor(name))
        reject_unknown_overrides(self)
        reliability = self._param('reliability')
        if reliability not in RELIABILITIES:
            raise DlaInferError(f'reliability={reliability!r}; expected one of '
                                + ', '.join(RELIABILITIES))
        self._frame_id = str(self._param('frame_id'))
        self._source = FrameSource(self._param('source'), self._param('encoding'),
                                   self._param('loop'))
        self._encoding = self._source.encoding
        self._stills: List[Image] = [self._message(f) for f in self._source.still_frames]
        #: Frames published so far.
        self.frames_published = 0
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self._param('depth'),
                         durability=DurabilityPolicy.VOLATILE,
                         reliability=ReliabilityPolicy.BEST_EFFORT
                         if reliability == 'best_effort' else ReliabilityPolicy.RELIABLE)
        self._publisher = self.create_publisher(Image, 'image', qos)
        self._timer = self.create_timer(1.0 / self._param('rate'), self._tick)
        self.get_logger().info(
            f'publishing {self._source.kind} {self._source.path!r} as {self._encoding} on '
            f'{self._publisher.topic_name} at {self._param("rate")} Hz ({reliability})')

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _message(self, frame: Any) -> Image:
        msg = Image()
        for key, value in array_to_image_fields(frame, self._encoding).items():
            setattr(msg, key, value)
        msg.header.frame_id = self._frame_id
        return msg

    def _tick(self) -> None:
        frame = self._source.read()
        if frame is None:
            self.get_logger().info(f'published all {self.frames_published} frames of '
                                   f'{self._source.path!r}; loop is false, stopping')
            self._timer.cancel()
            return
        msg = self._stills[self._source.frame_index] if self._stills else self._message(frame)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._publisher.publish(msg)
        self.frames_published += 1

    def failure(self) -> str:
        """:return: '' (the source has no serving thread that could stop)."""
        return ''

    def stats_snapshot(self) -> Dict[str, object]:
        """:return: ``{'published': frames published so far}``."""
        return {'published': self.frames_published}

    def finished(self) -> bool:
        """:return: False: this node ends with its process only."""
        return False

    def stop_report(self) -> str:
        """:return: one line of what the node did, for its log when it stops."""
        return f'{self.frames_published} frames published'

    def destroy_node(self) -> None:
        """Release the video, then destroy the node."""
        # Also reached when the constructor failed before the source was open: rclpy's
        # context destroys every node it created at shutdown.
        source: Optional[FrameSource] = getattr(self, '_source', None)
        if source is not None:
            source.close()
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> None:
    """Run the image source until shutdown."""
    spin_node(ImageSourceNode, 'image_source', args,
              {name: (spec[0], _descriptor(name)) for name, spec in PARAMETERS.items()})


if __name__ == '__main__':
    main()
