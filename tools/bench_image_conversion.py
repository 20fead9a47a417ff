#!/usr/bin/env python3
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
Time sensor_msgs/Image -> model-order uint8 conversion per frame.

For each frame size and encoding it measures, in the same run:

* ours: :func:`image_to_array` (a view of ``data``) + :func:`to_model_order`
  into one output buffer reused across frames;
* copy baseline: ``np.frombuffer(bytes(msg.data)).copy()``, reshape, crop the
  row padding and ``cv2.cvtColor`` into a new array every frame;
* list baseline (``--list-baseline``): ``np.array(list(msg.data))``, then as
  above; slow, so it runs fewer frames.

``data`` is an ``array.array('B')``, the type rclpy gives a subscriber. Times
are medians over the frames, from ``time.perf_counter_ns``.
"""

import argparse
import statistics
import time
from types import SimpleNamespace
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np

from dla_infer_ros import image_conversion

SIZES = {'640x480': (480, 640), '1920x1080': (1080, 1920)}
#: The OpenCV code the baselines use, by encoding, for RGB output.
BASELINE_CODES = {
    'bgr8': cv2.COLOR_BGR2RGB,
    'rgba8': cv2.COLOR_RGBA2RGB,
    'mono8': cv2.COLOR_GRAY2RGB,
    'yuv422': cv2.COLOR_YUV2RGB_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUY2,
    'bayer_rggb8': cv2.COLOR_BayerBG2RGB,
}


def make_message(height: int, width: int, encoding: str) -> SimpleNamespace:
    """Build an Image stand-in of random pixels, with data as rclpy gives it."""
    info = image_conversion.encoding_info(encoding)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(height, width, info.channels), dtype=np.uint8)
    return SimpleNamespace(**image_conversion.array_to_image_fields(pixels, encoding))


def ours(msg: SimpleNamespace, out: np.ndarray) -> np.ndarray:
    """View + conversion into the reused buffer."""
    view, info = image_conversion.image_to_array(msg)
    return image_conversion.to_model_order(view, info, 'RGB', out)


def copy_baseline(msg: SimpleNamespace) -> np.ndarray:
    """Copy data to bytes and to a new array, then convert into a new array."""
    flat = np.frombuffer(bytes(msg.data), dtype=np.uint8).copy()
    return _naive_convert(msg, flat)


def list_baseline(msg: SimpleNamespace) -> np.ndarray:
    """Go through a Python list of ints, as naive code does."""
    flat = np.array(list(msg.data), dtype=np.uint8)
    return _naive_convert(msg, flat)


def _naive_convert(msg: SimpleNamespace, flat: np.ndarray) -> np.ndarray:
    info = image_conversion.encoding_info(msg.encoding)
    rows = flat.reshape(msg.height, msg.step)[:, :msg.width * info.bytes_per_pixel]
    pixels = np.ascontiguousarray(rows).reshape(msg.height, msg.width, info.channels)
    return cv2.cvtColor(pixels, BASELINE_CODES[msg.encoding])


def median_ms(run: Callable[[], object], frames: int) -> float:
    """Run once to warm up, then return the median wall time of ``frames`` runs in ms."""
    run()
    times: List[int] = []
    for _ in range(frames):
        start = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Print one line per frame size and encoding."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=50, help='timed frames per case')
    parser.add_argument('--encodings', nargs='+', default=['bgr8', 'yuv422', 'bayer_rggb8'],
                        choices=sorted(BASELINE_CODES))
    parser.add_argument('--list-baseline', action='store_true',
                        help='also time np.array(list(msg.data)) (slow: 5 frames)')
    args = parser.parse_args(argv)
    print(f'numpy {np.__version__}, OpenCV {cv2.__version__}, {args.frames} frames, '
          'median ms per frame, output RGB uint8')
    header = f'{"size":>10} {"encoding":>12} {"ours":>8} {"copy":>8} {"copy/ours":>10}'
    if args.list_baseline:
        header += f' {"list":>9} {"list/ours":>10}'
    print(header)
    for size_name, (height, width) in SIZES.items():
        for encoding in args.encodings:
            msg = make_message(height, width, encoding)
            out = np.empty((height, width, 3), dtype=np.uint8)
            np.testing.assert_array_equal(ours(msg, out), copy_baseline(msg))
            ours_ms = median_ms(lambda: ours(msg, out), args.frames)
            copy_ms = median_ms(lambda: copy_baseline(msg), args.frames)
            line = (f'{size_name:>10} {encoding:>12} {ours_ms:8.3f} {copy_ms:8.3f} '
                    f'{copy_ms / ours_ms:9.1f}x')
            if args.list_baseline:
                list_ms = median_ms(lambda: list_baseline(msg), 5)
                line += f' {list_ms:9.1f} {list_ms / ours_ms:9.0f}x'
            print(line)


if __name__ == '__main__':
    main()
