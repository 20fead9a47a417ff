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
Fuzz a running classifier node with malformed images and check that it survives them.

The node runs as ``python -m dla_infer_ros.nodes.classifier_node`` with its default
parameters, in a process of its own (``PYTHONPATH`` = this tree). It reads one image
transport, so there are two runs, one after the other, sharing the messages: a raw node
(``image_transport`` raw) sent the ``Image`` messages, and a compressed one sent the
``CompressedImage`` messages (``--transport`` picks one). This process publishes,
reliable as the node subscribes, randomised malformed ``sensor_msgs/Image`` and
``CompressedImage`` messages from a seeded generator (bad step, short data, unknown and odd
encodings, zero and huge sizes, negative and far-future stamps, big-endian flags, corrupt
JPEG/PNG, decompression bombs, and serialized bytes broken at the CDR level: truncated,
garbage lengths, other encapsulations), pausing the flood ``--gap-ms`` before and after
each valid frame (the two photos of ``test/data``, raw bgr8 or JPEG, with a frame id of
their own), then checks:

* the node process is alive after the flood, answers a final valid frame, prints no
  traceback and exits 0 on SIGINT (no crash, no dead serving loop);
* its ``/diagnostics`` counters, once settled, satisfy received = published + dropped +
  rejected + failed, and received <= messages sent (what DDS did not deliver to the
  node's keep-last history never reached it, and is reported apart);
* peak RSS during the flood (VmHWM, reset after start-up) < 2 x the idle RSS;
* >= 95 % of the valid frames sent in the flood are answered with the right top-1.

Two kinds of bombs are sent: PNG/JPEG headers that claim 30000 pixels a side (beyond
every limit), and a JPEG of a few hundred bytes and a PNG of 270 KB that would decode to
507 MB and 268 MB, within the hard limits but above the node's ``max_image_pixels``
(``--no-in-limit-bombs`` leaves the second kind out). ``--only TEXT`` sends only the
categories whose name contains TEXT, to reproduce a failure with few messages.

Usage: ``python tools/fuzz_node.py [--messages N] [--seed S] [--rate HZ] [--short]
[--only TEXT] [--no-in-limit-bombs] [--transport raw|compressed|both] [--json FILE]
[--node-log FILE]``. Exit status 0 when every check of every run passes, 1 otherwise; the
JSON report holds ``passed`` and one report per transport under ``runs``.
"""

import argparse
import collections
import dataclasses
import json
import os
import random
import re
import struct
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union
import zlib

from bench_node import BackgroundNode, Child, child_env  # this folder's node benchmark
import cv2
import numpy as np

from dla_infer_ros.image_conversion import ENCODINGS, MAX_SIDE
from dla_infer_ros.stats import COUNTERS, OUTCOMES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = os.path.join(ROOT, 'test', 'data')
NODE_MODULE = 'dla_infer_ros.nodes.classifier_node'
#: The valid frames: photo -> (ImageNet class index, label); checked with classify_image.
EXPECTED = {'chelsea_cat.jpg': (285, 'Egyptian cat'), 'coffee_cup.jpg': (967, 'espresso')}
RSS_LIMIT = 2.0
ANSWERED_LIMIT = 0.95
#: What in a node's output means it crashed or lost a thread.
FATAL = re.compile(r'Traceback|Segmentation fault|Fatal Python error|core dumped|'
                   r'terminate called|Aborted')
BOMB_SIDE = 30000

Text = Union[str, bytes]


# -- CDR ----------------------------------------------------------------------------------


class CdrWriter:
    """Plain CDR (XCDR1) as ROS 2 middlewares write it, in either byte order."""

    def __init__(self, order: str) -> None:
        """:param order: ``'<'`` (little-endian, encapsulation 0x0001) or ``'>'`` (0x0000)."""
        self.order = order
        self.buffer = bytearray(b'\x00\x01\x00\x00' if order == '<' else b'\x00\x00\x00\x00')
        #: offsets of the uint32 lengths of strings and sequences
        self.lengths: List[int] = []

    def _align(self, size: int) -> None:
        self.buffer += bytes(-(len(self.buffer) - 4) % size)

    def int32(self, value: int) -> None:
        """Write a signed 32-bit field."""
        self._align(4)
        self.buffer += struct.pack(self.order + 'i', value)

    def uint32(self, value: int) -> None:
        """Write an unsigned 32-bit field (taken modulo 2**32)."""
        self._align(4)
        self.buffer += struct.pack(self.order + 'I', value & 0xFFFFFFFF)

    def uint8(self, value: int) -> None:
        """Write one byte."""
        self.buffer.append(value & 0xFF)

    def string(self, text: Text) -> None:
        """Write a string: length including the NUL, bytes, NUL."""
        raw = text if isinstance(text, bytes) else text.encode('utf-8')
        self.uint32(len(raw) + 1)
        self.lengths.append(len(self.buffer) - 4)
        self.buffer += raw + b'\x00'

    def octets(self, data: bytes) -> None:
        """Write a ``uint8[]``: count, bytes."""
        self.uint32(len(data))
        self.lengths.append(len(self.buffer) - 4)
        self.buffer += data


@dataclasses.dataclass
class ImageSpec:
    """The fields of a ``sensor_msgs/Image``, any values (no range checks)."""

    height: int
    width: int
    encoding: Text
    step: int
    data: bytes
    is_bigendian: int = 0
    frame_id: Text = ''
    sec: int = 0
    nanosec: int = 0


@dataclasses.dataclass
class CompressedSpec:
    """The fields of a ``sensor_msgs/CompressedImage``."""

    format: Text  # noqa: A003 (the message field's name)
    data: bytes
    frame_id: Text = ''
    sec: int = 0
    nanosec: int = 0


def _header(writer: CdrWriter, spec: Union[ImageSpec, CompressedSpec]) -> None:
    writer.int32(spec.sec)
    writer.uint32(spec.nanosec)
    writer.string(spec.frame_id)


def serialize(spec: Union[ImageSpec, CompressedSpec], order: str = '<') -> CdrWriter:
    """:return: the writer holding ``spec`` serialized (``buffer``, ``lengths``)."""
    writer = CdrWriter(order)
    _header(writer, spec)
    if isinstance(spec, CompressedSpec):
        writer.string(spec.format)
        writer.octets(spec.data)
        return writer
    writer.uint32(spec.height)
    writer.uint32(spec.width)
    writer.string(spec.encoding)
    writer.uint8(spec.is_bigendian)
    writer.uint32(spec.step)
    writer.octets(spec.data)
    return writer


def check_writer() -> None:
    """
    Check :func:`serialize` against rclpy's deserializer and the node's own CDR reader.

    :raises AssertionError: when they read other values than were written.
    """
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage, Image

    from dla_infer_ros.cdr import read_image
    spec = ImageSpec(3, 2, 'mono16', 5, bytes(range(15)), 1, 'cam', -7, 12345)
    msg = deserialize_message(bytes(serialize(spec).buffer), Image)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id, msg.height,
            msg.width, msg.encoding, msg.is_bigendian, msg.step, bytes(msg.data)) == (
        -7, 12345, 'cam', 3, 2, 'mono16', 1, 5, bytes(range(15))), msg
    big = read_image(bytes(serialize(spec, '>').buffer))
    assert big is not None and tuple(big[:8]) == (-7, 12345, 'cam', 3, 2, 'mono16', 1, 5)
    assert bytes(big.data) == bytes(range(15))
    compressed = deserialize_message(
        bytes(serialize(CompressedSpec('png', b'abc', 'x', 1, 2)).buffer), CompressedImage)
    assert (compressed.format, bytes(compressed.data)) == ('png', b'abc'), compressed


# -- compressed images: photos, corrupt copies, bombs -------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """:return: one PNG chunk: length, type, body, CRC."""
    return struct.pack('>I', len(body)) + kind + body + struct.pack(
        '>I', zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """:return: a PNG signature and IHDR chunk claiming ``width`` x ``height``."""
    return b'\x89PNG\r\n\x1a\n' + png_chunk(
        b'IHDR', struct.pack('>IIBBBBB', width, height, depth, colour, 0, 0, 0))


def zeros_zlib(size: int, block: int = 1 << 22) -> bytes:
    """
    :return: a zlib stream of ``size`` zero bytes, built in a fraction of a second.

    One raw-deflate block of ``block`` zeros ends with a full flush, so it starts and ends
    on a byte boundary with no reference before it: the stream repeats it.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail_size = size % block
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(bytes(tail_size)) + tail.flush(zlib.Z_FINISH)
    adler = ((size % 65521) << 16) | 1  # Adler-32 of zeros: a = 1, b = size
    return b'\x78\xda' + chunk * (size // block) + last + struct.pack('>I', adler)


def zeros_png(side: int) -> bytes:
    """:return: a real 8-bit gray PNG of ``side`` x ``side`` zeros (a decompression bomb)."""
    idat = zeros_zlib(side * (side + 1))  # each row: filter byte 0, then the pixels
    return png_header(side, side) + png_chunk(b'IDAT', idat) + png_chunk(b'IEND', b'')


def patched_jpeg(jpeg: bytes, height: int, width: int) -> bytes:
    """:return: ``jpeg`` with its frame header (SOF0) claiming ``width`` x ``height``."""
    at = jpeg.index(b'\xff\xc0')
    return jpeg[:at + 5] + struct.pack('>HH', height, width) + jpeg[at + 9:]


@dataclasses.dataclass
class Assets:
    """The bytes the generator mangles, made once."""

    photos: Dict[str, bytes]          # photo name -> JPEG file
    pixels: Dict[str, np.ndarray]     # photo name -> decoded bgr8
    small_jpeg: bytes
    small_png: bytes
    tiny_jpeg: bytes                  # 16 x 16, for SOF patching
    bomb_png: bytes                   # BOMB_SIDE x BOMB_SIDE zeros, a few hundred KB
    in_limit_bombs: Dict[str, bytes]  # codec -> decodes within the node's limits


def make_assets(in_limit_bombs: bool) -> Assets:
    """:return: the photos, small JPEG/PNG copies and the bombs."""
    photos, pixels = {}, {}
    for name in EXPECTED:
        with open(os.path.join(PHOTOS, name), 'rb') as f:
            photos[name] = f.read()
        decoded = cv2.imdecode(np.frombuffer(photos[name], np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError(f'{name}: OpenCV cannot decode the test photo')
        pixels[name] = decoded
    small = cv2.resize(pixels['chelsea_cat.jpg'], (64, 43), interpolation=cv2.INTER_AREA)
    tiny = cv2.imencode('.jpg', small[:16, :16], [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes()
    bombs = {}
    if in_limit_bombs:  # 268 MB of gray (805 MB as RGB), 507 MB of colour: under MAX_BYTES
        bombs = {'PNG': zeros_png(MAX_SIDE), 'JPEG': patched_jpeg(tiny, 13000, 13000)}
    return Assets(photos, pixels, cv2.imencode('.jpg', small)[1].tobytes(),
                  cv2.imencode('.png', small)[1].tobytes(), tiny, zeros_png(BOMB_SIDE), bombs)


# -- the generator ------------------------------------------------------------------------


class Case(NamedTuple):
    """One message to publish."""

    category: str
    topic: str          # 'image' or 'compressed'
    payload: bytes      # serialized, as rclpy publishes bytes


UNKNOWN_ENCODINGS: Tuple[Text, ...] = (
    '', 'rgb16', 'bgr16', 'rgba16', '32FC1', '16SC1', '64FC3', 'jpeg', 'png', 'RGB8', 'Rgb8',
    'rgb8 ', ' rgb8', 'rgb8\x00', 'yuv420', 'nv12', 'nv21', 'bayer_rggb16', 'mono32', '8UC2',
    'x' * 300, 'ünïcødé', b'\xff\xfe\xfd', b'rgb8\xc3')
ODD_FORMATS: Tuple[Text, ...] = (
    '', 'gif', 'bmp', 'tiff', 'webp', 'jpeg2000', 'png; compressedDepth',
    '16UC1; compressedDepth png', 'rgb8; jpeg compressed rgb8', 'bgr8; png compressed bgr8',
    'rgb8; jpeg compressed', 'jpeg compressed', 'compressed', ';;;', ';', ' ', 'JPEG', 'PNG',
    'x' * 1000, 'ünï', b'\xff\xfe', 'mono16; png compressed mono16')
BAD_FRAME_IDS: Tuple[Text, ...] = ('', 'x' * 10000, 'ünïcødé', 'a\x00b', b'\xff\xfe',
                                   '/' * 100, ' ')
STAMPS = ((-1, 0), (-(2 ** 31), 0), (-5, 999_999_999), (2 ** 31 - 1, 999_999_999),
          (2 ** 31 - 1, 0), (2_000_000_000, 2 ** 32 - 1), (0, 1_000_000_000), (0, 0))
HUGE_SIDES = (100_000, 65_536, MAX_SIDE + 1, 2 ** 31, 2 ** 32 - 1, 1_000_000_000)
ENCAPSULATIONS = (b'\x00\x02', b'\x00\x03', b'\x00\x06', b'\x00\x07', b'\x00\x0a',
                  b'\x00\x0b', b'\x01\x00', b'\x00\x00', b'\xff\xff', b'\x80\x01')


class Generator:
    """Randomised malformed messages from a seeded RNG, by category."""

    def __init__(self, rng: random.Random, assets: Assets, only: Sequence[str] = ()) -> None:
        """
        Make the table of categories.

        :param rng: the only source of randomness, so that a seed replays a run.
        :param only: keep the categories whose name contains one of these (all if empty).
        :raises ValueError: when ``only`` keeps none.
        """
        self.rng = rng
        self.assets = assets
        self.encodings = sorted(ENCODINGS)
        self.categories: Dict[str, Tuple[float, Callable[[], Case]]] = {
            'image: bad step': (6, self.bad_step),
            'image: short data': (6, self.short_data),
            'image: unknown encoding': (6, self.unknown_encoding),
            'image: odd encoding': (6, self.odd_encoding),
            'image: zero dimensions': (5, self.zero_dimensions),
            'image: huge dimensions': (6, self.huge_dimensions),
            'image: odd stamp / frame_id': (5, self.odd_header_image),
            'image: big-endian flag': (5, self.big_endian_flag),
            'compressed: corrupt JPEG': (8, self.corrupt_jpeg),
            'compressed: corrupt PNG': (5, self.corrupt_png),
            'compressed: bomb PNG (real zlib)': (2, self.bomb_png),
            'compressed: bomb PNG (header only)': (4, self.bomb_png_header),
            'compressed: bomb JPEG': (4, self.bomb_jpeg),
            'compressed: odd format': (5, self.odd_format),
            'compressed: garbage data': (5, self.garbage_data),
            'compressed: odd stamp / frame_id': (3, self.odd_header_compressed),
            'cdr: truncated': (5, self.truncated),
            'cdr: garbage length': (5, self.garbage_length),
            'cdr: other encapsulation': (5, self.other_encapsulation),
            'cdr: big-endian': (4, self.big_endian_cdr),
            'cdr: random bytes': (3, self.random_bytes),
        }
        for codec in assets.in_limit_bombs:
            self.categories[f'compressed: {codec} bomb within the limits'] = (
                0.5, self.in_limit_bomb)
        if only:
            self.categories = {name: entry for name, entry in self.categories.items()
                               if any(part in name for part in only)}
        if not self.categories:
            raise ValueError(f'no category contains any of {", ".join(only)}')
        self._names = list(self.categories)
        self._weights = [self.categories[name][0] for name in self._names]
        self.category = ''

    def next_case(self) -> Case:
        """:return: the next malformed message."""
        self.category = self.rng.choices(self._names, self._weights)[0]
        return self.categories[self.category][1]()

    # helpers

    def _image(self, spec: ImageSpec, order: str = '<') -> Case:
        return Case(self.category, 'image', bytes(serialize(spec, order).buffer))

    def _compressed(self, spec: CompressedSpec, order: str = '<') -> Case:
        return Case(self.category, 'compressed', bytes(serialize(spec, order).buffer))

    def small_image(self, encoding: Optional[str] = None) -> ImageSpec:
        """:return: a valid small image of a random (or the given) encoding, random pixels."""
        rng = self.rng
        encoding = encoding or rng.choice(self.encodings)
        info = ENCODINGS[encoding]
        width = rng.randint(1, 48)
        if info.layout in ('uyvy', 'yuy2'):
            width += width % 2
        height = rng.randint(1, 48)
        step = width * info.bytes_per_pixel + rng.choice((0, 0, 0, 1, 3, 16))
        return ImageSpec(height, width, encoding, step, rng.randbytes(step * height),
                         frame_id=f'fuzz_{rng.randrange(1 << 30)}')

    def _mutate(self, data: bytes) -> bytes:
        """:return: ``data`` with bytes flipped, a cut, junk inserted or a run zeroed."""
        rng, buffer = self.rng, bytearray(data)
        kind = rng.randrange(5)
        if kind == 0:
            for _ in range(rng.randint(1, 64)):
                buffer[rng.randrange(len(buffer))] = rng.randrange(256)
        elif kind == 1:
            del buffer[rng.randrange(1, len(buffer)):]
        elif kind == 2:
            at = rng.randrange(len(buffer))
            buffer[at:at] = rng.randbytes(rng.randint(1, 512))
        elif kind == 3:
            at = rng.randrange(len(buffer))
            buffer[at:at + rng.randint(1, 4096)] = bytes(min(4096, len(buffer) - at))
        else:
            at = rng.randrange(2, min(len(buffer), 700))  # the headers: tables, frame size
            buffer[at] ^= 1 << rng.randrange(8)
        return bytes(buffer)

    def _valid_payload(self) -> Tuple[str, CdrWriter]:
        if self.rng.random() < 0.5:
            return 'image', serialize(self.small_image())
        spec = CompressedSpec('jpeg', self.assets.small_jpeg, 'fuzz_cdr')
        return 'compressed', serialize(spec)

    # Image

    def bad_step(self) -> Case:
        """:return: an Image whose step is smaller than a row."""
        spec = self.small_image()
        row = spec.width * ENCODINGS[str(spec.encoding)].bytes_per_pixel
        spec.step = self.rng.choice((0, row - 1, row // 2, self.rng.randrange(row)))
        if self.rng.random() < 0.5:
            spec.data = spec.data[:spec.step * spec.height]
        return self._image(spec)

    def short_data(self) -> Case:
        """:return: an Image with fewer bytes than step * height (some of them empty)."""
        spec = self.small_image()
        if self.rng.random() < 0.3:  # claims VGA, brings a few bytes
            info = ENCODINGS[str(spec.encoding)]
            spec.height, spec.width, spec.step = 480, 640, 640 * info.bytes_per_pixel
        spec.data = spec.data[:self.rng.randrange(max(1, spec.step * spec.height - 1))]
        return self._image(spec)

    def unknown_encoding(self) -> Case:
        """:return: an Image whose encoding the node does not know."""
        spec = self.small_image('rgb8')
        spec.encoding = self.rng.choice(UNKNOWN_ENCODINGS + (self.rng.randbytes(8).hex(),))
        return self._image(spec)

    def odd_encoding(self) -> Case:
        """:return: an Image of a rare encoding: odd YUV width, 1-pixel Bayer, odd 16-bit step."""
        rng = self.rng
        encoding = rng.choice(('yuv422', 'yuv422_yuy2', 'bayer_rggb8', 'bayer_bggr8',
                               'bayer_gbrg8', 'bayer_grbg8', 'mono16', '16UC1', '8UC4', 'rgba8',
                               'bgra8', '8UC1', '8UC3'))
        spec = self.small_image(encoding)
        info = ENCODINGS[encoding]
        if rng.random() < 0.5:
            spec.width = rng.choice((1, 2, 3, 5))
            spec.height = rng.choice((1, 2, 3))
            spec.step = spec.width * info.bytes_per_pixel + rng.choice((0, 1))
            spec.data = rng.randbytes(spec.step * spec.height)
        return self._image(spec)

    def zero_dimensions(self) -> Case:
        """:return: an Image of height or width 0 (or both)."""
        spec = self.small_image()
        spec.height, spec.width = self.rng.choice(((0, spec.width), (spec.height, 0), (0, 0)))
        spec.step = self.rng.choice((0, spec.step))
        spec.data = self.rng.choice((b'', spec.data))
        return self._image(spec)

    def huge_dimensions(self) -> Case:
        """:return: an Image claiming 100000 pixels a side (or 2**32 - 1), with short data."""
        rng = self.rng
        spec = self.small_image()
        bpp = ENCODINGS[str(spec.encoding)].bytes_per_pixel
        huge = rng.choice(HUGE_SIDES)
        spec.height, spec.width = rng.choice(((huge, spec.width), (spec.height, huge),
                                              (huge, huge), (MAX_SIDE, MAX_SIDE)))
        spec.step = rng.choice((spec.width * bpp, 2 ** 32 - 1, spec.width * bpp + 1,
                                rng.randrange(1 << 32)))
        spec.data = rng.randbytes(rng.randrange(4097))
        return self._image(spec)

    def odd_header_image(self) -> Case:
        """:return: a valid small Image stamped before 1970 or near 2038, odd frame ids."""
        spec = self.small_image()
        spec.sec, spec.nanosec = self.rng.choice(STAMPS)
        if self.rng.random() < 0.5:
            spec.frame_id = self.rng.choice(BAD_FRAME_IDS)
        return self._image(spec)

    def big_endian_flag(self) -> Case:
        """:return: a valid small Image with ``is_bigendian`` set (to 1, or any byte)."""
        spec = self.small_image(self.rng.choice(('mono16', '16UC1', 'mono16', 'rgb8', 'mono8')))
        spec.is_bigendian = self.rng.choice((1, 1, 2, 255))
        return self._image(spec)

    # CompressedImage

    def corrupt_jpeg(self) -> Case:
        """:return: one of the photos as JPEG with bytes flipped, cut, inserted or zeroed."""
        photo = self.assets.photos[self.rng.choice(sorted(self.assets.photos))]
        data = self._mutate(photo)
        return self._compressed(CompressedSpec(self.rng.choice(('jpeg', 'jpg', '')), data,
                                               f'fuzz_{self.rng.randrange(1 << 30)}'))

    def corrupt_png(self) -> Case:
        """:return: a small PNG with bytes flipped, cut, inserted or zeroed."""
        data = self._mutate(self.assets.small_png)
        return self._compressed(CompressedSpec('png', data, 'fuzz_png'))

    def bomb_png(self) -> Case:
        """:return: a real PNG of 30000 x 30000 zeros (900 MB decoded, under 1 MB sent)."""
        return self._compressed(CompressedSpec('png', self.assets.bomb_png, 'fuzz_bomb'))

    def bomb_png_header(self) -> Case:
        """:return: a PNG whose IHDR claims a huge (or invalid) size, its IDAT short or junk."""
        rng = self.rng
        side = rng.choice((BOMB_SIDE, 65535, 2 ** 31 - 1, MAX_SIDE + 1, 0, 100_000))
        head = png_header(rng.choice((side, 1)) if rng.random() < 0.3 else side, side,
                          rng.choice((8, 8, 16, 1, 3)), rng.choice((0, 2, 6, 3, 4, 5, 255)))
        idat = rng.choice((zlib.compress(bytes(rng.randint(1, 5000))), rng.randbytes(64), b''))
        body = head + png_chunk(b'IDAT', idat)
        if rng.random() < 0.5:
            body += png_chunk(b'IEND', b'')
        return self._compressed(CompressedSpec('png', body, 'fuzz_bomb'))

    def bomb_jpeg(self) -> Case:
        """:return: a 16 x 16 JPEG whose frame header claims a huge size (libjpeg fills it)."""
        height, width = self.rng.choice(((BOMB_SIDE, BOMB_SIDE), (65535, 65535),
                                         (MAX_SIDE + 1, 16), (16, MAX_SIDE + 1), (0, 16)))
        data = patched_jpeg(self.assets.tiny_jpeg, height, width)
        return self._compressed(CompressedSpec('jpeg', data, 'fuzz_bomb'))

    def odd_format(self) -> Case:
        """:return: a small JPEG or PNG under an unknown, depth or mismatched format."""
        data = self.rng.choice((self.assets.small_jpeg, self.assets.small_png))
        return self._compressed(CompressedSpec(self.rng.choice(ODD_FORMATS), data, 'fuzz_fmt'))

    def garbage_data(self) -> Case:
        """:return: a CompressedImage of no data, a bare signature or random bytes."""
        rng = self.rng
        data = rng.choice((b'', b'\xff\xd8', b'\xff\xd8\xff', b'\x89PNG\r\n\x1a\n',
                           png_header(16, 16), b'GIF89a' + rng.randbytes(32),
                           b'BM' + rng.randbytes(64), rng.randbytes(rng.randint(1, 4096)),
                           b'\xff\xd8' + rng.randbytes(rng.randint(1, 4096)),
                           b'\xff\xd8' + b'\xff' * 2000))
        return self._compressed(CompressedSpec(rng.choice(('jpeg', 'png', '')), data, 'g'))

    def odd_header_compressed(self) -> Case:
        """:return: a valid small JPEG stamped before 1970 or near 2038, odd frame ids."""
        sec, nanosec = self.rng.choice(STAMPS)
        return self._compressed(CompressedSpec('jpeg', self.assets.small_jpeg,
                                               self.rng.choice(BAD_FRAME_IDS), sec, nanosec))

    def in_limit_bomb(self) -> Case:
        """:return: a JPEG or PNG of at most 270 KB that decodes to hundreds of MB."""
        data = self.assets.in_limit_bombs[self.category.split()[1]]
        return self._compressed(CompressedSpec('', data, 'fuzz_in_limit_bomb'))

    # CDR level

    def _on_either_topic(self, payload: bytes) -> Case:
        return Case(self.category, self.rng.choice(('image', 'compressed')), payload)

    def truncated(self) -> Case:
        """:return: a valid message cut anywhere (on either topic, so also the wrong type)."""
        payload = bytes(self._valid_payload()[1].buffer)
        return self._on_either_topic(payload[:self.rng.randrange(len(payload))])

    def garbage_length(self) -> Case:
        """:return: a valid message with one string or sequence length overwritten."""
        rng, (topic, writer) = self.rng, self._valid_payload()
        at = rng.choice(writer.lengths)
        value = rng.choice((0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0, 1, rng.randrange(1 << 32),
                            len(writer.buffer), len(writer.buffer) - at - 3))
        writer.buffer[at:at + 4] = struct.pack('<I', value)
        return Case(self.category, topic, bytes(writer.buffer))

    def other_encapsulation(self) -> Case:
        """:return: a valid message whose encapsulation says parameter lists, XCDR2 or junk."""
        payload = bytearray(self._valid_payload()[1].buffer)
        payload[:2] = self.rng.choice(ENCAPSULATIONS + (self.rng.randbytes(2),))
        if self.rng.random() < 0.3:
            payload[2:4] = self.rng.randbytes(2)
        return self._on_either_topic(bytes(payload))

    def big_endian_cdr(self) -> Case:
        """:return: a message serialized big-endian (valid, or with a byte flipped)."""
        if self.rng.random() < 0.5:
            case = self._image(self.small_image(), '>')
        else:
            case = self._compressed(CompressedSpec('jpeg', self.assets.small_jpeg, 'be'), '>')
        if self.rng.random() < 0.3:
            payload = bytearray(case.payload)
            payload[self.rng.randrange(4, min(len(payload), 60))] ^= 0xFF
            case = case._replace(payload=bytes(payload))
        return case

    def random_bytes(self) -> Case:
        """:return: nothing at all, fewer bytes than a CDR header, or random bytes."""
        size = self.rng.choice((0, 1, 2, 3, 4, 5, 8, self.rng.randint(1, 256)))
        return self._on_either_topic(self.rng.randbytes(size))


def valid_case(assets: Assets, photo: str, compressed: bool, frame_id: str) -> Case:
    """:return: a valid frame of ``photo``, raw bgr8 or its JPEG, stamped now."""
    now = time.time()  # a header stamp (ROS time), not a latency measurement
    sec, nanosec = int(now), int((now % 1) * 1e9)
    if compressed:
        spec: Union[ImageSpec, CompressedSpec] = CompressedSpec(
            'jpeg', assets.photos[photo], frame_id, sec, nanosec)
    else:
        pixels = assets.pixels[photo]
        height, width = pixels.shape[:2]
        spec = ImageSpec(height, width, 'bgr8', width * 3, pixels.tobytes(), 0, frame_id,
                         sec, nanosec)
    return Case('valid', 'compressed' if compressed else 'image',
                bytes(serialize(spec).buffer))


# -- the ROS side of the fuzzer -----------------------------------------------------------


class Peer(BackgroundNode):
    """Publishes the frames; receives the node's classifications and diagnostics."""

    def __init__(self, namespace: str, topic: str) -> None:
        """
        Create the node, its publishers and subscriptions; spin them in a thread.

        :param topic: the Case.topic the node subscribes to (``image`` or ``compressed``).
        """
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image
        from vision_msgs.msg import Classification
        super().__init__('fuzzer', namespace)
        self.status_name = f'{namespace}/classifier: classifier'
        image_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.publishers = {
            'image': self.node.create_publisher(Image, 'image', image_qos),
            'compressed': self.node.create_publisher(CompressedImage, 'image/compressed',
                                                     image_qos)}
        self.topic = topic
        self.lock = threading.Lock()
        self.answers: Dict[str, str] = {}  # frame id -> top-1 class_id
        self.classifications = 0
        self.status: Dict[str, str] = {}
        self.statuses = 0
        self.node.create_subscription(
            Classification, 'classification', self._on_result,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.start()

    def _on_result(self, msg: Any) -> None:
        with self.lock:
            self.classifications += 1
            self.answers.setdefault(msg.header.frame_id,
                                    msg.results[0].class_id if msg.results else '')

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name == self.status_name:
                with self.lock:
                    self.status = {kv.key: kv.value for kv in status.values}
                    self.statuses += 1

    def publish(self, case: Case) -> None:
        """Publish serialized bytes as they are: the middleware does not look inside."""
        self.publishers[case.topic].publish(case.payload)

    def matched(self) -> bool:
        """:return: True when the node subscribes to the image topic of its transport."""
        return self.publishers[self.topic].get_subscription_count() > 0

    def answer(self, frame_id: str) -> Optional[str]:
        """:return: the top-1 class_id answered for ``frame_id``, None if none yet."""
        with self.lock:
            return self.answers.get(frame_id)

    def counters(self) -> Tuple[int, Dict[str, int]]:
        """:return: how many statuses arrived, and the newest one's frame counters."""
        with self.lock:
            values = {name: int(self.status[f'frames_{name}']) for name in COUNTERS
                      if f'frames_{name}' in self.status}
            return self.statuses, values


def right_answer(photo: str, class_id: Optional[str]) -> bool:
    """:return: True when ``class_id`` is the photo's label, or its class index as text."""
    index, label = EXPECTED[photo]
    return class_id in (label, str(index))


# -- memory -------------------------------------------------------------------------------


def memory_kib(pid: int) -> Dict[str, int]:
    """:return: VmRSS and VmHWM of process ``pid`` in KiB."""
    values = {}
    with open(f'/proc/{pid}/status', encoding='ascii') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                values[key] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """:return: True when the kernel reset the process's VmHWM to its current RSS."""
    try:
        with open(f'/proc/{pid}/clear_refs', 'w', encoding='ascii') as f:
            f.write('5')
        return True
    except OSError:
        return False


class RssSampler:
    """Samples the node's VmRSS every 10 ms, next to what was being sent then."""

    def __init__(self, pid: int) -> None:
        """Start sampling ``pid``."""
        self.pid = pid
        self.samples: List[Tuple[float, int]] = []  # (monotonic s, VmRSS KiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.samples.append((time.monotonic(), memory_kib(self.pid)['VmRSS']))
            except (OSError, KeyError):
                return  # the process is gone: the checks say so

    def stop(self) -> int:
        """:return: the largest sample, KiB (0 if none)."""
        self._stop.set()
        self._thread.join()
        return max((kib for _, kib in self.samples), default=0)

    def biggest_jumps(self, sent: Sequence[Tuple[float, str]], count: int = 3,
                      least_kib: int = 16 * 1024) -> List[Dict[str, Any]]:
        """
        Find the largest RSS rises over 100 ms, as hints to what caused them.

        :return: each rise in MiB, when (s after the first sample), and the categories sent
            in the second before it (the node may still be busy with an older frame).
        """
        samples = self.samples
        result: List[Dict[str, Any]] = []
        rises = sorted(((b[1] - a[1], b[0]) for a, b in zip(samples, samples[10:])),
                       reverse=True)
        for rise, when in rises:
            if len(result) == count or rise < least_kib:
                break
            if any(abs(when - r['at']) < 1.0 for r in result):
                continue  # the same rise, seen from a neighbouring sample
            recent = collections.Counter(c for t, c in sent if when - 1.0 <= t <= when)
            result.append({'rise_mib': rise / 1024, 'at': when,
                           'sent_before': dict(recent.most_common(3))})
        return result


# -- one fuzzing run ----------------------------------------------------------------------


@dataclasses.dataclass
class Options:
    """What a run sends, and how fast."""

    messages: int
    seed: int
    rate: float          # malformed messages per second; 0: as fast as they are made
    valid_every: int     # a valid frame after this many malformed ones
    gap_s: float         # the pause in the flood before and after each valid frame
    startup_timeout_s: float
    in_limit_bombs: bool
    only: Tuple[str, ...]  # categories containing one of these; empty: all
    node_log: Optional[str]  # where to copy the node's output
    transport: str = 'raw'  # the node's image_transport: which of the messages it is sent


#: image_transport value -> the Case.topic of its messages.
TRANSPORT_TOPICS = {'raw': 'image', 'compressed': 'compressed'}


class Run:
    """The node process, the peer and what they reported."""

    def __init__(self, options: Options, assets: Assets, folder: str) -> None:
        """
        Start the node and the peer in a namespace of their own.

        The node has its default parameters but ``image_transport``: it reads one
        transport, so a run sends the messages of that one (raw or compressed).
        """
        self.options = options
        self.topic = TRANSPORT_TOPICS[options.transport]
        self.assets = assets
        self.namespace = f'/fuzz_node_{os.getpid()}_{random.randrange(1 << 24)}'
        env = child_env(ROOT, random.randint(1, 101), False)
        os.environ.update({'ROS_DOMAIN_ID': env['ROS_DOMAIN_ID'],
                           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'})
        if env.get('ROS_LOCALHOST_ONLY'):
            os.environ['ROS_LOCALHOST_ONLY'] = env['ROS_LOCALHOST_ONLY']
        self.child = Child('classifier node', [
            sys.executable, '-m', NODE_MODULE, '--ros-args', '-r',
            f'__ns:={self.namespace}', '-p', f'image_transport:={options.transport}'],
            env, ROOT, folder)
        try:
            self.peer = Peer(self.namespace, self.topic)
        except BaseException:
            self.child.stop()
            raise
        self.report: Dict[str, Any] = {'seed': options.seed, 'node_pid': self.child.pid,
                                       'namespace': self.namespace,
                                       'transport': options.transport}
        self.sent: Dict[str, int] = collections.Counter()
        self.sent_log: List[Tuple[float, str]] = []
        self.valid: List[Tuple[str, str]] = []  # (frame id, photo) sent in the flood
        self.valid_seq = 0
        self.sampler: Optional[RssSampler] = None

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> bool:
        """
        Wait until ``condition()`` holds or ``timeout_s`` passes.

        :return: the last value of ``condition()``.
        :raises RuntimeError: when the node process exits meanwhile.
        """
        deadline = time.monotonic() + timeout_s
        while not condition():
            status = self.child.exited()
            if status is not None:
                raise RuntimeError(f'the node exited with status {status} while waiting for '
                                   f'{what}; its output ends:\n{self.child.tail()}')
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def send_valid(self, photo: str, compressed: bool, tag: str) -> str:
        """:return: the frame id of a valid frame just published."""
        self.valid_seq += 1
        frame_id = f'valid_{tag}_{self.valid_seq}_{photo}'
        self.peer.publish(valid_case(self.assets, photo, compressed, frame_id))
        self.sent['valid (' + tag + ')'] += 1
        return frame_id

    def valid_round(self, tag: str, timeout_s: float) -> List[bool]:
        """:return: for each photo (raw, or JPEG), whether it was answered right, one by one."""
        results = []
        for photo in sorted(EXPECTED):
            for compressed in (self.topic == 'compressed',):
                frame_id = self.send_valid(photo, compressed, tag)
                self.wait(lambda: self.peer.answer(frame_id) is not None, timeout_s,
                          f'the answer to {frame_id}')
                results.append(right_answer(photo, self.peer.answer(frame_id)))
        return results

    def start(self) -> None:
        """Wait for the node's diagnostics and subscriptions; send the first valid frames."""
        began = time.monotonic()
        if not self.wait(lambda: self.peer.counters()[0] > 0 and self.peer.matched(),
                         self.options.startup_timeout_s, 'diagnostics'):
            raise RuntimeError(f'no /diagnostics from the node, or no image subscription, '
                               f'after {self.options.startup_timeout_s:.0f} s; its output '
                               f'ends:\n{self.child.tail()}')
        time.sleep(1.5)  # let the node's QoS check settle (it re-checks every second)
        warm = self.valid_round('warmup', 30.0)
        self.report['startup_s'] = time.monotonic() - began
        self.report['warmup_right'] = f'{sum(warm)}/{len(warm)}'
        if not any(warm):
            raise RuntimeError(f'the node answered none of the valid warm-up frames right; '
                               f'answers: {self.peer.answers}; output ends:\n'
                               f'{self.child.tail()}')
        time.sleep(1.0)
        idle = memory_kib(self.child.pid)
        self.report['rss_idle_kib'] = idle['VmRSS']
        self.report['hwm_startup_kib'] = idle['VmHWM']
        self.report['hwm_reset'] = reset_peak(self.child.pid)
        self.sampler = RssSampler(self.child.pid)

    def flood(self) -> None:
        """Publish the malformed messages at the rate, a valid frame every so many."""
        options = self.options
        generator = Generator(random.Random(options.seed), self.assets, options.only)
        photos = sorted(EXPECTED)
        period = 1.0 / options.rate if options.rate > 0 else 0.0
        due = began = time.monotonic()
        for index in range(options.messages):
            if index and index % options.valid_every == 0:
                time.sleep(options.gap_s)
                photo = photos[(index // options.valid_every) % len(photos)]
                compressed = self.topic == 'compressed'
                self.valid.append((self.send_valid(photo, compressed, 'flood'), photo))
                time.sleep(options.gap_s)
                due = time.monotonic()
            case = self.next_case(generator)
            self.peer.publish(case)
            self.sent[case.category] += 1
            self.sent_log.append((time.monotonic(), case.category))
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                due = time.monotonic()  # fell behind: no burst to catch up
        self.report['flood_s'] = time.monotonic() - began

    def next_case(self, generator: 'Generator') -> Case:
        """
        Give the generator's next message for this run's transport.

        :raises RuntimeError: when the categories chosen (``--only``) have none.
        """
        for _ in range(1000):
            case = generator.next_case()
            if case.topic == self.topic:
                return case
        raise RuntimeError(f'the categories sent (--only) have no {self.options.transport} '
                           f'message; choose the other --transport')

    def settle(self, timeout_s: float) -> Dict[str, int]:
        """:return: the node's counters once two statuses in a row show the same ones."""
        deadline = time.monotonic() + timeout_s
        seen, previous = self.peer.counters()
        while time.monotonic() < deadline:
            self.wait(lambda: self.peer.counters()[0] > seen, 5.0, 'diagnostics')
            seen, counters = self.peer.counters()
            if counters == previous and len(counters) == len(COUNTERS):
                return counters
            previous = counters
        self.report['settled'] = False
        return previous

    def finish(self) -> None:
        """Send the final valid frames, settle the counters, stop the node, read its output."""
        time.sleep(1.0)
        try:
            final = self.valid_round('final', 15.0)
            self.report['counters'] = self.settle(30.0)
        except RuntimeError as e:  # the node died: the checks below say so
            final, self.report['error'] = [False], str(e)
            self.report['counters'] = self.peer.counters()[1]
        self.report['final_right'] = f'{sum(final)}/{len(final)}'
        self.report['final_ok'] = all(final)
        if self.sampler is not None:  # sampled until the node has read every frame
            self.report['rss_peak_sampled_kib'] = self.sampler.stop()
            self.report['rss_jumps'] = self.sampler.biggest_jumps(self.sent_log)
        self.report['alive_before_stop'] = self.child.exited() is None
        memory = memory_kib(self.child.pid) if self.report['alive_before_stop'] else {}
        self.report['hwm_flood_kib'] = memory.get('VmHWM', 0)
        self.report['rss_end_kib'] = memory.get('VmRSS', 0)
        self.report['classifications_received'] = self.peer.classifications
        self.child.stop()
        self.report['exit_status'] = self.child.exited()
        output = self.child.output()
        if self.options.node_log:
            with open(self.options.node_log, 'w', encoding='utf-8') as f:
                f.write(output)
        fatal = FATAL.search(output)
        self.report['fatal_output'] = output[max(0, fatal.start() - 200):fatal.start() + 3000] \
            if fatal else ''

    def close(self) -> None:
        """Stop the node (if still running) and the peer."""
        if self.sampler is not None:
            self.sampler.stop()
        self.child.stop()
        self.peer.close()


def fuzz(options: Options, assets: Assets) -> Dict[str, Any]:
    """
    Start the node, warm it up, flood it, let it settle; return everything measured.

    :raises RuntimeError: when the node does not start or answers no valid frame at all.
    """
    with tempfile.TemporaryDirectory(prefix='fuzz_node_') as folder:
        run = Run(options, assets, folder)
        try:
            run.start()
            run.flood()
            run.finish()
        finally:
            run.close()
        report = run.report
        report['sent'] = dict(run.sent)
        report['valid_flood'] = [(frame_id, photo, run.peer.answers.get(frame_id))
                                 for frame_id, photo in run.valid]
    return report


# -- the verdict --------------------------------------------------------------------------


def evaluate(report: Dict[str, Any], options: Options) -> List[Tuple[str, bool, str]]:
    """:return: (check, passed, numbers) for every acceptance check."""
    counters = report['counters']
    sent_total = sum(report['sent'].values())
    malformed = sum(n for c, n in report['sent'].items() if not c.startswith('valid'))
    have_all = all(name in counters for name in COUNTERS)
    accounted = sum(counters.get(n, 0) for n in OUTCOMES)
    received = counters.get('received', -1)
    peak = max(report['rss_peak_sampled_kib'], report['hwm_flood_kib']
               if report['hwm_reset'] else 0)
    ratio = peak / report['rss_idle_kib']
    valid = report['valid_flood']
    right = sum(right_answer(photo, answer) for _, photo, answer in valid)
    share = right / len(valid) if valid else 0.0
    fatal = report['fatal_output'].strip().splitlines()
    return [
        (f'>= {options.messages} malformed messages sent', malformed >= options.messages,
         f'{malformed}'),
        ('node alive after the flood (no crash)', report['alive_before_stop'], ''),
        ('final valid frames answered right (serving loop alive)', report['final_ok'],
         report['final_right']),
        ('no traceback or fatal error in the node output', not fatal,
         fatal[0] if fatal else ''),
        ('node exit status 0 on SIGINT', report['exit_status'] == 0,
         f'{report["exit_status"]}'),
        ('diagnostics carry received/published/dropped/rejected/failed', have_all,
         ', '.join(sorted(counters))),
        ('received = published + dropped + rejected + failed',
         have_all and received == accounted, f'{received} = {accounted}'),
        ('received <= sent (nothing counted twice)', 0 <= received <= sent_total,
         f'{received} <= {sent_total}'),
        ('malformed frames counted (rejected + failed > 0)',
         counters.get('rejected', 0) + counters.get('failed', 0) > 0,
         f'{counters.get("rejected", 0)} + {counters.get("failed", 0)}'),
        (f'peak RSS < {RSS_LIMIT:g} x idle', ratio < RSS_LIMIT, f'{ratio:.2f}'),
        (f'>= {ANSWERED_LIMIT:.0%} of valid frames answered right',
         share >= ANSWERED_LIMIT or not valid,
         f'{right}/{len(valid)} = {share:.1%}' if valid else 'none sent (fewer messages than '
         '--valid-every)'),
    ]


def print_report(report: Dict[str, Any], checks: List[Tuple[str, bool, str]],
                 options: Options) -> None:
    """Print what was sent, what the node counted, memory, valid answers and the checks."""
    sent, counters = report['sent'], report['counters']
    print(f'fuzz_node: seed {options.seed}, {options.messages} malformed messages at '
          f'{options.rate:g}/s, a valid frame every {options.valid_every} with '
          f'{options.gap_s * 1e3:.0f} ms gaps; node pid {report["node_pid"]} '
          f'({report["namespace"]}/classifier, default parameters but image_transport '
          f'{report["transport"]})')
    print(f'start-up + warm-up {report["startup_s"]:.1f} s (warm-up frames right: '
          f'{report["warmup_right"]}), flood {report["flood_s"]:.1f} s')
    print('messages sent by category:')
    for category, count in sorted(sent.items()):
        print(f'  {category:<40} {count:>6}')
    print(f'  {"total":<40} {sum(sent.values()):>6}')
    print('node counters (/diagnostics, settled' +
          ('' if report.get('settled', True) else ' NOT: still changing') + '):')
    print('  ' + '  '.join(f'{name} {counters.get(name, "-")}' for name in COUNTERS))
    accounted = sum(counters.get(n, 0) for n in OUTCOMES)
    print(f'  received = published + dropped + rejected + failed: '
          f'{counters.get("received", "-")} = {counters.get("published", 0)} + '
          f'{counters.get("dropped", 0)} + {counters.get("rejected", 0)} + '
          f'{counters.get("failed", 0)} = {accounted}')
    undelivered = sum(sent.values()) - counters.get('received', 0)
    print(f'  sent {sum(sent.values())}, delivered to the node {counters.get("received", "-")}'
          f' ({undelivered} overwritten in its keep-last-1 reader history before its '
          f'callback ran: never seen, so not counted); classifications received '
          f'{report["classifications_received"]}')
    read = accounted - counters.get('dropped', 0)
    print(f'  read by the inference thread (published + rejected + failed): {read} = '
          f'{read / max(1, counters.get("received", 0)):.0%} of received')
    print_memory(report)
    valid = report['valid_flood']
    right = sum(right_answer(photo, answer) for _, photo, answer in valid)
    missing = sum(answer is None for _, _, answer in valid)
    print(f'valid frames in the flood: {right}/{len(valid)} answered with the right top-1, '
          f'{missing} unanswered, {len(valid) - right - missing} wrong; final frames '
          f'{report["final_right"]}')
    print('checks:')
    for name, passed, numbers in checks:
        print(f'  {"PASS" if passed else "FAIL"}  {name}' + (f': {numbers}' if numbers else ''))
    if report['fatal_output']:
        print('node output around the first fatal line:\n' + report['fatal_output'])


def print_memory(report: Dict[str, Any]) -> None:
    """Print idle and peak RSS, their ratio and the biggest rises during the flood."""
    idle, sampled, hwm = (report['rss_idle_kib'], report['rss_peak_sampled_kib'],
                          report['hwm_flood_kib'])
    peak = max(sampled, hwm if report['hwm_reset'] else 0)
    print(f'RSS: idle {idle / 1024:.1f} MiB, peak during the flood {peak / 1024:.1f} MiB '
          f'(sampled every 10 ms {sampled / 1024:.1f}, VmHWM '
          + (f'since reset {hwm / 1024:.1f}' if report['hwm_reset'] else 'not resettable')
          + f'), ratio {peak / idle:.2f}; at the end {report["rss_end_kib"] / 1024:.1f} MiB; '
          f'start-up VmHWM {report["hwm_startup_kib"] / 1024:.1f} MiB')
    for jump in report.get('rss_jumps', ()):
        print(f'  RSS rose {jump["rise_mib"]:.1f} MiB in 100 ms; sent in the second before: '
              f'{jump["sent_before"]}')


# -- command line -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(description=(__doc__ or '').strip().splitlines()[0])
    parser.add_argument('--messages', type=int, default=None,
                        help='malformed messages to send (default 10000, --short 500)')
    parser.add_argument('--seed', type=int, default=1, help='seed of the generator (1)')
    parser.add_argument('--rate', type=float, default=250.0,
                        help='malformed messages per second (250: the node reads about half '
                             'of them, the rest are dropped as newer ones come; 0: as fast '
                             'as they are made)')
    parser.add_argument('--valid-every', type=int, default=None,
                        help='a valid frame after this many malformed ones (50, --short 25)')
    parser.add_argument('--gap-ms', type=float, default=20.0,
                        help='pause in the flood before and after each valid frame (20)')
    parser.add_argument('--no-in-limit-bombs', dest='in_limit_bombs', action='store_false',
                        help='leave out the PNG/JPEG bombs within the hard limits '
                             f'({MAX_SIDE} a side): a few KB decoding to hundreds of MB')
    parser.add_argument('--only', default='', metavar='TEXT[,TEXT]',
                        help='send only the categories whose name contains one of these, '
                             'e.g. "bomb JPEG" (to reproduce a failure)')
    parser.add_argument('--short', action='store_true', help='500 messages: a quick check')
    parser.add_argument('--startup-timeout', type=float, default=60.0, metavar='S',
                        help='seconds the node may take to start (60)')
    parser.add_argument('--transport', choices=(*TRANSPORT_TOPICS, 'both'), default='both',
                        help='the node reads one image transport: fuzz a raw node, a '
                             'compressed one, or both one after the other, the messages '
                             'shared between them (both)')
    parser.add_argument('--json', metavar='FILE', help='also write the report to FILE')
    parser.add_argument('--node-log', metavar='FILE', help="copy the node's output to FILE")
    return parser


def options_from(args: argparse.Namespace) -> List[Options]:
    """:return: the options of each run (one per transport), --short filling what was not given."""
    transports = list(TRANSPORT_TOPICS) if args.transport == 'both' else [args.transport]
    messages = args.messages if args.messages is not None else 500 if args.short else 10000
    runs = []
    for index, transport in enumerate(transports):
        share = messages // len(transports) + (index < messages % len(transports))
        log = f'{args.node_log}.{transport}' if args.node_log and len(transports) > 1 else \
            args.node_log
        runs.append(Options(
            messages=share, seed=args.seed, rate=args.rate,
            valid_every=args.valid_every or (25 if args.short else 50), gap_s=args.gap_ms / 1e3,
            startup_timeout_s=args.startup_timeout, in_limit_bombs=args.in_limit_bombs,
            only=tuple(part.strip() for part in args.only.split(',') if part.strip()),
            node_log=log, transport=transport))
    return runs


def main() -> None:
    """Fuzz a node per transport; print the reports; exit 1 when a check fails."""
    args = build_parser().parse_args()
    runs = options_from(args)
    check_writer()
    assets = make_assets(runs[0].in_limit_bombs)
    reports = {}
    for options in runs:
        try:
            report = fuzz(options, assets)
        except RuntimeError as e:
            print(f'fuzz_node: {options.transport}: {e}', file=sys.stderr)
            sys.exit(1)
        checks = evaluate(report, options)
        print_report(report, checks, options)
        report['checks'] = [{'check': n, 'passed': ok, 'numbers': v} for n, ok, v in checks]
        report['passed'] = all(ok for _, ok, _ in checks)
        reports[options.transport] = report
    passed = all(report['passed'] for report in reports.values())
    print(f'result: {"PASS" if passed else "FAIL"} (exit {0 if passed else 1})')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump({'passed': passed, 'runs': reports}, f, indent=1)
    sys.exit(0 if passed else 1)


if __name__ == '__main__':
    main()
