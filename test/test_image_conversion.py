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
Tests of dla_infer_ros.image_conversion.

Every encoding is produced here from a known RGB image with numpy code that
does not use the module or OpenCV (channel shuffles, BT.601 YUV formulas,
Bayer sampling), then decoded by the module and compared with that image.
"""

import array
import importlib
import importlib.util
import struct
import sys
from types import SimpleNamespace
from typing import Any, Callable, Dict, Tuple
import zlib

import numpy as np
import pytest

from dla_infer_ros import image_conversion as ic
from dla_infer_ros.errors import DlaInferError

cv2 = pytest.importorskip('cv2', reason='image conversion needs opencv-python(-headless)')

HEIGHT, WIDTH = 48, 64
RNG = np.random.default_rng(20260101)
#: Random pixels: any swapped or shifted channel shows up in an exact comparison.
RANDOM_RGB = RNG.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
RANDOM_GRAY = RNG.integers(0, 256, size=(HEIGHT, WIDTH, 1), dtype=np.uint8)
RANDOM_GRAY16 = RNG.integers(0, 65536, size=(HEIGHT, WIDTH, 1), dtype=np.uint16)


def _smooth_rgb() -> np.ndarray:
    """Gentle linear ramps around very different channel means (R~200, G~120, B~40)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    red = 180.0 + 40.0 * x / WIDTH
    green = 100.0 + 40.0 * y / HEIGHT
    blue = 30.0 + 20.0 * (x + y) / (WIDTH + HEIGHT)
    return np.round(np.stack([red, green, blue], axis=-1)).astype(np.uint8)


SMOOTH_RGB = _smooth_rgb()


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma in full range, as float."""
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _yuv422(rgb: np.ndarray, order: str) -> np.ndarray:
    """Pack RGB into UYVY or YUYV bytes, BT.601 video range, chroma averaged over pairs."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    luma = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b
    u_pair = (u[:, 0::2] + u[:, 1::2]) / 2.0
    v_pair = (v[:, 0::2] + v[:, 1::2]) / 2.0
    y0, y1 = luma[:, 0::2], luma[:, 1::2]
    if order == 'UYVY':
        groups = [u_pair, y0, v_pair, y1]
    else:
        groups = [y0, u_pair, y1, v_pair]
    packed = np.stack(groups, axis=-1)  # height x width/2 x 4
    packed = np.clip(np.round(packed), 0, 255).astype(np.uint8)
    return packed.reshape(rgb.shape[0], rgb.shape[1], 2)


#: Which RGB channel sits at (row % 2, column % 2) for each ROS Bayer pattern.
BAYER_PATTERNS = {
    'bayer_rggb8': ((0, 1), (1, 2)),
    'bayer_bggr8': ((2, 1), (1, 0)),
    'bayer_gbrg8': ((1, 2), (0, 1)),
    'bayer_grbg8': ((1, 0), (2, 1)),
}


def _bayer(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """Sample RGB through a colour filter array as the encoding names it."""
    mosaic = np.empty(rgb.shape[:2] + (1,), dtype=np.uint8)
    for row in (0, 1):
        for col in (0, 1):
            channel = BAYER_PATTERNS[encoding][row][col]
            mosaic[row::2, col::2, 0] = rgb[row::2, col::2, channel]
    return mosaic


#: encoding -> (raw pixels made from the reference, expected RGB output, exact?)
def _plain_cases() -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    alpha = RNG.integers(0, 256, size=(HEIGHT, WIDTH, 1), dtype=np.uint8)
    rgb, bgr = RANDOM_RGB, RANDOM_RGB[..., ::-1]
    gray_rgb = np.repeat(RANDOM_GRAY, 3, axis=2)
    return {
        'rgb8': (rgb, rgb),
        'bgr8': (bgr, rgb),
        'rgba8': (np.concatenate([rgb, alpha], axis=2), rgb),
        'bgra8': (np.concatenate([bgr, alpha], axis=2), rgb),
        '8UC3': (bgr, rgb),
        '8UC4': (np.concatenate([bgr, alpha], axis=2), rgb),
        'mono8': (RANDOM_GRAY, gray_rgb),
        '8UC1': (RANDOM_GRAY, gray_rgb),
    }


PLAIN = _plain_cases()
GRAY16_RGB = np.repeat((RANDOM_GRAY16 >> 8).astype(np.uint8), 3, axis=2)


def _message(raw: np.ndarray, encoding: str, padding: int = 0, big_endian: bool = False,
             data_type: Callable[[bytes], Any] = bytes) -> SimpleNamespace:
    """Build an Image stand-in by hand (no module code), with garbage in the row padding."""
    height, width = raw.shape[:2]
    pixels = raw.astype('>u2' if big_endian else '<u2') if raw.dtype.itemsize == 2 else raw
    rows = pixels.reshape(height, -1).view(np.uint8)
    padded = np.full((height, rows.shape[1] + padding), 0xEE, dtype=np.uint8)
    padded[:, :rows.shape[1]] = rows
    return SimpleNamespace(height=height, width=width, encoding=encoding,
                           is_bigendian=int(big_endian), step=padded.shape[1],
                           data=data_type(padded.tobytes()))


def _convert(msg: SimpleNamespace, order: str = 'RGB') -> np.ndarray:
    view, info = ic.image_to_array(msg)
    return ic.to_model_order(view, info, order)


# --- plain encodings: exact ------------------------------------------------------------


@pytest.mark.parametrize('encoding', sorted(PLAIN))
@pytest.mark.parametrize('padding', [0, 7])
def test_plain_encodings_decode_exactly(encoding: str, padding: int) -> None:
    raw, expected_rgb = PLAIN[encoding]
    msg = _message(raw, encoding, padding)
    view, info = ic.image_to_array(msg)
    assert view.shape == (HEIGHT, WIDTH, info.channels)
    assert view.dtype == np.uint8
    np.testing.assert_array_equal(view, raw)
    np.testing.assert_array_equal(ic.to_model_order(view, info, 'RGB'), expected_rgb)
    np.testing.assert_array_equal(ic.to_model_order(view, info, 'BGR'), expected_rgb[..., ::-1])


@pytest.mark.parametrize('encoding', sorted(PLAIN))
def test_gray_order_is_bt601_luma(encoding: str) -> None:
    raw, expected_rgb = PLAIN[encoding]
    gray = _convert(_message(raw, encoding), 'GRAY')
    assert gray.shape == (HEIGHT, WIDTH, 1)
    np.testing.assert_allclose(gray[..., 0], _luma(expected_rgb), atol=1.0)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('padding', [0, 6])
def test_16_bit_gray_keeps_values_and_shifts_by_8(encoding: str, big_endian: bool,
                                                  padding: int) -> None:
    msg = _message(RANDOM_GRAY16, encoding, padding, big_endian)
    view, info = ic.image_to_array(msg)
    assert view.dtype.kind == 'u' and view.dtype.itemsize == 2
    np.testing.assert_array_equal(view, RANDOM_GRAY16)  # values right in either byte order
    np.testing.assert_array_equal(ic.to_model_order(view, info, 'RGB'), GRAY16_RGB)
    np.testing.assert_array_equal(ic.to_model_order(view, info, 'GRAY'), GRAY16_RGB[..., :1])


def test_16_bit_gray_from_a_native_array_with_odd_layout() -> None:
    transposed = np.ascontiguousarray(RANDOM_GRAY16[..., 0].T).T  # last axis not contiguous
    out = ic.to_model_order(transposed, 'mono16', 'RGB')
    np.testing.assert_array_equal(out, GRAY16_RGB)


# --- YUV 4:2:2 and Bayer: within a tolerance, channels not swapped ----------------------


@pytest.mark.parametrize('encoding, packing', [('yuv422', 'UYVY'), ('yuv422_yuy2', 'YUYV')])
@pytest.mark.parametrize('padding', [0, 5])
def test_yuv422_decodes_to_the_reference(encoding: str, packing: str, padding: int) -> None:
    msg = _message(_yuv422(SMOOTH_RGB, packing), encoding, padding)
    rgb = _convert(msg, 'RGB')
    assert np.abs(rgb.astype(int) - SMOOTH_RGB).max() <= 3
    bgr = _convert(msg, 'BGR')
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])
    gray = _convert(msg, 'GRAY')
    assert np.abs(gray[..., 0] - _luma(SMOOTH_RGB)).max() <= 3


def test_uyvy_and_yuyv_are_not_interchangeable() -> None:
    msg = _message(_yuv422(SMOOTH_RGB, 'UYVY'), 'yuv422_yuy2')
    assert np.abs(_convert(msg, 'RGB').astype(int) - SMOOTH_RGB).max() > 20


@pytest.mark.parametrize('encoding', sorted(BAYER_PATTERNS))
@pytest.mark.parametrize('padding', [0, 3])
def test_bayer_decodes_to_the_reference(encoding: str, padding: int) -> None:
    msg = _message(_bayer(SMOOTH_RGB, encoding), encoding, padding)
    rgb = _convert(msg, 'RGB').astype(int)
    # Means far apart (200 / 120 / 40): a swapped pattern moves them by >= 80.
    means = rgb.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(means, SMOOTH_RGB.reshape(-1, 3).mean(axis=0), atol=2.0)
    interior = (slice(2, -2), slice(2, -2))
    assert np.abs(rgb[interior] - SMOOTH_RGB[interior]).max() <= 2
    np.testing.assert_array_equal(_convert(msg, 'BGR'), rgb[..., ::-1])
    gray = _convert(msg, 'GRAY')[..., 0]
    assert np.abs(gray[interior] - _luma(SMOOTH_RGB)[interior]).max() <= 3


@pytest.mark.parametrize('encoding', sorted(BAYER_PATTERNS))
def test_bayer_read_as_another_pattern_is_wrong(encoding: str) -> None:
    mosaic = _bayer(SMOOTH_RGB, encoding)
    for other in sorted(set(BAYER_PATTERNS) - {encoding}):
        rgb = _convert(_message(mosaic, other), 'RGB')
        means = rgb.reshape(-1, 3).mean(axis=0)
        assert np.abs(means - SMOOTH_RGB.reshape(-1, 3).mean(axis=0)).max() > 30, other


# --- views, data types, buffers ---------------------------------------------------------


@pytest.mark.parametrize('encoding', sorted(ic.ENCODINGS))
def test_image_to_array_returns_a_view_of_data(encoding: str) -> None:
    info = ic.ENCODINGS[encoding]
    raw = np.zeros((HEIGHT, WIDTH, info.channels), dtype=f'u{info.itemsize}')
    msg = _message(raw, encoding, padding=4, data_type=bytearray)
    view, _ = ic.image_to_array(msg)
    assert np.shares_memory(view, np.frombuffer(msg.data, dtype=np.uint8))
    msg.data[msg.step + info.bytes_per_pixel] = 0x5A  # row 1, pixel 1, first byte
    # Little-endian message: the first byte is the low one, the others are 0.
    assert view[1, 1, 0] == 0x5A


@pytest.mark.parametrize('data_type', [bytes, bytearray, memoryview,
                                       lambda b: array.array('B', b),
                                       lambda b: np.frombuffer(b, dtype=np.uint8),
                                       list])
def test_data_of_every_buffer_type(data_type: Callable[[bytes], Any]) -> None:
    msg = _message(RANDOM_RGB, 'rgb8', padding=2, data_type=data_type)
    np.testing.assert_array_equal(ic.image_to_array(msg)[0], RANDOM_RGB)


def test_longer_data_than_needed_is_accepted() -> None:
    msg = _message(RANDOM_RGB, 'rgb8')
    msg.data = msg.data + b'\x00' * 10
    np.testing.assert_array_equal(ic.image_to_array(msg)[0], RANDOM_RGB)


@pytest.mark.parametrize('order, channels', [('RGB', 3), ('BGR', 3), ('GRAY', 1)])
@pytest.mark.parametrize('encoding', sorted(ic.ENCODINGS))
def test_out_buffer_is_reused(encoding: str, order: str, channels: int) -> None:
    info = ic.ENCODINGS[encoding]
    msg = _message(np.zeros((HEIGHT, WIDTH, info.channels), f'u{info.itemsize}'), encoding)
    out = np.full((HEIGHT, WIDTH, channels), 7, dtype=np.uint8)
    assert ic.image_to_model_order(msg, order, out) is out
    assert ic.image_to_model_order(msg, order, out) is out


@pytest.mark.parametrize('bad_out', [
    np.empty((HEIGHT, WIDTH + 2, 3), np.uint8),
    np.empty((HEIGHT, WIDTH, 3), np.float32),
    np.empty((HEIGHT, WIDTH, 6), np.uint8)[:, :, ::2],
])
def test_out_buffer_that_does_not_fit_is_replaced(bad_out: np.ndarray) -> None:
    out = ic.image_to_model_order(_message(RANDOM_RGB, 'bgr8'), 'BGR', bad_out)
    assert out is not bad_out and out.shape == (HEIGHT, WIDTH, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, RANDOM_RGB)


def test_two_dimensional_gray_views_are_accepted() -> None:
    out = ic.to_model_order(RANDOM_GRAY[..., 0], 'mono8', 'RGB')
    np.testing.assert_array_equal(out, np.repeat(RANDOM_GRAY, 3, axis=2))


# --- malformed messages -----------------------------------------------------------------


def _rgb_msg(**changes: Any) -> SimpleNamespace:
    msg = _message(RANDOM_RGB[:4, :6], 'rgb8')
    vars(msg).update(changes)
    return msg


@pytest.mark.parametrize('changes, message', [
    ({'step': 17}, r'step=17 is smaller than width \* bytes per pixel = 6 \* 3 = 18'),
    ({'step': 0}, r'step=0 is smaller than width'),
    ({'data': bytes(70)}, r'image data has 70 bytes, fewer than step \* height = 18 \* 4 = 72'),
    ({'data': b''}, r'image data is empty'),
    ({'data': array.array('B')}, r'image data is empty'),
    ({'height': 0}, r'image has zero size: height=0, width=6'),
    ({'width': 0, 'step': 0}, r'image has zero size: height=4, width=0'),
    ({'width': 20000, 'step': 60000}, r'image size 20000x4 exceeds the limit of 16384'),
    ({'height': 16384, 'width': 16384, 'step': 3 * 16384},
     r'step \* height = 49152 \* 16384 = 805306368 bytes exceeds the limit of 536870912'),
    ({'encoding': 'rgb16'},
     r"image encoding 'rgb16' is not supported; supported: rgb8, bgr8, .*bayer_grbg8"),
    ({'encoding': 'RGB8'}, r"image encoding 'RGB8' is not supported"),
    ({'data': ['a'] * 72}, r'image data of type list is not a sequence of bytes'),
])
def test_malformed_image_raises_a_useful_error(changes: Dict[str, Any], message: str) -> None:
    with pytest.raises(DlaInferError, match=message):
        ic.image_to_array(_rgb_msg(**changes))


def test_odd_width_yuv422_raises() -> None:
    msg = SimpleNamespace(height=2, width=3, encoding='yuv422', is_bigendian=0, step=6,
                          data=bytes(12))
    with pytest.raises(DlaInferError, match=r'width=3 is odd; encoding yuv422 .*even width'):
        ic.image_to_array(msg)


def test_bad_model_order_raises() -> None:
    view, info = ic.image_to_array(_rgb_msg())
    with pytest.raises(DlaInferError, match=r"model order 'RGBA' requested; supported: RGB, BGR"):
        ic.to_model_order(view, info, 'RGBA')


@pytest.mark.parametrize('view, encoding, message', [
    (np.zeros((4, 6, 3), np.uint8), 'bgra8', r'shape \(4, 6, 3\) does not fit encoding bgra8'),
    (np.zeros((4, 6), np.uint8), 'rgb8', r'shape \(4, 6\) does not fit encoding rgb8'),
    (np.zeros((4, 6, 1), np.uint8), 'mono16', r'dtype uint8 does not fit encoding mono16'),
    (np.zeros((4, 6, 3), np.float32), 'rgb8', r'dtype float32 does not fit encoding rgb8'),
])
def test_view_that_does_not_fit_the_encoding_raises(view: np.ndarray, encoding: str,
                                                    message: str) -> None:
    with pytest.raises(DlaInferError, match=message):
        ic.to_model_order(view, encoding, 'RGB')


# --- compressed images ------------------------------------------------------------------


def _compressed(image: np.ndarray, ext: str, image_format: str) -> SimpleNamespace:
    ok, encoded = cv2.imencode(ext, image)
    assert ok
    return SimpleNamespace(format=image_format, data=array.array('B', encoded.tobytes()))


@pytest.mark.parametrize('image_format', ['png', 'bgr8; png compressed bgr8', 'PNG'])
def test_png_round_trip_is_exact(image_format: str) -> None:
    bgr = np.ascontiguousarray(RANDOM_RGB[..., ::-1])
    image, info = ic.compressed_to_array(_compressed(bgr, '.png', image_format))
    assert info.name == 'bgr8'
    np.testing.assert_array_equal(image, bgr)
    np.testing.assert_array_equal(ic.to_model_order(image, info, 'RGB'), RANDOM_RGB)


@pytest.mark.parametrize('image_format', ['jpeg', 'jpg', 'rgb8; jpeg compressed bgr8',
                                          'bgr8; jpeg compressed bgr8'])
def test_jpeg_round_trip_is_close(image_format: str) -> None:
    bgr = np.ascontiguousarray(SMOOTH_RGB[..., ::-1])
    image, info = ic.compressed_to_array(_compressed(bgr, '.jpg', image_format))
    assert info.name == 'bgr8' and image.shape == (HEIGHT, WIDTH, 3)
    rgb = ic.to_model_order(image, info, 'RGB')
    assert np.abs(rgb.astype(int) - SMOOTH_RGB).mean() < 3


def test_compressed_rgb8_data_is_labelled_rgb8() -> None:
    # A publisher that fed RGB bytes to the encoder says so after 'compressed'.
    msg = _compressed(RANDOM_RGB, '.png', 'rgb8; png compressed rgb8')
    image, info = ic.compressed_to_array(msg)
    assert info.name == 'rgb8'
    np.testing.assert_array_equal(ic.to_model_order(image, info, 'RGB'), RANDOM_RGB)


@pytest.mark.parametrize('gray, encoding', [(RANDOM_GRAY, 'mono8'),
                                            (RANDOM_GRAY16, 'mono16')])
def test_gray_png_round_trip(gray: np.ndarray, encoding: str) -> None:
    image, info = ic.compressed_to_array(_compressed(gray[..., 0], '.png', 'png'))
    assert info.name == encoding
    np.testing.assert_array_equal(image, gray)


def test_bgra_png_round_trip() -> None:
    bgra = RNG.integers(0, 256, size=(HEIGHT, WIDTH, 4), dtype=np.uint8)
    image, info = ic.compressed_to_array(_compressed(bgra, '.png', 'png'))
    assert info.name == 'bgra8'
    np.testing.assert_array_equal(image, bgra)


@pytest.mark.parametrize('image_format, data, message', [
    ('jpeg', b'', r"compressed image \(format 'jpeg'\) has empty data"),
    ('jpeg', b'not a jpeg at all', r'neither PNG nor JPEG'),
    ('jpeg', b'\xff\xd8\xff\xd9', r'no frame header'),
    ('jpeg', b'\xff\xd8\x00\x00\x00\x00', r'no marker at byte 2'),
    ('png', b'\x89PNG\r\n\x1a\n\x00\x00', r'no complete IHDR'),
    ('h264', b'\x00\x00\x01', r"names codec 'h264'; supported: jpeg, jpg, png"),
    ('16UC1; compressedDepth png', b'\x00' * 20, r'compressedDepth'),
])
def test_bad_compressed_image_raises(image_format: str, data: bytes, message: str) -> None:
    with pytest.raises(DlaInferError, match=message):
        ic.compressed_to_array(SimpleNamespace(format=image_format, data=data))


def _png_header(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack('>II', width, height) + bytes([depth, colour, 0, 0, 0])
    return (b'\x89PNG\r\n\x1a\n' + struct.pack('>I', 13) + b'IHDR' + ihdr
            + struct.pack('>I', zlib.crc32(b'IHDR' + ihdr)))


def _jpeg_header(width: int, height: int) -> bytes:
    app0 = b'\xff\xe0' + struct.pack('>H', 16) + b'JFIF\x00' + bytes(9)
    frame = b'\xff\xc0' + struct.pack('>HBHHB', 17, 8, height, width, 3) + bytes(9)
    return b'\xff\xd8' + app0 + frame + b'\xff\xda' + bytes(12)


@pytest.mark.parametrize('data, message', [
    (_png_header(30000, 30000) + bytes(64), 'png image of 30000x30000 exceeds'),
    (_png_header(16000, 16000, depth=16, colour=6), 'png image of 16000x16000'),
    (_jpeg_header(20000, 100), 'jpeg image of 20000x100 exceeds'),
], ids=['png-side', 'png-bytes', 'jpeg-side'])
def test_decompression_bombs_are_refused_before_decoding(
        data: bytes, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    def never(*args: Any) -> None:
        raise AssertionError('decoded')
    monkeypatch.setattr(cv2, 'imdecode', never)
    with pytest.raises(DlaInferError, match=message):
        ic.compressed_to_array(SimpleNamespace(format='png', data=data))


def test_a_pixel_limit_of_the_caller_refuses_larger_frames(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2
    fields = ic.array_to_image_fields(RANDOM_RGB, 'rgb8')
    height, width = RANDOM_RGB.shape[:2]
    ic.image_to_array(SimpleNamespace(**fields), max_pixels=height * width)
    with pytest.raises(DlaInferError, match=f'{width}x{height} = {width * height} pixels '
                       f'exceeds the limit of {width * height - 1} pixels'):
        ic.image_to_array(SimpleNamespace(**fields), max_pixels=height * width - 1)
    png = cv2.imencode('.png', RANDOM_RGB)[1].tobytes()
    assert ic.compressed_to_array(SimpleNamespace(format='png', data=png),
                                  max_pixels=height * width)[0].shape[:2] == (height, width)

    def never(*args: Any) -> None:
        raise AssertionError('decoded')
    monkeypatch.setattr(cv2, 'imdecode', never)
    with pytest.raises(DlaInferError, match='refused before decoding'):
        ic.compressed_to_array(SimpleNamespace(format='png', data=png),
                               max_pixels=height * width - 1)


def test_image_files_are_checked_before_decoding(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2
    photo, bomb, other = (str(tmp_path / n) for n in ('photo.png', 'bomb.png', 'notes.txt'))
    cv2.imwrite(photo, RANDOM_RGB)
    with open(bomb, 'wb') as f:
        f.write(_png_header(30000, 30000) + bytes(64))
    with open(other, 'w', encoding='utf-8') as f:
        f.write('not an image')
    np.testing.assert_array_equal(ic.read_image_file(photo), cv2.imread(photo))
    assert ic.read_image_file(other) is None  # what OpenCV cannot read: the caller decides
    monkeypatch.setattr(cv2, 'imread', lambda *args: pytest.fail('decoded'))
    with pytest.raises(DlaInferError, match='bomb.png: png image of 30000x30000 exceeds'):
        ic.read_image_file(bomb)
    with pytest.raises(DlaInferError, match='missing.png: cannot read'):
        ic.read_image_file(str(tmp_path / 'missing.png'))


def test_header_sizes_match_the_decoded_images() -> None:
    import cv2
    for extension, image in (('.png', RANDOM_RGB), ('.jpg', RANDOM_RGB),
                             ('.png', RANDOM_RGB[..., 0])):
        encoded = cv2.imencode(extension, image)[1].reshape(-1)
        codec, height, width, _ = ic.encoded_geometry(encoded)
        assert (height, width) == image.shape[:2], codec
    assert ic.encoded_geometry(np.frombuffer(_png_header(7, 5, 16, 0), np.uint8)) == (
        'png', 5, 7, 2)


def test_16_bit_colour_png_raises() -> None:
    bgr16 = RNG.integers(0, 65536, size=(4, 6, 3), dtype=np.uint16)
    with pytest.raises(DlaInferError, match=r'dtype uint16 and 3 channel\(s\); supported'):
        ic.compressed_to_array(_compressed(bgr16, '.png', 'png'))


# --- array_to_image_fields --------------------------------------------------------------


@pytest.mark.parametrize('encoding', sorted(ic.ENCODINGS))
def test_fields_round_trip(encoding: str) -> None:
    info = ic.ENCODINGS[encoding]
    raw = RNG.integers(0, 256 ** info.itemsize, size=(HEIGHT, WIDTH, info.channels),
                       dtype=f'u{info.itemsize}')
    fields = ic.array_to_image_fields(raw, encoding)
    assert isinstance(fields['data'], array.array) and fields['data'].typecode == 'B'
    assert fields['step'] == WIDTH * info.bytes_per_pixel
    assert len(fields['data']) == HEIGHT * fields['step']
    view, _ = ic.image_to_array(SimpleNamespace(**fields))
    np.testing.assert_array_equal(view, raw)


def test_fields_of_big_endian_and_strided_arrays() -> None:
    big = RANDOM_GRAY16.astype('>u2')
    fields = ic.array_to_image_fields(big, 'mono16')
    assert fields['is_bigendian'] == 1
    assert bytes(fields['data'][:2]) == big[0, 0].tobytes()
    np.testing.assert_array_equal(ic.image_to_array(SimpleNamespace(**fields))[0], big)
    crop = RANDOM_RGB[4:20, 8:40]  # not contiguous
    fields = ic.array_to_image_fields(crop, 'rgb8')
    assert fields['is_bigendian'] == 0
    np.testing.assert_array_equal(ic.image_to_array(SimpleNamespace(**fields))[0], crop)


@pytest.mark.parametrize('pixels, encoding, message', [
    (np.zeros((4, 6, 3), np.uint8), 'mono8', r'shape \(4, 6, 3\) does not fit encoding mono8'),
    (np.zeros((4, 6, 3), np.float32), 'rgb8', r'dtype float32 does not fit encoding rgb8'),
    (np.zeros((4, 5, 2), np.uint8), 'yuv422', r'width=5 is odd'),
    (np.zeros((4, 6, 3), np.uint8), 'rgb7', r"image encoding 'rgb7' is not supported"),
])
def test_fields_of_arrays_that_do_not_fit_raise(pixels: np.ndarray, encoding: str,
                                                message: str) -> None:
    with pytest.raises(DlaInferError, match=message):
        ic.array_to_image_fields(pixels, encoding)


# --- comparison with ROS's cv_bridge, where it exists -----------------------------------

HAVE_CV_BRIDGE = (importlib.util.find_spec('cv_bridge') is not None
                  and importlib.util.find_spec('sensor_msgs') is not None)


@pytest.mark.skipif(not HAVE_CV_BRIDGE,
                    reason='ROS 2 cv_bridge and sensor_msgs are not importable here')
@pytest.mark.parametrize('encoding', sorted(ic.ENCODINGS))
def test_matches_cv_bridge(encoding: str) -> None:
    bridge = importlib.import_module('cv_bridge').CvBridge()
    image_type = importlib.import_module('sensor_msgs.msg').Image
    info = ic.ENCODINGS[encoding]
    raw = RNG.integers(0, 256 ** info.itemsize, size=(HEIGHT, WIDTH, info.channels),
                       dtype=f'u{info.itemsize}')
    msg = image_type(**ic.array_to_image_fields(raw, encoding))
    try:
        theirs = bridge.imgmsg_to_cv2(msg)
    except Exception as e:  # an older cv_bridge may not know the encoding (yuv422_yuy2)
        pytest.skip(f'cv_bridge cannot read {encoding}: {e}')
    ours, _ = ic.image_to_array(msg)
    np.testing.assert_array_equal(ours.reshape(theirs.shape), theirs)
    if encoding.startswith(('8UC', '16UC')):
        return  # cv_bridge gives these no colour meaning and will not convert them
    theirs_rgb = bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8')
    ours_rgb = ic.to_model_order(ours, info, 'RGB')
    # cv_bridge scales 16-bit by 255/65535 with rounding; we keep the high byte.
    tolerance = 1 if info.itemsize == 2 else 0
    assert np.abs(ours_rgb.astype(int) - theirs_rgb).max() <= tolerance


# --- without OpenCV ---------------------------------------------------------------------


def test_module_imports_and_copies_without_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'cv2', None)  # makes `import cv2` fail
    reloaded = importlib.reload(ic)
    try:
        view, info = reloaded.image_to_array(_message(RANDOM_RGB, 'rgb8'))
        np.testing.assert_array_equal(reloaded.to_model_order(view, info, 'RGB'), RANDOM_RGB)
        bgr_view, bgr_info = reloaded.image_to_array(_message(RANDOM_RGB, 'bgr8'))
        with pytest.raises(DlaInferError, match=r'converting bgr8 images needs the Python '
                                                r"module 'cv2'.*opencv-python-headless"):
            reloaded.to_model_order(bgr_view, bgr_info, 'RGB')
    finally:
        monkeypatch.undo()
        importlib.reload(ic)
