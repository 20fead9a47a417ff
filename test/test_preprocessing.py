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

"""Resize modes, channel order, normalisation, layouts and batch slots."""

import dataclasses

import numpy as np
import pytest

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import InputContract
from dla_infer_ros.preprocessing import letterbox_size, Preprocessor, resize_roi

cv2 = pytest.importorskip('cv2', reason='opencv is not installed')

BASE = InputContract(height=4, width=4, resize='stretch', interpolation='nearest',
                     scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def test_center_crop_roi_matches_resize_then_crop_recipe() -> None:
    contract = InputContract(height=224, width=224, resize='center_crop', crop_fraction=0.875)
    rows, cols = resize_roi(480, 640, contract)
    # Resize the short side to 256, crop 224: the source keeps 480 * 224/256 = 420 pixels.
    assert (rows.stop - rows.start, cols.stop - cols.start) == (420, 420)
    assert (rows.start, cols.start) == (30, 110)


def test_letterbox_keeps_aspect_ratio_and_pads_with_zero() -> None:
    contract = dataclasses.replace(BASE, height=8, width=8, resize='letterbox')
    assert letterbox_size(2, 8, contract) == (2, 8)
    pre = Preprocessor(contract)
    image = np.full((2, 8, 3), 200, dtype=np.uint8)
    pre.process(image, 'RGB')
    assert (pre.tensor[0, :, 3:5, :] == 200).all()
    assert (pre.tensor[0, :, :3, :] == 0).all() and (pre.tensor[0, :, 5:, :] == 0).all()


def test_normalisation_and_channel_swap_nchw() -> None:
    contract = dataclasses.replace(BASE, scale=1 / 255, mean=(0.5, 0.25, 0.0),
                                   std=(0.5, 0.25, 1.0))
    pre = Preprocessor(contract)
    bgr = np.zeros((4, 4, 3), dtype=np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 255, 0, 51  # B=255 G=0 R=51
    pre.process(bgr, 'BGR')
    red, green, blue = pre.tensor[0, 0, 0, 0], pre.tensor[0, 1, 0, 0], pre.tensor[0, 2, 0, 0]
    assert red == pytest.approx((51 / 255 - 0.5) / 0.5)
    assert green == pytest.approx((0 - 0.25) / 0.25)
    assert blue == pytest.approx(1.0)


def test_nhwc_uint8_copies_pixels() -> None:
    contract = dataclasses.replace(BASE, layout='NHWC', dtype='uint8')
    pre = Preprocessor(contract, batch_size=2)
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    pre.process(image, 'RGB', slot=1)
    assert pre.tensor.shape == (2, 4, 4, 3)
    assert np.array_equal(pre.tensor[1], image) and not pre.tensor[0].any()


def test_gray_model_from_colour_and_gray_images() -> None:
    contract = dataclasses.replace(BASE, channels=1, channel_order='GRAY', mean=(0.0,),
                                   std=(1.0,))
    pre = Preprocessor(contract)
    pre.process(np.full((4, 4), 77, dtype=np.uint8), 'GRAY')
    assert (pre.tensor == 77).all()
    pre.process(np.full((4, 4, 3), 100, dtype=np.uint8), 'RGB')
    assert (pre.tensor == 100).all()


def test_tensor_buffer_is_reused_between_frames() -> None:
    pre = Preprocessor(BASE)
    buffer = pre.tensor
    for value in (10, 20):
        pre.process(np.full((9, 7, 3), value, dtype=np.uint8), 'RGB')
        assert pre.tensor is buffer and (buffer == value).all()


@pytest.mark.parametrize('image,order,match', [
    (np.zeros((4, 4, 3), dtype=np.float32), 'RGB', 'uint8'),
    (np.zeros((4, 4), dtype=np.uint8), 'RGB', 'does not fit'),
    (np.zeros((4, 4, 4), dtype=np.uint8), 'BGR', 'does not fit'),
    (np.zeros((4, 4, 3), dtype=np.uint8), 'XYZ', 'does not fit'),
    (np.zeros((0, 4, 3), dtype=np.uint8), 'RGB', 'empty'),
])
def test_bad_images_rejected(image: np.ndarray, order: str, match: str) -> None:
    with pytest.raises(DlaInferError, match=match):
        Preprocessor(BASE).process(image, order)


def test_bad_slot_rejected() -> None:
    with pytest.raises(DlaInferError, match='slot=1'):
        Preprocessor(BASE).process(np.zeros((4, 4, 3), dtype=np.uint8), 'RGB', slot=1)


def test_writes_into_a_given_buffer_and_back() -> None:
    pre = Preprocessor(BASE)
    own = pre.tensor
    pinned = np.full(own.shape, -1.0, dtype=own.dtype)
    pre.write_into(pinned)
    pre.process(np.full((4, 4, 3), 9, dtype=np.uint8), 'RGB')
    assert pre.tensor is pinned and (pinned == 9).all() and (own == 0).all()
    pre.write_into(None)
    assert pre.tensor is own
    with pytest.raises(DlaInferError, match=r'cannot hold the input float32\[1, 3, 4, 4\]'):
        pre.write_into(np.zeros((1, 3, 4, 5), dtype=np.float32))
