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


"""Reading serialized Image / CompressedImage in place, against rclpy's own serialization."""

import random
import struct
from typing import Any, List

import pytest

from dla_infer_ros.cdr import read_compressed_image, read_image
from dla_infer_ros.errors import DlaInferError
from ros_harness import ros_available


def _cdr_string(text: bytes, body: bytearray) -> None:
    body += b'\0' * (-len(body) % 4)
    body += struct.pack('<I', len(text) + 1) + text + b'\0'


def serialized_image(frame_id: bytes = b'cam', encoding: bytes = b'bgr8',
                     data: bytes = bytes(range(12))) -> bytes:
    """:return: a little-endian CDR Image, written field by field as the spec lays it out."""
    body = bytearray(struct.pack('<iI', 7, 9))
    _cdr_string(frame_id, body)
    body += b'\0' * (-len(body) % 4)
    body += struct.pack('<II', 2, 2)
    _cdr_string(encoding, body)
    body += b'\1'  # is_bigendian
    body += b'\0' * (-len(body) % 4)
    body += struct.pack('<II', 6, len(data)) + data
    return b'\x00\x01\x00\x00' + bytes(body)


def test_fields_and_a_view_on_the_pixels() -> None:
    raw = serialized_image()
    fields = read_image(raw)
    assert fields is not None
    assert fields[:8] == (7, 9, 'cam', 2, 2, 'bgr8', 1, 6)
    assert bytes(fields.data) == bytes(range(12))
    assert fields.data.obj is raw  # not copied


def test_big_endian_cdr_and_other_encapsulations() -> None:
    big = bytearray(b'\x00\x00\x00\x00' + struct.pack('>iI', -1, 5) + struct.pack('>I', 1)
                    + b'\0' + b'\0' * 3 + struct.pack('>I', 5) + b'jpeg\0' + b'\0' * 3
                    + struct.pack('>I', 3) + b'abc')
    fields = read_compressed_image(bytes(big))
    assert fields is not None
    assert fields == (-1, 5, '', 'jpeg', fields.data) and bytes(fields.data) == b'abc'
    assert read_image(b'\x00\x07\x00\x00' + bytes(40)) is None  # XCDR2: ROS reads it


@pytest.mark.parametrize('cut', [0, 3, 4, 10, 20, 40, -1])
def test_truncated_bytes_are_refused(cut: int) -> None:
    raw = serialized_image()
    with pytest.raises(DlaInferError, match='serialized image'):
        read_image(raw[:cut] if cut >= 0 else raw[:-1])


@pytest.mark.parametrize('raw, message', [
    (serialized_image(frame_id=b'\xff\xfe'), 'not UTF-8'),
    (b'\x00\x01\x00\x00' + struct.pack('<iII', 0, 0, 0), 'NUL-terminated'),
    (b'\x00\x01\x00\x00' + struct.pack('<iII', 0, 0, 0xFFFFFFF0), 'ends inside its frame_id'),
])
def test_malformed_strings_and_lengths(raw: bytes, message: str) -> None:
    with pytest.raises(DlaInferError, match=message):
        read_image(raw)


@pytest.mark.skipif(not ros_available(), reason='rclpy is not importable')
def test_the_same_fields_as_rclpy_for_random_messages() -> None:
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CompressedImage, Image
    rng = random.Random(0)

    def text() -> str:
        return ''.join(rng.choice('abz_é8/') for _ in range(rng.randint(0, 9)))

    def blob() -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
    for _ in range(500):
        image = Image(height=rng.randint(0, 2**32 - 1), width=rng.randint(0, 9),
                      encoding=text(), is_bigendian=rng.randint(0, 1),
                      step=rng.randint(0, 2**32 - 1), data=blob())
        image.header.frame_id = text()
        image.header.stamp.sec = rng.randint(-2**31, 2**31 - 1)
        image.header.stamp.nanosec = rng.randint(0, 2**32 - 1)
        fields: Any = read_image(serialize_message(image))
        expected: List[Any] = [image.header.stamp.sec, image.header.stamp.nanosec,
                               image.header.frame_id, image.height, image.width,
                               image.encoding, image.is_bigendian, image.step, bytes(image.data)]
        assert [*fields[:8], bytes(fields.data)] == expected
        compressed = CompressedImage(format=text(), data=blob())
        compressed.header = image.header
        fields = read_compressed_image(serialize_message(compressed))
        assert [*fields[:4], bytes(fields.data)] == [*expected[:3], compressed.format,
                                                     bytes(compressed.data)]


@pytest.mark.skipif(not ros_available(), reason='rclpy is not importable')
def test_the_node_falls_back_to_rclpy_for_other_encapsulations() -> None:
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image
    from dla_infer_ros.nodes.classifier_node import ClassifierNode
    from dla_infer_ros.nodes.frame_queue import Frame
    image = Image(height=1, width=2, encoding='mono8', step=2, data=b'\x01\x02')
    image.header.frame_id = 'cam'
    fields, header = ClassifierNode._read(Frame(serialize_message(image), False, 0))
    assert (fields.encoding, bytes(fields.data), header.frame_id) == ('mono8', b'\x01\x02', 'cam')
    with pytest.raises(DlaInferError, match='cannot deserialize the frame'):
        ClassifierNode._read(Frame(b'\x00\x07\x00\x00' + bytes(3), False, 0))
