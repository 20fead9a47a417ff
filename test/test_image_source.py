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

"""The image source: frames from files, folders and videos, and the node publishing them."""

import os
from typing import Any, Iterator, List

import numpy as np
import pytest

from dla_infer_ros._optional import is_available
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.frame_source import FrameSource
from dla_infer_ros.image_conversion import image_to_array
from ros_harness import configure_ros_environment, ros_available, spin_until

pytestmark = pytest.mark.skipif(not is_available('cv2'),
                                reason='OpenCV is not installed (tools/bootstrap.sh installs it)')

#: BGR colours of the test frames, as OpenCV writes them.
BGR = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]


def solid(bgr: Any, height: int = 24, width: int = 32) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[...] = bgr
    return image


@pytest.fixture
def folder(tmp_path: 'os.PathLike[str]') -> str:
    """:return: a folder of three PNGs (red, green, blue) and a file that is no image."""
    import cv2
    path = os.path.join(str(tmp_path), 'frames')
    os.makedirs(path)
    for index, bgr in enumerate(BGR):
        cv2.imwrite(os.path.join(path, f'{index}.png'), solid(bgr))
    with open(os.path.join(path, 'notes.txt'), 'w', encoding='utf-8') as f:
        f.write('not an image')
    return path


@pytest.fixture
def video(tmp_path: 'os.PathLike[str]') -> str:
    """:return: an MJPEG video of six frames: red, green, blue, red, green, blue."""
    import cv2
    path = os.path.join(str(tmp_path), 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (32, 24))
    if not writer.isOpened():
        pytest.skip('this OpenCV build cannot write MJPEG video')
    for index in range(6):
        writer.write(solid(BGR[index % 3]))
    writer.release()
    return path


def dominant_channel(frame: np.ndarray) -> int:
    return int(np.argmax(frame.reshape(-1, frame.shape[-1]).mean(axis=0)))


class TestFrameSource:

    def test_folder_in_name_order_looping(self, folder: str) -> None:
        source = FrameSource(folder, 'bgr8')
        assert source.kind == 'folder'
        frames = [source.read() for _ in range(4)]
        assert [dominant_channel(f) for f in frames if f is not None] == [2, 1, 0, 2]
        assert source.frame_index == 0

    def test_no_loop_ends(self, folder: str) -> None:
        source = FrameSource(folder, 'rgb8', loop=False)
        frames = [source.read() for _ in range(4)]
        assert frames[3] is None
        # rgb8 swaps the channels: the first file (BGR red) has red in channel 0.
        assert [dominant_channel(f) for f in frames[:3] if f is not None] == [0, 1, 2]

    def test_single_image_and_encodings(self, folder: str) -> None:
        path = os.path.join(folder, '1.png')  # green
        assert FrameSource(path).kind == 'image'
        mono = FrameSource(path, 'mono8').read()
        mono16 = FrameSource(path, 'mono16').read()
        rgba = FrameSource(path, 'rgba8').read()
        assert mono is not None and mono16 is not None and rgba is not None
        assert mono.shape == (24, 32) and mono.dtype == np.uint8
        assert mono16.dtype == np.uint16 and int(mono16[0, 0]) == int(mono[0, 0]) * 257
        assert rgba.shape == (24, 32, 4) and tuple(rgba[0, 0]) == (0, 255, 0, 255)

    def test_video_frames_loop(self, video: str) -> None:
        source = FrameSource(video, 'rgb8')
        assert source.kind == 'video'
        channels = []
        for _ in range(8):
            frame = source.read()
            assert frame is not None and frame.shape == (24, 32, 3)
            channels.append(dominant_channel(frame))
        assert channels == [0, 1, 2, 0, 1, 2, 0, 1]
        assert source.frame_index == 1
        source.close()
        source.close()

    def test_video_without_loop_ends(self, video: str) -> None:
        source = FrameSource(video, 'bgr8', loop=False)
        frames = [source.read() for _ in range(7)]
        assert all(f is not None for f in frames[:6]) and frames[6] is None

    @pytest.mark.parametrize('name, message', [
        ('', 'no image source given'),
        ('missing.png', 'does not exist'),
        ('empty', 'holds no images'),
        ('notes.txt', 'neither an image nor a video'),
    ])
    def test_missing_or_empty_source_is_refused(self, tmp_path: 'os.PathLike[str]',
                                                name: str, message: str) -> None:
        os.makedirs(os.path.join(str(tmp_path), 'empty'))
        with open(os.path.join(str(tmp_path), 'notes.txt'), 'w', encoding='utf-8') as f:
            f.write('not an image')
        path = os.path.join(str(tmp_path), name) if name else ''
        with pytest.raises(DlaInferError, match=message):
            FrameSource(path)

    def test_unknown_encoding(self, folder: str) -> None:
        with pytest.raises(DlaInferError, match="encoding='yuv422' requested"):
            FrameSource(folder, 'yuv422')


@pytest.mark.ros
@pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                    'importable; run the tests through tools/run_tests.sh')
class TestImageSourceNode:

    @pytest.fixture
    def context(self) -> Iterator[Any]:
        import rclpy
        configure_ros_environment()
        context = rclpy.Context()
        rclpy.init(context=context)
        yield context
        context.try_shutdown()

    def test_publishes_frames_with_headers(self, context: Any, folder: str) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter
        from sensor_msgs.msg import Image
        from dla_infer_ros.nodes.image_source_node import ImageSourceNode
        import rclpy
        node = ImageSourceNode(context=context, cli_args=['--ros-args', '-r', 'image:=cam'],
                               parameter_overrides=[
                                   Parameter('source', value=folder),
                                   Parameter('rate', value=50.0),
                                   Parameter('encoding', value='rgb8'),
                                   Parameter('frame_id', value='test_camera')])
        peer = rclpy.create_node('peer', context=context)
        received: List[Any] = []
        peer.create_subscription(Image, 'cam', received.append, 10)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(peer)
        try:
            assert spin_until(executor, lambda: len(received) >= 6, 20.0)
        finally:
            executor.shutdown()
            node.destroy_node()
            peer.destroy_node()
        stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in received]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps) and stamps[0] > 0
        assert {m.header.frame_id for m in received} == {'test_camera'}
        assert {(m.encoding, m.width, m.height) for m in received} == {('rgb8', 32, 24)}
        first = received[0]
        channel = dominant_channel(image_to_array(first)[0])
        cycle = [0, 1, 2]
        start = cycle.index(channel)
        assert [dominant_channel(image_to_array(m)[0]) for m in received[:6]] == [
            cycle[(start + i) % 3] for i in range(6)]
        assert node.frames_published >= len(received)

    def test_missing_source_refuses_to_start(self, context: Any) -> None:
        from rclpy.parameter import Parameter
        from dla_infer_ros.nodes.image_source_node import ImageSourceNode
        with pytest.raises(DlaInferError, match='does not exist'):
            ImageSourceNode(context=context,
                            parameter_overrides=[Parameter('source', value='/no/such/file.png')])
