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
import itertools
import tracemalloc

import numpy as np
import pytest

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import InputContract
from dla_infer_ros.preprocessing import INTERPOLATIONS, letterbox_size, Preprocessor, resize_roi

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


def reference(image: np.ndarray, order: str, contract: InputContract) -> np.ndarray:
    """Preprocess the plain way, allocating as it goes: what the tensor must hold."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    flags = {'nearest': cv2.INTER_NEAREST, 'linear': cv2.INTER_LINEAR,
             'cubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA}[contract.interpolation]
    h, w = contract.height, contract.width
    if contract.resize == 'letterbox':
        inner_h, inner_w = letterbox_size(image.shape[0], image.shape[1], contract)
        top, left = (h - inner_h) // 2, (w - inner_w) // 2
        resized = np.zeros((h, w) + image.shape[2:], dtype=np.uint8)
        inner = cv2.resize(image, (inner_w, inner_h), interpolation=flags)
        resized[top:top + inner_h, left:left + inner_w] = inner.reshape(
            (inner_h, inner_w) + image.shape[2:])
    else:
        rows, cols = resize_roi(image.shape[0], image.shape[1], contract)
        resized = cv2.resize(image[rows, cols], (w, h), interpolation=flags)
    if contract.channel_order == 'GRAY':
        code = cv2.COLOR_RGB2GRAY if order == 'RGB' else cv2.COLOR_BGR2GRAY
        planes = (resized if order == 'GRAY' else cv2.cvtColor(resized, code))[None]
    elif order == 'GRAY':
        planes = np.stack([resized] * 3)
    else:
        planes = resized.transpose(2, 0, 1)
        planes = planes if order == contract.channel_order else planes[::-1]
    if contract.dtype != 'uint8':
        std = np.asarray(contract.std, dtype=np.float32)
        gain = (np.float32(contract.scale) / std).reshape(-1, 1, 1)
        offset = (-np.asarray(contract.mean, dtype=np.float32) / std).reshape(-1, 1, 1)
        planes = planes * gain + offset  # float32, rounded after the multiply and the add
    return (planes if contract.layout == 'NCHW' else planes.transpose(1, 2, 0)).astype(
        contract.dtype)


@pytest.mark.parametrize('layout,dtype,model_order,resize', itertools.product(
    ('NCHW', 'NHWC'), ('float32', 'float16', 'uint8'), ('RGB', 'BGR', 'GRAY'),
    ('stretch', 'center_crop', 'letterbox')))
def test_tensor_equals_the_plain_recipe_exactly(layout: str, dtype: str, model_order: str,
                                                resize: str) -> None:
    channels = 1 if model_order == 'GRAY' else 3
    rng = np.random.default_rng(7)
    for interpolation in INTERPOLATIONS:
        contract = InputContract(height=12, width=16, layout=layout, dtype=dtype,
                                 channels=channels, channel_order=model_order, resize=resize,
                                 interpolation=interpolation, scale=1 / 255,
                                 mean=(0.485, 0.456, 0.406)[:channels],
                                 std=(0.229, 0.224, 0.225)[:channels])
        pre = Preprocessor(contract, batch_size=2)
        # Sizes change between frames: the crop or letterbox window moves with them.
        for (height, width), order in zip([(30, 21), (21, 30), (30, 21), (5, 40)] * 3,
                                          ['BGR', 'RGB', 'GRAY'] * 4):
            shape = (height, width) if order == 'GRAY' else (height, width, 3)
            image = rng.integers(0, 256, shape, dtype=np.uint8)
            pre.process(image, order, slot=1)
            expected = reference(image, order, contract)
            assert pre.tensor.dtype == expected.dtype
            assert np.array_equal(pre.tensor[1], expected), (interpolation, order, shape)
            assert not pre.tensor[0].any()


def test_identity_normalisation_copies_pixels() -> None:
    pre = Preprocessor(BASE)
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    pre.process(image, 'BGR')
    assert np.array_equal(pre.tensor[0], image[:, :, ::-1].transpose(2, 0, 1))


def test_writes_fp16_into_a_row_padded_buffer() -> None:
    # As a DLA engine's input: FP16 rows padded to 64 bytes, bound through a strided view.
    contract = dataclasses.replace(InputContract(), height=20, width=24, dtype='float16')
    image = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    own = Preprocessor(contract)
    own.process(image, 'BGR')
    padded = np.full((1, 3, 20, 32), 7, dtype=np.float16)
    pre = Preprocessor(contract)
    pre.write_into(padded[..., :24])
    pre.process(image, 'BGR')
    assert np.array_equal(padded[..., :24], own.tensor) and (padded[..., 24:] == 7).all()


@pytest.mark.parametrize('changes', [
    {}, {'layout': 'NHWC'}, {'dtype': 'float16'}, {'dtype': 'uint8', 'layout': 'NHWC'},
    {'resize': 'letterbox'}, {'channels': 1, 'channel_order': 'GRAY', 'mean': (0.5,),
                              'std': (0.5,)}])
def test_process_allocates_no_image_sized_memory(changes: dict) -> None:
    contract = dataclasses.replace(InputContract(height=512, width=512), **changes)
    pre = Preprocessor(contract)
    frame = np.random.default_rng(2).integers(0, 256, (640, 480, 3), dtype=np.uint8)
    pre.process(frame, 'BGR')
    tracemalloc.start()
    try:
        pre.process(frame, 'BGR')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # numpy's ufunc buffers take some 32 KiB; one plane of the input would be 256 KiB.
    assert peak < contract.height * contract.width
