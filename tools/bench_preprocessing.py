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
Time image -> model tensor preprocessing per frame, ours against a naive baseline.

Both produce the same 1×3×224×224 float32 tensor (centre crop, ImageNet
mean/std, BGR camera frame to RGB), checked equal before timing:

* ours: :class:`dla_infer_ros.preprocessing.Preprocessor`: crop view, one
  resize into a reused buffer, channel swap on the small image, per-channel
  multiply-add into the preallocated tensor;
* baseline: the usual Python recipe: ``cvtColor`` of the whole frame,
  resize, ``astype(float32) / 255``, subtract/divide, ``transpose`` and
  ``[None]`` — new arrays every frame.

Times are medians of ``time.perf_counter_ns`` over the frames. Usage:
``python tools/bench_preprocessing.py [--frames N]``.
"""

import argparse
import statistics
import time
from typing import Callable

import cv2
import numpy as np

from dla_infer_ros.model_contract import InputContract
from dla_infer_ros.preprocessing import Preprocessor, resize_roi

CONTRACT = InputContract()
SIZES = {'640x480': (480, 640), '1280x720': (720, 1280), '1920x1080': (1080, 1920)}


def baseline(frame: np.ndarray) -> np.ndarray:
    """Preprocess the way most Python inference scripts do."""
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    rows, cols = resize_roi(rgb.shape[0], rgb.shape[1], CONTRACT)
    resized = cv2.resize(rgb[rows, cols], (CONTRACT.width, CONTRACT.height),
                         interpolation=cv2.INTER_LINEAR)
    scaled = resized.astype(np.float32) / 255.0
    normalised = (scaled - np.array(CONTRACT.mean, dtype=np.float32)) / np.array(
        CONTRACT.std, dtype=np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def median_ms(run: Callable[[], object], frames: int) -> float:
    """:return: the median time of ``run()`` in milliseconds over ``frames`` calls."""
    samples = []
    for _ in range(frames):
        start = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def main() -> None:
    """Print one line per frame size: ours, baseline, ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    pre = Preprocessor(CONTRACT)
    print(f'{"frame":>10} {"ours ms":>9} {"baseline ms":>12} {"ratio":>6}')
    for name, (height, width) in SIZES.items():
        frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        pre.process(frame, 'BGR')
        difference = np.abs(pre.tensor - baseline(frame)).max()
        assert difference < 1e-4, f'outputs differ by {difference}'
        ours = median_ms(lambda: pre.process(frame, 'BGR'), args.frames)
        base = median_ms(lambda: baseline(frame), args.frames)
        print(f'{name:>10} {ours:9.3f} {base:12.3f} {base / ours:5.1f}x')


if __name__ == '__main__':
    main()
