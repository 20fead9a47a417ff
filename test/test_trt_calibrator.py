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


"""INT8 calibration inputs: the folder batch source and the calibration plan."""

import logging
import os
from typing import Any, List

import numpy as np
import pytest

from dla_infer_ros._optional import is_available
from dla_infer_ros.backends.tensorrt.calibrator import (folder_fingerprint, FolderBatchSource,
                                                        list_images, plan_calibration)
from dla_infer_ros.errors import DlaInferError

needs_cv2 = pytest.mark.skipif(not is_available('cv2'),
                               reason='OpenCV (cv2) is not installed')


def write_images(folder: str, count: int) -> List[str]:
    import cv2
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        image = np.full((6, 10, 3), (i, 2 * i, 3 * i), np.uint8)  # BGR
        path = os.path.join(folder, f'{i:03d}.png')
        assert cv2.imwrite(path, image)
        paths.append(path)
    return paths


def mean_per_channel(image: np.ndarray) -> np.ndarray:
    """Stand in for the node's preprocessing: BGR HWC uint8 -> RGB CHW float32 (3, 2, 2)."""
    rgb = image[:, :, ::-1].astype(np.float32)
    return np.broadcast_to(rgb.mean(axis=(0, 1))[:, None, None], (3, 2, 2)).copy()


@needs_cv2
def test_folder_source_yields_full_batches_through_the_preprocessing(tmp_path: Any,
                                                                     caplog: Any) -> None:
    folder = str(tmp_path / 'images')
    write_images(folder, 5)
    source = FolderBatchSource(folder, mean_per_channel, log=logging.getLogger('test.calib'))
    batches = [b.copy() for b in source((2, 3, 2, 2))]
    assert len(batches) == 2 and all(b.dtype == np.float32 for b in batches)
    np.testing.assert_array_equal(batches[0][:, :, 0, 0], [[0, 0, 0], [3, 2, 1]])  # RGB
    np.testing.assert_array_equal(batches[1][:, :, 1, 1], [[6, 4, 2], [9, 6, 3]])
    assert 'last 1 image(s) dropped' in caplog.text
    limited = FolderBatchSource(folder, mean_per_channel, max_images=2)
    assert len(list(limited((2, 3, 2, 2)))) == 1


@needs_cv2
def test_folder_source_errors(tmp_path: Any) -> None:
    folder = str(tmp_path / 'images')
    write_images(folder, 2)
    with pytest.raises(DlaInferError, match=r'preprocessing gave \[3, 2, 2\].*needs \[3, 4, 4\]'):
        list(FolderBatchSource(folder, mean_per_channel)((1, 3, 4, 4)))
    with open(os.path.join(folder, '999.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(DlaInferError, match="cannot read calibration image '.*999.jpg'"):
        list(FolderBatchSource(folder, mean_per_channel)((1, 3, 2, 2)))
    # fewer images than one batch would give TensorRT no batch at all
    with pytest.raises(DlaInferError, match=r'holds 3 image\(s\); batch 8 needs at least as '
                                            'many .*calibration cache file'):
        list(FolderBatchSource(folder, mean_per_channel)((8, 3, 2, 2)))


def test_image_listing_and_fingerprint(tmp_path: Any) -> None:
    with pytest.raises(DlaInferError, match='does not exist'):
        list_images(str(tmp_path / 'missing'))
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(DlaInferError, match='holds no image'):
        list_images(str(tmp_path))
    (tmp_path / 'b.PNG').write_bytes(b'12')
    (tmp_path / 'a.jpg').write_bytes(b'1')
    assert [os.path.basename(p) for p in list_images(str(tmp_path))] == ['a.jpg', 'b.PNG']
    before = folder_fingerprint(str(tmp_path))
    (tmp_path / 'a.jpg').write_bytes(b'12')
    assert folder_fingerprint(str(tmp_path)) != before


def test_plan_for_a_folder_and_for_a_cache_file(tmp_path: Any) -> None:
    (tmp_path / 'img.png').write_bytes(b'x')
    source = lambda shape: iter(())  # noqa: E731
    plan = plan_calibration(str(tmp_path), '/cache', 'f' * 64, 4, source)
    assert plan.identity.startswith('images:') and plan.source is source
    assert plan.read_path == plan.write_path
    assert os.path.dirname(plan.read_path) == '/cache'
    assert os.path.basename(plan.read_path).endswith('.b4.cache')
    cache_file = tmp_path / 'calib.cache'
    cache_file.write_bytes(b'TRT-100300-EntropyCalibration2\n')
    plan = plan_calibration(str(cache_file), '/cache', 'f' * 64, 4, None)
    assert plan.identity.startswith('cache:') and plan.source is None
    assert (plan.read_path, plan.write_path) == (str(cache_file), '')
    with pytest.raises(DlaInferError, match='no preprocessing was given'):
        plan_calibration(str(tmp_path), '/cache', 'f' * 64, 4, None)
