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
Image messages to numpy arrays and back, without ROS.

The functions take any object with the fields of a ``sensor_msgs/Image``
(``height``, ``width``, ``encoding``, ``is_bigendian``, ``step``, ``data``) or
of a ``sensor_msgs/CompressedImage`` (``format``, ``data``), so that the ROS
node only hands its message over and tests use a plain namespace.

Data path per frame:

1. :func:`image_to_array` checks the fields and returns a *view* of ``data``
   shaped height x width x channels; ``step`` padding is skipped through the
   row stride and 16-bit data keeps the message's byte order in the dtype.
   Nothing is copied.
2. :func:`to_model_order` converts that view into the RGB, BGR or GRAY order a
   model wants, writing into a caller-owned uint8 buffer reused frame after
   frame (OpenCV ``cvtColor`` with ``dst=``, or one ``np.copyto``).

OpenCV is imported only by the functions that need it.
"""

import array
import contextlib
import dataclasses
import sys
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple, TypedDict, Union

import numpy as np

from dla_infer_ros import _optional
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.native_messages import decoder_messages

#: Largest accepted height or width, in pixels.
MAX_SIDE = 16384
#: Largest accepted ``step * height`` (and compressed payload), in bytes.
MAX_BYTES = 512 * 1024 * 1024
#: Largest accepted height x width unless the caller sets its own (lower) limit.
MAX_PIXELS = MAX_SIDE * MAX_SIDE
#: Pixel orders :func:`to_model_order` produces.
MODEL_ORDERS = ('RGB', 'BGR', 'GRAY')


@dataclasses.dataclass(frozen=True)
class EncodingInfo:
    """
    How one ROS image encoding lays out its pixels.

    ``channels`` counts the channels of the raw view, not of the colour image:
    2 for the packed YUV 4:2:2 encodings, 1 for the Bayer mosaics.
    ``layout`` names the pixel arrangement :func:`to_model_order` converts from.
    """

    name: str
    channels: int
    itemsize: int
    layout: str

    @property
    def bytes_per_pixel(self) -> int:
        """:return: bytes one pixel takes in a row of ``data``."""
        return self.channels * self.itemsize


def _info(name: str, channels: int, itemsize: int, layout: str) -> Tuple[str, EncodingInfo]:
    return name, EncodingInfo(name, channels, itemsize, layout)


#: Every supported encoding, by its sensor_msgs/image_encodings name. The generic
#: OpenCV-type encodings carry no colour order; like OpenCV, 8UC3 and 8UC4 are
#: read as BGR and BGRA.
ENCODINGS: Dict[str, EncodingInfo] = dict([
    _info('rgb8', 3, 1, 'rgb'),
    _info('bgr8', 3, 1, 'bgr'),
    _info('rgba8', 4, 1, 'rgba'),
    _info('bgra8', 4, 1, 'bgra'),
    _info('mono8', 1, 1, 'gray'),
    _info('mono16', 1, 2, 'gray16'),
    _info('8UC1', 1, 1, 'gray'),
    _info('8UC3', 3, 1, 'bgr'),
    _info('8UC4', 4, 1, 'bgra'),
    _info('16UC1', 1, 2, 'gray16'),
    # ROS's yuv422 is UYVY (U0 Y0 V0 Y1); yuv422_yuy2 is YUYV (Y0 U0 Y1 V0).
    _info('yuv422', 2, 1, 'uyvy'),
    _info('yuv422_yuy2', 2, 1, 'yuy2'),
    _info('bayer_rggb8', 1, 1, 'bayer_rggb'),
    _info('bayer_bggr8', 1, 1, 'bayer_bggr'),
    _info('bayer_gbrg8', 1, 1, 'bayer_gbrg'),
    _info('bayer_grbg8', 1, 1, 'bayer_grbg'),
])

#: Markers in :data:`_CONVERSIONS` for the conversions done with numpy.
_COPY = 'copy'
_HIGH_BYTE = 'high byte'

#: How each layout becomes each model order: an OpenCV colour conversion code
#: (by name, so that this module imports without OpenCV) or a numpy copy.
#: The YUV and Bayer codes are those of cv_bridge's getConversionCodes()
#: (ros-perception/vision_opencv, cv_bridge/src/cv_bridge.cpp): OpenCV names a
#: Bayer pattern after the 2x2 block starting at the second row and column, so
#: ROS bayer_rggb8 is OpenCV's BayerBG, bggr is BayerRG, gbrg is BayerGR and
#: grbg is BayerGB. 16-bit gray becomes 8-bit by keeping the high byte (>> 8).
_CONVERSIONS: Dict[str, Dict[str, str]] = {
    'rgb': {'RGB': _COPY, 'BGR': 'COLOR_RGB2BGR', 'GRAY': 'COLOR_RGB2GRAY'},
    'bgr': {'RGB': 'COLOR_BGR2RGB', 'BGR': _COPY, 'GRAY': 'COLOR_BGR2GRAY'},
    'rgba': {'RGB': 'COLOR_RGBA2RGB', 'BGR': 'COLOR_RGBA2BGR', 'GRAY': 'COLOR_RGBA2GRAY'},
    'bgra': {'RGB': 'COLOR_BGRA2RGB', 'BGR': 'COLOR_BGRA2BGR', 'GRAY': 'COLOR_BGRA2GRAY'},
    'gray': {'RGB': 'COLOR_GRAY2RGB', 'BGR': 'COLOR_GRAY2BGR', 'GRAY': _COPY},
    'gray16': {'RGB': _HIGH_BYTE, 'BGR': _HIGH_BYTE, 'GRAY': _HIGH_BYTE},
    'uyvy': {'RGB': 'COLOR_YUV2RGB_UYVY', 'BGR': 'COLOR_YUV2BGR_UYVY',
             'GRAY': 'COLOR_YUV2GRAY_UYVY'},
    'yuy2': {'RGB': 'COLOR_YUV2RGB_YUY2', 'BGR': 'COLOR_YUV2BGR_YUY2',
             'GRAY': 'COLOR_YUV2GRAY_YUY2'},
    'bayer_rggb': {'RGB': 'COLOR_BayerBG2RGB', 'BGR': 'COLOR_BayerBG2BGR',
                   'GRAY': 'COLOR_BayerBG2GRAY'},
    'bayer_bggr': {'RGB': 'COLOR_BayerRG2RGB', 'BGR': 'COLOR_BayerRG2BGR',
                   'GRAY': 'COLOR_BayerRG2GRAY'},
    'bayer_gbrg': {'RGB': 'COLOR_BayerGR2RGB', 'BGR': 'COLOR_BayerGR2BGR',
                   'GRAY': 'COLOR_BayerGR2GRAY'},
    'bayer_grbg': {'RGB': 'COLOR_BayerGB2RGB', 'BGR': 'COLOR_BayerGB2BGR',
                   'GRAY': 'COLOR_BayerGB2GRAY'},
}

#: Layouts whose luma OpenCV returns in video range (16..235) for GRAY.
_YUV_LAYOUTS = ('uyvy', 'yuy2')
#: Video-range luma to full range, so that GRAY from YUV matches GRAY from RGB:
#: (Y - 16) * 255 / 219, rounded and clipped.
_VIDEO_TO_FULL_RANGE = np.clip(np.round((np.arange(256) - 16) * 255.0 / 219.0),
                               0, 255).astype(np.uint8)

#: Codecs a CompressedImage ``format`` may name ('' when it names none).
#: Codec names a CompressedImage ``format`` may give: those whose size is read from the
#: header before decoding ('' names none: the data says which).
COMPRESSED_CODECS = ('', 'jpeg', 'jpg', 'png')
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
#: How much of an image file is read to find its size (a JPEG's metadata comes first)
_HEADER_BYTES = 1024 * 1024
#: PNG colour type -> channels (a palette decodes to colour with alpha at most)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}
#: JPEG start-of-frame markers (all but DHT C4, JPG C8 and DAC CC)
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageFields(TypedDict):
    """The fields of a sensor_msgs/Image, less the header."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: 'array.array[int]'


def encoding_info(encoding: str) -> EncodingInfo:
    """
    Look up an encoding by its ROS name.

    :param encoding: e.g. ``'rgb8'``, ``'yuv422'``, ``'bayer_rggb8'``.
    :return: its layout.
    :raises DlaInferError: naming the supported encodings when it is unknown.
    """
    info = ENCODINGS.get(encoding)
    if info is None:
        raise DlaInferError(f'image encoding {encoding!r} is not supported; supported: '
                            f'{", ".join(ENCODINGS)}')
    return info


def image_to_array(msg: Any, max_pixels: int = MAX_PIXELS) -> Tuple[np.ndarray, EncodingInfo]:
    """
    View the pixels of a sensor_msgs/Image as a numpy array, without copying.

    :param msg: anything with ``height``, ``width``, ``encoding``,
        ``is_bigendian``, ``step`` and ``data``. ``data`` may be any object with
        the buffer protocol (rclpy's ``array.array``, bytes, bytearray,
        memoryview, a numpy array); a list of ints works too, but is copied.
    :param max_pixels: larger images (height x width) are refused.
    :return: a height x width x channels view (uint8, or uint16 in the byte
        order ``is_bigendian`` gives, which may not be the native one) and the
        encoding's layout. The view is read-only when ``data`` is, and keeps
        ``data`` alive.
    :raises DlaInferError: for an unknown encoding, a zero or absurd size, a step
        smaller than a row, data shorter than ``step * height``, empty data or
        an odd width for the YUV 4:2:2 encodings.
    """
    info = encoding_info(str(msg.encoding))
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    _check_geometry(info, height, width, step, max_pixels)
    buffer = _byte_buffer(msg.data)
    _check_data_size(info, buffer.size, height, step)
    dtype: np.dtype = np.dtype(np.uint8)
    if info.itemsize == 2:
        dtype = np.dtype('>u2' if msg.is_bigendian else '<u2')
    view = np.ndarray(shape=(height, width, info.channels), dtype=dtype, buffer=buffer,
                      strides=(step, info.bytes_per_pixel, info.itemsize))
    return view, info


def to_model_order(view: np.ndarray, encoding: Union[str, EncodingInfo], order: str = 'RGB',
                   out: Optional[np.ndarray] = None) -> np.ndarray:
    """
    Convert a raw pixel view into the channel order a model reads.

    :param view: height x width x channels pixels as :func:`image_to_array` or
        :func:`compressed_to_array` return them (height x width is accepted for
        one-channel encodings).
    :param encoding: the ROS encoding of ``view``, or its :class:`EncodingInfo`.
    :param order: ``'RGB'``, ``'BGR'`` or ``'GRAY'``.
    :param out: uint8 C-contiguous writeable buffer of height x width x 3 (x 1 for
        GRAY), reused across frames. A new one is allocated only when ``out`` is
        None or does not fit.
    :return: the buffer written: ``out`` whenever it fits. mono16 and 16UC1
        become 8-bit by keeping the high byte (value >> 8). GRAY from the YUV
        encodings is luma stretched from video range (16..235) to 0..255, so it
        matches GRAY from RGB (cv_bridge returns the raw 16..235 luma).
    :raises DlaInferError: for an unknown encoding or order, a view that does
        not fit the encoding, or an OpenCV failure.
    """
    info = encoding if isinstance(encoding, EncodingInfo) else encoding_info(encoding)
    if order not in MODEL_ORDERS:
        raise DlaInferError(f'model order {order!r} requested; supported: '
                            f'{", ".join(MODEL_ORDERS)}')
    pixels = _checked_pixels(view, info)
    height, width = pixels.shape[:2]
    target = _output_buffer(out, height, width, 1 if order == 'GRAY' else 3)
    operation = _CONVERSIONS[info.layout][order]
    if operation == _COPY:
        np.copyto(target, pixels)
    elif operation == _HIGH_BYTE:
        _copy_high_byte(pixels, target)
    else:
        _cvt_color(pixels, operation, target, info)
        if order == 'GRAY' and info.layout in _YUV_LAYOUTS:
            _expand_video_range(target)
    return target


def image_to_model_order(msg: Any, order: str = 'RGB',
                         out: Optional[np.ndarray] = None) -> np.ndarray:
    """
    Convert a sensor_msgs/Image straight into a model-order buffer.

    :param msg: as for :func:`image_to_array`.
    :param order: as for :func:`to_model_order`.
    :param out: as for :func:`to_model_order`.
    :return: the buffer written, ``out`` whenever it fits.
    :raises DlaInferError: as :func:`image_to_array` and :func:`to_model_order`.
    """
    view, info = image_to_array(msg)
    return to_model_order(view, info, order, out)


def compressed_to_array(msg: Any, max_pixels: int = MAX_PIXELS,
                        messages: Optional[List[str]] = None
                        ) -> Tuple[np.ndarray, EncodingInfo]:
    """
    Decode a sensor_msgs/CompressedImage with OpenCV.

    ``format`` is either a codec name (``'jpeg'``, ``'png'``, as cv_bridge
    writes it) or image_transport's ``'<encoding>; <codec> compressed
    <decoded encoding>'`` (``'rgb8; jpeg compressed bgr8'``). OpenCV returns
    colour as BGR unless the decoded encoding says rgb8/rgba8.

    :param msg: anything with ``format`` and ``data``.
    :param max_pixels: larger images (height x width, read from the PNG or JPEG
        header) are refused before decoding.
    :param messages: where given, what libjpeg/libpng print about damaged data
        (:func:`dla_infer_ros.native_messages.decoder_messages`) is appended here
        instead of going to stderr; the image is still returned when it decodes.
    :return: a height x width x channels array (freshly decoded, uint8, or uint16
        for 16-bit gray PNG) and its encoding: mono8, mono16, bgr8, bgra8, rgb8
        or rgba8.
    :raises DlaInferError: for empty, oversized or undecodable data, a codec
        OpenCV does not read, compressedDepth data, or a decoded kind this
        module does not handle (e.g. 16-bit colour).
    """
    image_format = str(msg.format)
    decoded_encoding = _parse_compressed_format(image_format)
    buffer = _byte_buffer(msg.data)
    if buffer.size == 0:
        raise DlaInferError(f'compressed image (format {image_format!r}) has empty data')
    if buffer.size > MAX_BYTES:
        raise DlaInferError(f'compressed image has {buffer.size} bytes; the limit is '
                            f'{MAX_BYTES} bytes')
    _check_encoded_size(buffer, required=True, max_pixels=max_pixels)  # KBs can decode to GBs
    cv2 = _cv2('decoding a CompressedImage')
    caught: List[str] = []
    try:
        with (decoder_messages() if messages is not None
              else contextlib.nullcontext(caught)) as caught:
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        raise DlaInferError(f'OpenCV failed to decode {buffer.size} bytes of compressed '
                            f'image data (format {image_format!r}): {e}') from e
    if image is None:
        said = f' (decoder: {"; ".join(caught)})' if caught else ''
        raise DlaInferError(f'cannot decode {buffer.size} bytes of compressed image data '
                            f'(format {image_format!r}): not an image OpenCV can read{said}')
    if messages is not None:
        messages.extend(caught)
    info = encoding_info(_decoded_kind(image, decoded_encoding))
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    _check_geometry(info, image.shape[0], image.shape[1], image.strides[0], max_pixels)
    return image, info


def array_to_image_fields(pixels: np.ndarray, encoding: str) -> ImageFields:
    """
    Build the fields of a sensor_msgs/Image from an array.

    ``data`` is an ``array.array('B')`` filled with one copy; that is the type
    rclpy stores, so ``msg.data = fields['data']`` costs no further conversion.

    :param pixels: height x width x channels (or height x width for one
        channel) array whose dtype fits ``encoding`` (uint8, or uint16 in
        either byte order for mono16 and 16UC1).
    :param encoding: the ROS encoding to label the data with.
    :return: height, width, encoding, is_bigendian, step and data.
    :raises DlaInferError: for an unknown encoding or an array that does not fit it.
    """
    info = encoding_info(encoding)
    _checked_pixels(pixels, info)
    height, width = pixels.shape[:2]
    step = width * info.bytes_per_pixel
    _check_geometry(info, height, width, step)
    contiguous = np.ascontiguousarray(pixels)
    data = array.array('B')
    data.frombytes(contiguous.reshape(-1).view(np.uint8).data)
    return ImageFields(height=height, width=width, encoding=encoding,
                       is_bigendian=int(info.itemsize > 1 and _is_big_endian(pixels.dtype)),
                       step=step, data=data)


def _check_geometry(info: EncodingInfo, height: int, width: int, step: int,
                    max_pixels: int = MAX_PIXELS) -> None:
    """Reject sizes no camera sends, and rows shorter than their pixels."""
    if height <= 0 or width <= 0:
        raise DlaInferError(f'image has zero size: height={height}, width={width} '
                            f'(encoding {info.name})')
    if height > MAX_SIDE or width > MAX_SIDE:
        raise DlaInferError(f'image size {width}x{height} exceeds the limit of {MAX_SIDE} '
                            'pixels a side')
    if height * width > max_pixels:
        raise DlaInferError(f'image size {width}x{height} = {width * height} pixels exceeds '
                            f'the limit of {max_pixels} pixels')
    row_bytes = width * info.bytes_per_pixel
    if step < row_bytes:
        raise DlaInferError(f'step={step} is smaller than width * bytes per pixel = '
                            f'{width} * {info.bytes_per_pixel} = {row_bytes} '
                            f'for encoding {info.name}')
    if step * height > MAX_BYTES:
        raise DlaInferError(f'image of step * height = {step} * {height} = {step * height} '
                            f'bytes exceeds the limit of {MAX_BYTES} bytes')
    if info.layout in ('uyvy', 'yuy2') and width % 2:
        raise DlaInferError(f'width={width} is odd; encoding {info.name} packs pixels in '
                            'pairs and needs an even width')


def _check_data_size(info: EncodingInfo, size: int, height: int, step: int) -> None:
    """Reject data that cannot hold ``height`` rows of ``step`` bytes."""
    if size == 0:
        raise DlaInferError(f'image data is empty; {info.name} {height} rows of step {step} '
                            f'need {height * step} bytes')
    if size < height * step:
        raise DlaInferError(f'image data has {size} bytes, fewer than step * height = '
                            f'{step} * {height} = {step * height} (encoding {info.name})')


def _byte_buffer(data: Any) -> np.ndarray:
    """View ``data`` as flat uint8, copying only what has no buffer protocol."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        pass  # not a contiguous buffer (a list, a strided array): copy it below
    try:
        return np.ascontiguousarray(np.asarray(data, dtype=np.uint8)).reshape(-1)
    except (TypeError, ValueError, OverflowError) as e:
        raise DlaInferError(f'image data of type {type(data).__name__} is not a sequence '
                            f'of bytes: {e}') from e


def _checked_pixels(view: np.ndarray, info: EncodingInfo) -> np.ndarray:
    """Return ``view`` as height x width x channels after checking it fits ``info``."""
    if view.ndim == 2 and info.channels == 1:
        view = view[:, :, np.newaxis]
    if view.ndim != 3 or view.shape[2] != info.channels:
        raise DlaInferError(f'array of shape {view.shape} does not fit encoding {info.name}, '
                            f'which has {info.channels} channel(s): expected height x width'
                            f' x {info.channels}')
    if view.dtype.kind != 'u' or view.dtype.itemsize != info.itemsize:
        raise DlaInferError(f'array of dtype {view.dtype} does not fit encoding {info.name}, '
                            f'which has {8 * info.itemsize}-bit unsigned channels')
    return view


def _output_buffer(out: Optional[np.ndarray], height: int, width: int,
                   channels: int) -> np.ndarray:
    """Return ``out`` when it fits, else a new uint8 height x width x channels array."""
    shape = (height, width, channels)
    if (out is not None and out.shape == shape and out.dtype == np.uint8
            and out.flags.c_contiguous and out.flags.writeable):
        return out
    return np.empty(shape, dtype=np.uint8)


def _copy_high_byte(pixels: np.ndarray, target: np.ndarray) -> None:
    """Write ``pixels >> 8`` (16-bit, any byte order) into ``target``, broadcasting gray."""
    try:
        # The high byte of each sample, read in place: no arithmetic, no temporary.
        raw: Optional[np.ndarray] = pixels.view(np.uint8)
    except ValueError:
        raw = None
    if raw is None or raw.shape != pixels.shape[:-1] + (2 * pixels.shape[-1],):
        # A layout whose last axis is not contiguous (numpy before 1.23, as in Ubuntu
        # 22.04, splits the first axis of a Fortran-ordered array instead of raising):
        # let the ufunc do it.
        np.right_shift(pixels, 8, out=target, casting='unsafe')
        return
    high = 0 if _is_big_endian(pixels.dtype) else 1
    np.copyto(target, raw[:, :, high::2])


def _cvt_color(pixels: np.ndarray, code_name: str, target: np.ndarray,
               info: EncodingInfo) -> None:
    """Run one OpenCV colour conversion into ``target``."""
    cv2 = _cv2(f'converting {info.name} images')
    try:
        written = cv2.cvtColor(pixels, getattr(cv2, code_name), dst=target)
    except cv2.error as e:
        raise DlaInferError(f'OpenCV {code_name} failed on a {pixels.shape} {pixels.dtype} '
                            f'{info.name} image: {e}') from e
    if written is not target:
        raise DlaInferError(f'OpenCV {code_name} wrote a new {written.shape} array instead '
                            f'of the {target.shape} output buffer')


def _expand_video_range(gray: np.ndarray) -> None:
    """Stretch video-range luma to 0..255 in place (cv_bridge leaves it at 16..235)."""
    cv2 = _cv2('converting YUV images to gray')
    written = cv2.LUT(gray, _VIDEO_TO_FULL_RANGE, dst=gray)
    if written is not gray:
        raise DlaInferError('OpenCV LUT wrote a new array instead of the gray output buffer')


def _parse_compressed_format(image_format: str) -> str:
    """
    Read a CompressedImage ``format``.

    :return: the decoded encoding it names ('' when it names none).
    :raises DlaInferError: for compressedDepth or a codec OpenCV does not read.
    """
    if 'compresseddepth' in image_format.lower():
        raise DlaInferError(f'compressed image format {image_format!r} is a compressedDepth '
                            'image (depth header before the PNG), which is not supported')
    # image_transport writes '<encoding>; <codec> compressed <decoded encoding>'.
    words = image_format.split(';')[-1].lower().split()
    codec = words[0] if words else ''
    if codec not in COMPRESSED_CODECS:
        raise DlaInferError(f'compressed image format {image_format!r} names codec {codec!r}; '
                            f'supported: {", ".join(c for c in COMPRESSED_CODECS if c)}')
    if len(words) >= 3 and words[1] == 'compressed':
        return words[2]
    return ''


def encoded_geometry(data: np.ndarray) -> Optional[Tuple[str, int, int, int]]:
    """
    Read the size of a PNG or JPEG image from its header, without decoding it.

    :param data: the compressed bytes (or their beginning), flat uint8.
    :return: codec (``png`` or ``jpeg``), height, width, and the decoded bytes per pixel
        at most; None for data that is neither.
    :raises DlaInferError: for a header cut short or malformed.
    """
    head = data[:32].tobytes()
    if head.startswith(_PNG_SIGNATURE):
        if len(head) < 26 or head[12:16] != b'IHDR':
            raise DlaInferError('PNG data has no complete IHDR header')
        width, height = int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')
        depth, colour = head[24], head[25]
        if colour not in _PNG_CHANNELS:
            raise DlaInferError(f'PNG data has colour type {colour}, which PNG does not define')
        return 'png', height, width, _PNG_CHANNELS[colour] * (2 if depth == 16 else 1)
    if head.startswith(b'\xff\xd8'):
        return ('jpeg',) + _jpeg_geometry(data)
    return None


def _jpeg_geometry(data: np.ndarray) -> Tuple[int, int, int]:
    """:return: height, width and components from the JPEG frame header (SOF)."""
    size, at = data.size, 2
    while at + 4 <= size:
        if data[at] != 0xFF:
            raise DlaInferError(f'JPEG data has no marker at byte {at}')
        marker = int(data[at + 1])
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or the scan: no frame header came first
            break
        length = (int(data[at + 2]) << 8) | int(data[at + 3])
        if marker in _JPEG_FRAME_MARKERS:
            if length < 8 or at + 10 > size:
                raise DlaInferError('JPEG frame header is cut short')
            height = (int(data[at + 5]) << 8) | int(data[at + 6])
            width = (int(data[at + 7]) << 8) | int(data[at + 8])
            if height == 0:
                raise DlaInferError('JPEG height 0 (set later by a DNL marker) is not supported')
            return height, width, int(data[at + 9])
        if length < 2:
            raise DlaInferError(f'JPEG segment at byte {at} has length {length}')
        at += 2 + length
    raise DlaInferError('JPEG data has no frame header before its image data')


def _check_encoded_size(data: np.ndarray, required: bool, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse a PNG or JPEG whose header exceeds the limits; other data too if ``required``."""
    geometry = encoded_geometry(data)
    if geometry is None:
        if required:
            raise DlaInferError('compressed image data is neither PNG nor JPEG (the codecs '
                                'whose size is checked before decoding)')
        return
    codec, height, width, pixel_bytes = geometry
    if height > MAX_SIDE or width > MAX_SIDE or height * width * pixel_bytes > MAX_BYTES:
        raise DlaInferError(f'{codec} image of {width}x{height} exceeds the limits '
                            f'({MAX_SIDE} pixels a side, {MAX_BYTES} bytes decoded); refused '
                            'before decoding')
    if height * width > max_pixels:
        raise DlaInferError(f'{codec} image of {width}x{height} = {width * height} pixels '
                            f'exceeds the limit of {max_pixels} pixels; refused before '
                            'decoding')


def read_image_file(path: str) -> Optional[np.ndarray]:
    """
    Read an image file as BGR uint8; a PNG or JPEG is checked against the limits first.

    :return: the image, or None when OpenCV cannot decode the file (a video, say).
    :raises DlaInferError: when the file cannot be read, or its header promises an image
        beyond the limits (a decompression bomb: a few KB that decode to gigabytes).
    """
    try:
        with open(path, 'rb') as f:
            head = np.frombuffer(f.read(_HEADER_BYTES), dtype=np.uint8)
    except OSError as e:
        raise DlaInferError(f'{path}: cannot read: {e.strerror}') from e
    try:
        _check_encoded_size(head, required=False)
    except DlaInferError as e:
        raise DlaInferError(f'{path}: {e}') from e
    cv2 = _cv2('reading image files')
    image: Optional[np.ndarray] = cv2.imread(path, cv2.IMREAD_COLOR)
    return image


def _decoded_kind(image: np.ndarray, decoded_encoding: str) -> str:
    """Name the encoding of an array cv2.imdecode returned."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    if image.dtype == np.uint16 and channels == 1:
        return 'mono16'
    if image.dtype == np.uint8:
        rgb = decoded_encoding.startswith('rgb')
        kinds = {1: 'mono8', 3: 'rgb8' if rgb else 'bgr8', 4: 'rgba8' if rgb else 'bgra8'}
        if channels in kinds:
            return kinds[channels]
    raise DlaInferError(f'decoded compressed image has dtype {image.dtype} and {channels} '
                        'channel(s); supported: 8-bit with 1, 3 or 4 channels, 16-bit gray')


def _is_big_endian(dtype: np.dtype) -> bool:
    return dtype.byteorder == '>' or (dtype.byteorder == '=' and sys.byteorder == 'big')


def _cv2(purpose: str) -> ModuleType:
    return _optional.require('cv2', purpose)
