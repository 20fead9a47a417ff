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
Time the per-frame host stages: preprocessing and postprocessing, three ways.

For the default model's contract (EfficientNet-Lite0: 1×3×224×224 float32,
centre crop, RGB, mean/std) fed bgr8 frames of 640×480 and 1920×1080 (the
test photo resized, and random pixels), and for 1000 logits, top-5:

* new: :class:`dla_infer_ros.preprocessing.Preprocessor` and
  :class:`dla_infer_ros.postprocessing.Postprocessor` of this working tree;
* previous: the same classes as committed at ``--previous`` (read with
  ``git show`` into a module of their own);
* naive: the usual Python recipe: ``cvtColor`` of the whole frame, resize,
  ``astype(float32) / 255``, subtract/divide, ``transpose`` and ``[None]``;
  softmax, a full ``argsort`` and a Python loop: new arrays every frame.

All three give the same tensor and results, checked before timing. The three
take turns, ten calls each (interleaved, so a load change on the machine hits
all alike); times are medians of ``time.perf_counter_ns``. A second table has
the caches evicted before every call, as in the node, where some milliseconds
of inference pass between two frames. Usage: ``python tools/bench_preprocessing.py
[--frames N] [--cold-frames N] [--previous REV] [--cv-threads N]``.
"""

import argparse
import os
import statistics
import subprocess
import time
import types
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from dla_infer_ros.model_contract import load_contract, load_labels
from dla_infer_ros.postprocessing import Postprocessor
from dla_infer_ros.preprocessing import Preprocessor, resize_roi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = load_contract(os.path.join(ROOT, 'dla_infer_ros', 'models', 'efficientnet_lite0.json'))
CONTRACT = MODEL.input_contract
PHOTO = os.path.join(ROOT, 'test', 'data', 'chelsea_cat.jpg')
SIZES = {'640x480': (480, 640), '1920x1080': (1080, 1920)}
TOP_K = 5
WAYS = ('new', 'previous', 'naive')
#: calls of one way before the next way's turn: short enough that all see the same
#: machine load, long enough that the naive way's fresh arrays do not slow the others.
BLOCK = 10


def naive_preprocess(frame: np.ndarray) -> np.ndarray:
    """Preprocess the way most Python inference scripts do."""
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    rows, cols = resize_roi(rgb.shape[0], rgb.shape[1], CONTRACT)
    resized = cv2.resize(rgb[rows, cols], (CONTRACT.width, CONTRACT.height),
                         interpolation=cv2.INTER_LINEAR)
    scaled = resized.astype(np.float32) / 255.0
    normalised = (scaled - np.array(CONTRACT.mean, dtype=np.float32)) / np.array(
        CONTRACT.std, dtype=np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def naive_postprocess(row: np.ndarray, labels: Sequence[str]) -> List[Tuple[int, str, float]]:
    """Softmax and top-k the way most Python inference scripts do."""
    scores = np.exp(row - row.max())
    scores = scores / scores.sum()
    order = np.argsort(-scores)[:TOP_K]
    return [(int(i), labels[i], float(scores[i])) for i in order]


def previous_module(revision: str, path: str) -> types.ModuleType:
    """:return: the module at ``path`` as committed at ``revision``, imported apart."""
    source = subprocess.run(['git', '-C', ROOT, 'show', f'{revision}:{path}'], check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f'previous_{os.path.basename(path)[:-3]}')
    exec(compile(source, f'{revision}:{path}', 'exec'), module.__dict__)
    return module


class Caches:
    """Evicts the CPU caches, as some milliseconds of inference do between two frames."""

    def __init__(self, evict: bool) -> None:
        """Allocate a buffer twice the size of a large L3 cache, when ``evict``."""
        self.evict = evict
        self._buffer = np.zeros((64 << 20) if evict else 0, dtype=np.uint8)

    def before_call(self) -> None:
        """Write the buffer (no-op when not evicting)."""
        if self.evict:
            self._buffer += 1


def interleaved_ms(runs: Dict[str, Callable[[int], object]], count: int,
                   caches: Caches) -> Dict[str, float]:
    """
    Time the runs in turn, ``BLOCK`` calls each, until each has run ``count`` times.

    :return: the median milliseconds per call of each run.
    """
    samples: Dict[str, List[float]] = {name: [] for name in runs}
    for first in range(0, count, BLOCK):
        for name, run in runs.items():
            for index in range(first, min(first + BLOCK, count)):
                caches.before_call()
                start = time.perf_counter_ns()
                run(index)
                samples[name].append((time.perf_counter_ns() - start) / 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def frames() -> Dict[str, np.ndarray]:
    """:return: the bgr8 frames to preprocess, by name."""
    photo = cv2.imread(PHOTO)
    rng = np.random.default_rng(0)
    result = {}
    for name, (height, width) in SIZES.items():
        result[f'{name} photo'] = cv2.resize(photo, (width, height),
                                             interpolation=cv2.INTER_AREA)
        result[f'{name} random'] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return result


def print_row(name: str, ms: Dict[str, float]) -> None:
    """Print one table row: the times and the speed-ups of new."""
    times = ' '.join(f'{ms[way]:9.3f}' for way in WAYS)
    print(f'{name:>17} {times} {ms["previous"] / ms["new"]:7.1f}x '
          f'{ms["naive"] / ms["new"]:7.1f}x')


def bench_preprocess(previous: types.ModuleType, count: int,
                     caches: Caches) -> Dict[str, Dict[str, float]]:
    """Time and print the three preprocessings; :return: the medians per frame."""
    new, old = Preprocessor(CONTRACT), previous.Preprocessor(CONTRACT)
    medians = {}
    for name, frame in frames().items():
        new.process(frame, 'BGR')
        old.process(frame, 'BGR')
        assert np.array_equal(new.tensor, old.tensor), 'new and previous tensors differ'
        difference = np.abs(new.tensor - naive_preprocess(frame)).max()
        assert difference < 1e-4, f'new and naive tensors differ by {difference}'
        medians[name] = interleaved_ms({
            'new': lambda _: new.process(frame, 'BGR'),
            'previous': lambda _: old.process(frame, 'BGR'),
            'naive': lambda _: naive_preprocess(frame)}, count, caches)
        print_row(name, medians[name])
    return medians


def bench_postprocess(previous: types.ModuleType, count: int, caches: Caches) -> Dict[str, float]:
    """Time and print the three postprocessings of 1000 logits; :return: the medians."""
    labels = load_labels(MODEL.labels_path, 1000)
    new = Postprocessor(1000, labels, 'logits', TOP_K)
    old = previous.Postprocessor(1000, labels, 'logits', TOP_K)
    # A batch-1 output per call, as the classifier hands over: scores[i] of (1, 1000).
    outputs = np.random.default_rng(1).normal(0.0, 3.0, (count, 1, 1000)).astype(np.float32)
    rows = [output[0] for output in outputs]
    for row in rows[:50]:
        expected = old.process(row)
        assert new.process(row) == expected, 'new and previous results differ'
        assert [r[0] for r in naive_postprocess(row, labels)] == [r[0] for r in expected]
    medians = interleaved_ms({
        'new': lambda i: new.process(rows[i]),
        'previous': lambda i: old.process(rows[i]),
        'naive': lambda i: naive_postprocess(rows[i], labels)}, count, caches)
    print_row('1000 logits', medians)
    return medians


def bench(previous_pre: types.ModuleType, previous_post: types.ModuleType, count: int,
          caches: Caches) -> None:
    """Print one table: preprocessing per frame, postprocessing, and their sums."""
    header = ' '.join(f'{way:>9}' for way in WAYS)
    print(f'{"preprocess":>17} {header} {"prev/new":>8} {"naive/new":>8}')
    pre = bench_preprocess(previous_pre, count, caches)
    print(f'{"postprocess":>17}')
    post = bench_postprocess(previous_post, count, caches)
    print(f'{"pre + post":>17}')
    for name in pre:
        if name.endswith('photo'):
            print_row(name.split()[0], {way: pre[name][way] + post[way] for way in WAYS})


def main() -> None:
    """Print preprocessing and postprocessing times, new against previous and naive."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=500,
                        help='calls per way and frame with warm caches (default 500)')
    parser.add_argument('--cold-frames', type=int, default=60,
                        help='calls per way and frame after evicting the caches (default 60; '
                             '0: none)')
    parser.add_argument('--previous', default='56ce9e0',
                        help='git revision of the previous implementation (default 56ce9e0)')
    parser.add_argument('--cv-threads', type=int, default=1,
                        help="OpenCV threads (default 1; -1: OpenCV's default)")
    args = parser.parse_args()
    cv2.setNumThreads(args.cv_threads)
    previous_pre = previous_module(args.previous, 'dla_infer_ros/preprocessing.py')
    previous_post = previous_module(args.previous, 'dla_infer_ros/postprocessing.py')
    print(f'median ms per call, interleaved; previous = {args.previous}; '
          f'OpenCV threads {cv2.getNumThreads()}')
    print(f'\nwarm caches, {args.frames} calls per way')
    bench(previous_pre, previous_post, args.frames, Caches(evict=False))
    if args.cold_frames > 0:
        print(f'\ncaches evicted before every call (as after inference), '
              f'{args.cold_frames} calls per way')
        bench(previous_pre, previous_post, args.cold_frames, Caches(evict=True))


if __name__ == '__main__':
    main()
