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
"""

from typing import Any, Dict, Optional, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import InputContract

INTERPOLATIONS = ('nearest', 'linear', 'cubic', 'area')


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
        self._resized = np.zeros((h, w, 3), dtype=np.uint8)
        self._ordered = np.zeros((h, w, c), dtype=np.uint8)
        self._work = np.zeros((h, w), dtype=np.float32)
        std = np.asarray(contract.std, dtype=np.float32)
        self._gain = (np.float32(contract.scale) / std).astype(np.float32)
        self._offset = (-np.asarray(contract.mean, dtype=np.float32) / std).astype(np.float32)
        self._letterbox_for: Tuple[int, int] = (-1, -1)

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
        self._resize(image)
        self._reorder(order)
        self._normalize_into(slot)

    def _checked_image(self, image: np.ndarray, order: str) -> np.ndarray:
        if image.dtype != np.uint8:
            raise DlaInferError(f'preprocessing needs uint8 pixels, got {image.dtype.name}')
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        expected_ndim = 2 if order == 'GRAY' else 3
        if order not in ('RGB', 'BGR', 'GRAY') or image.ndim != expected_ndim or (
                image.ndim == 3 and image.shape[2] != 3):
            raise DlaInferError(f'image of shape {image.shape} does not fit channel order '
                                f'{order!r} (RGB/BGR need H×W×3, GRAY needs H×W)')
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise DlaInferError(f'image of shape {image.shape} is empty')
        return image

    def _resize(self, image: np.ndarray) -> None:
        cv2 = _cv2()
        contract = self.contract
        flags = {'nearest': cv2.INTER_NEAREST, 'linear': cv2.INTER_LINEAR,
                 'cubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA}[contract.interpolation]
        channels = 1 if image.ndim == 2 else 3
        target = self._resized[:, :, 0] if channels == 1 else self._resized
        height, width = image.shape[:2]
        if contract.resize == 'letterbox':
            inner_h, inner_w = letterbox_size(height, width, contract)
            if self._letterbox_for != (inner_h, inner_w):
                self._resized.fill(0)
                self._letterbox_for = (inner_h, inner_w)
            top = (contract.height - inner_h) // 2
            left = (contract.width - inner_w) // 2
            target = target[top:top + inner_h, left:left + inner_w]
        else:
            rows, cols = resize_roi(height, width, contract)
            image = image[rows, cols]
        # dst must be a contiguous buffer for cv2; the letterbox window is not,
        # so it is resized into a scratch view only when needed.
        if target.flags.c_contiguous:
            cv2.resize(image, (target.shape[1], target.shape[0]), dst=target,
                       interpolation=flags)
        else:
            target[...] = cv2.resize(image, (target.shape[1], target.shape[0]),
                                     interpolation=flags).reshape(target.shape)

    def _reorder(self, order: str) -> None:
        wanted = self.contract.channel_order
        source = self._resized
        if wanted == 'GRAY':
            if order == 'GRAY':
                self._ordered[:, :, 0] = source[:, :, 0]
            else:
                code = 'COLOR_RGB2GRAY' if order == 'RGB' else 'COLOR_BGR2GRAY'
                _cv2().cvtColor(source, getattr(_cv2(), code), dst=self._ordered[:, :, 0])
        elif order == 'GRAY':
            self._ordered[...] = source[:, :, :1]
        elif order == wanted:
            self._ordered[...] = source
        else:
            self._ordered[...] = source[:, :, ::-1]

    def _normalize_into(self, slot: int) -> None:
        out = self.tensor[slot]
        channels = self.contract.channels
        if out.dtype == np.uint8:
            if self.contract.layout == 'NHWC':
                out[...] = self._ordered
            else:
                out[...] = self._ordered.transpose(2, 0, 1)
            return
        for c in range(channels):
            np.multiply(self._ordered[:, :, c], self._gain[c], out=self._work)
            self._work += self._offset[c]
            if self.contract.layout == 'NCHW':
                out[c] = self._work
            else:
                out[:, :, c] = self._work

    def describe(self) -> Dict[str, object]:
        """:return: the preprocessing settings, for logs and diagnostics."""
        c = self.contract
        return {'size': f'{c.width}x{c.height}', 'resize': c.resize, 'order': c.channel_order,
                'layout': c.layout, 'dtype': c.dtype, 'batch': self.batch_size}
