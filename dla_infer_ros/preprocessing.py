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
Image array -> model input tensor, following the model's contract.

One :class:`Preprocessor` per model: it owns the input tensor (batch slots
included) and every intermediate buffer, made once; :meth:`Preprocessor.process`
writes one image into one batch slot without allocating.

Per frame, the image (its crop only) is resized once into a small buffer, which
is split into planes in the model's channel order (so the RGB/BGR swap costs
nothing); each plane is then scaled and offset straight into its channel of the
tensor.
"""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import InputContract

INTERPOLATIONS = ('nearest', 'linear', 'cubic', 'area')
#: Channel orders of the images :meth:`Preprocessor.process` reads.
ORDERS = ('RGB', 'BGR', 'GRAY')

#: Rows and columns of an image region.
Window = Tuple[slice, slice]


def _cv2() -> Any:
    return require('cv2', 'image preprocessing')


def resize_roi(height: int, width: int, contract: InputContract) -> Tuple[slice, slice]:
    """
    Choose the part of a source image that is resized onto the model input.

    ``center_crop`` takes the centred region of the input's aspect ratio that
    the classic "resize to size/crop_fraction, then crop" recipe keeps; the
    other modes keep the whole image.

    :param height: source height in pixels.
    :param width: source width in pixels.
    :param contract: the model input contract.
    :return: row and column slices into the source image.
    """
    if contract.resize != 'center_crop':
        return slice(0, height), slice(0, width)
    scale = max(contract.width / width, contract.height / height) / contract.crop_fraction
    roi_h = max(1, min(height, int(round(contract.height / scale))))
    roi_w = max(1, min(width, int(round(contract.width / scale))))
    top = (height - roi_h) // 2
    left = (width - roi_w) // 2
    return slice(top, top + roi_h), slice(left, left + roi_w)


def letterbox_size(height: int, width: int, contract: InputContract) -> Tuple[int, int]:
    """:return: (height, width) of the image inside the letterbox, aspect ratio kept."""
    scale = min(contract.width / width, contract.height / height)
    return (max(1, min(contract.height, int(round(height * scale)))),
            max(1, min(contract.width, int(round(width * scale)))))


def geometry(height: int, width: int, contract: InputContract) -> Tuple[Window, Window]:
    """
    Where a source image goes in the model input.

    :return: (rows, columns) of the source that are resized, and (rows, columns)
        of the input they are resized onto (all of it, but for a letterbox).
    """
    if contract.resize != 'letterbox':
        return (resize_roi(height, width, contract),
                (slice(0, contract.height), slice(0, contract.width)))
    inner_h, inner_w = letterbox_size(height, width, contract)
    top, left = (contract.height - inner_h) // 2, (contract.width - inner_w) // 2
    return ((slice(0, height), slice(0, width)),
            (slice(top, top + inner_h), slice(left, left + inner_w)))


class Preprocessor:
    """Writes images into a preallocated model input tensor."""

    def __init__(self, contract: InputContract, batch_size: int = 1) -> None:
        """
        Allocate the input tensor and the intermediate buffers once.

        :param contract: the model input contract.
        :param batch_size: number of image slots in the tensor.
        :raises DlaInferError: for an unsupported contract.
        """
        if batch_size < 1:
            raise DlaInferError(f'batch_size={batch_size} requested; must be >= 1')
        if contract.interpolation not in INTERPOLATIONS:
            raise DlaInferError(f'interpolation={contract.interpolation!r}; expected one of '
                                + ', '.join(INTERPOLATIONS))
        self.contract = contract
        self.batch_size = batch_size
        c, h, w = contract.channels, contract.height, contract.width
        shape = (batch_size, c, h, w) if contract.layout == 'NCHW' else (batch_size, h, w, c)
        self.tensor = np.zeros(shape, dtype=np.dtype(contract.dtype))
        self._own_tensor = self.tensor
        # Colour images resize into _resized and are split into _planes, in the model's
        # channel order (or, for a gray model, converted into _gray); gray images resize
        # into _gray, which then feeds every channel.
        self._resized = np.zeros((h, w, 3), dtype=np.uint8)
        self._gray = np.zeros((h, w), dtype=np.uint8)
        self._planes = np.zeros((3, h, w), dtype=np.uint8)
        self._split_into = self._plane_order()
        # cv2 writes only into contiguous arrays: a letterbox window is resized here first.
        self._scratch = np.zeros(h * w * 3, dtype=np.uint8)
        # Written straight into the tensor: float32 planes. Everything else is staged in
        # buffers of its own: FP16 is computed in float32 and then converted, and three
        # NHWC channels are interleaved by cv2.merge.
        self._direct = self.tensor.dtype == np.float32 and (contract.layout == 'NCHW' or c == 1)
        self._interleave = contract.layout == 'NHWC' and c == 3
        staged = self.tensor.dtype.kind == 'f' and not self._direct
        self._work = np.zeros((c, h, w) if staged else (0, 0, 0), np.float32)
        self._interleaved = np.zeros((h, w, c) if self._interleave else (0, 0, 0),
                                     np.uint8 if self.tensor.dtype == np.uint8 else np.float32)
        self._half_bits = np.zeros(c * h * w if self.tensor.dtype == np.float16 else 0, np.int16)
        std = np.asarray(contract.std, dtype=np.float32).reshape(c, 1, 1)
        self._gain = (np.float32(contract.scale) / std).astype(np.float32)
        self._offset = (-np.asarray(contract.mean, dtype=np.float32).reshape(c, 1, 1)
                        / std).astype(np.float32)
        # Work that would change nothing is skipped.
        self._scales = bool((self._gain != 1).any())
        self._offsets = bool((self._offset != 0).any())
        # Where the resize reads and writes, for the last source size; a letterbox window
        # that moves leaves stale pixels outside it, so the buffers are cleared then.
        full = (slice(0, h), slice(0, w))
        self._geometry_for: Tuple[int, ...] = (0, 0)
        self._geometry: Tuple[Window, Window] = (full, full)
        self._window: Window = full
        self._cv: Any = None
        self._interpolation = 0
        self._to_gray: Dict[str, int] = {}
        self._to_half: Any = None

    def _plane_order(self) -> Dict[str, List[np.ndarray]]:
        """:return: per colour order of an image, the planes its channels split into."""
        planes = list(self._planes)
        if self.contract.channel_order == 'BGR':
            return {'BGR': planes, 'RGB': planes[::-1]}
        return {'RGB': planes, 'BGR': planes[::-1]}

    def write_into(self, tensor: Optional[np.ndarray]) -> None:
        """
        Make ``tensor`` the output, e.g. a backend's pinned input buffer.

        :param tensor: array of exactly the shape and dtype of :attr:`tensor`, or
            None to go back to the preprocessor's own buffer.
        :raises DlaInferError: when it does not fit.
        """
        if tensor is None:
            self.tensor = self._own_tensor
            return
        if tensor.shape != self.tensor.shape or tensor.dtype != self.tensor.dtype:
            raise DlaInferError(f'buffer {tensor.dtype.name}{list(tensor.shape)} cannot hold the '
                                f'input {self.tensor.dtype.name}{list(self.tensor.shape)}')
        if not tensor.flags.writeable:
            raise DlaInferError('the buffer to preprocess into is read-only')
        self.tensor = tensor

    def process(self, image: np.ndarray, order: str, slot: int = 0) -> None:
        """
        Preprocess one image into batch slot ``slot`` of :attr:`tensor`.

        :param image: uint8 image, H×W×3 (``order`` RGB or BGR) or H×W / H×W×1 (GRAY).
        :param order: channel order of ``image``: ``RGB``, ``BGR`` or ``GRAY``.
        :param slot: batch index to write.
        :raises DlaInferError: for a wrong image shape, dtype, order or slot.
        """
        if not 0 <= slot < self.batch_size:
            raise DlaInferError(f'slot={slot} requested; the batch has {self.batch_size} slots')
        image = self._checked_image(image, order)
        cv2 = self._opencv()
        if image.ndim == 2:
            self._resize(cv2, image, self._gray)
            source = self._gray[None]
        elif self.contract.channel_order == 'GRAY':
            self._resize(cv2, image, self._resized)
            cv2.cvtColor(self._resized, self._to_gray[order], dst=self._gray)
            source = self._gray[None]
        else:
            self._resize(cv2, image, self._resized)
            # The swap to the model's channel order is which plane each channel goes to.
            cv2.split(self._resized, self._split_into[order])
            source = self._planes
        self._write(source, self.tensor[slot])

    def _opencv(self) -> Any:
        """:return: the cv2 module, imported (and its constants looked up) on first use."""
        if self._cv is None:
            cv2 = _cv2()
            self._interpolation = {'nearest': cv2.INTER_NEAREST, 'linear': cv2.INTER_LINEAR,
                                   'cubic': cv2.INTER_CUBIC,
                                   'area': cv2.INTER_AREA}[self.contract.interpolation]
            self._to_gray = {'RGB': cv2.COLOR_RGB2GRAY, 'BGR': cv2.COLOR_BGR2GRAY}
            # float32 -> float16 rounded as numpy's cast (to nearest even) but vectorised;
            # OpenCV 4 has it, later versions may not.
            self._to_half = getattr(cv2, 'convertFp16', None)
            self._cv = cv2
        return self._cv

    def _checked_image(self, image: np.ndarray, order: str) -> np.ndarray:
        if image.dtype != np.uint8:
            raise DlaInferError(f'preprocessing needs uint8 pixels, got {image.dtype.name}')
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        expected_ndim = 2 if order == 'GRAY' else 3
        if order not in ORDERS or image.ndim != expected_ndim or (
                image.ndim == 3 and image.shape[2] != 3):
            raise DlaInferError(f'image of shape {image.shape} does not fit channel order '
                                f'{order!r} (RGB/BGR need H×W×3, GRAY needs H×W)')
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise DlaInferError(f'image of shape {image.shape} is empty')
        return image

    def _resize(self, cv2: Any, image: np.ndarray, target: np.ndarray) -> None:
        """Resize ``image`` (its crop, or into the letterbox window) into ``target``."""
        if image.shape[:2] != self._geometry_for:
            self._geometry = geometry(image.shape[0], image.shape[1], self.contract)
            self._geometry_for = image.shape[:2]
        (rows, cols), window = self._geometry
        if window != self._window:
            self._resized.fill(0)
            self._gray.fill(0)
            self._window = window
        image = image[rows, cols]
        target = target[window]
        if target.flags.c_contiguous:
            cv2.resize(image, (target.shape[1], target.shape[0]), dst=target,
                       interpolation=self._interpolation)
            return
        # A letterbox window is not contiguous: resize into a contiguous view of the
        # scratch buffer, then copy the window.
        scratch = self._scratch[:target.size].reshape(target.shape)
        cv2.resize(image, (target.shape[1], target.shape[0]), dst=scratch,
                   interpolation=self._interpolation)
        target[...] = scratch

    def _write(self, source: np.ndarray, out: np.ndarray) -> None:
        """
        Normalise the resized planes into one batch slot of the tensor.

        :param source: uint8 C×H×W planes in the model's channel order, or 1×H×W
            for every channel.
        :param out: the batch slot, in the tensor's layout and type.
        """
        planes = out if self.contract.layout == 'NCHW' else out.transpose(2, 0, 1)
        if self._direct:
            self._normalize(source, planes)
        elif out.dtype == np.uint8 and not self._interleave:
            np.copyto(planes, source)
        elif out.dtype == np.uint8:
            self._store(np.broadcast_to(source, self._planes.shape), out)
        else:
            self._normalize(source, self._work)
            self._store(self._work, out)

    def _store(self, planes: np.ndarray, out: np.ndarray) -> None:
        """Copy C×H×W ``planes`` into ``out``, interleaved and converted as ``out`` needs."""
        if self._interleave:
            planes = self._cv.merge(list(planes), dst=self._interleaved)
        else:
            out = out if self.contract.layout == 'NCHW' else out.transpose(2, 0, 1)
        if out.dtype == np.float16 and self._to_half is not None:
            bits = self._half_bits.reshape(-1, planes.shape[-1])
            bits = self._to_half(planes.reshape(bits.shape), bits)  # float16 bits as int16
            planes = bits.view(np.float16).reshape(planes.shape)
        np.copyto(out, planes, casting='same_kind')

    def _normalize(self, source: np.ndarray, dest: np.ndarray) -> None:
        """Write ``source * gain + offset``, per channel, into float32 ``dest``."""
        # Multiply, then add, each rounded to float32: the values this package has always
        # produced (a fused multiply-add would differ in the last bit).
        if self._scales:
            np.multiply(source, self._gain, out=dest, dtype=np.float32)
        else:
            np.copyto(dest, source)
        if self._offsets:
            np.add(dest, self._offset, out=dest)

    def describe(self) -> Dict[str, object]:
        """:return: the preprocessing settings, for logs and diagnostics."""
        c = self.contract
        return {'size': f'{c.width}x{c.height}', 'resize': c.resize, 'order': c.channel_order,
                'layout': c.layout, 'dtype': c.dtype, 'batch': self.batch_size}
