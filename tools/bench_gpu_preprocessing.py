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
GPU preprocessing against the CPU path, side by side in one run.

For 640x480 and 1920x1080 bgr8 frames and the default model's contract (centre crop,
224x224 RGB float32 NCHW): the CPU :class:`Preprocessor` per frame, and the
:class:`GpuPreprocessor` per frame: the copy into its pinned buffer of the crop, or of
the rows the resize reads when it shrinks more than 2x (``stage``), the upload and the
kernel between CUDA events (``enqueue``), and all of it with a stream synchronisation as
wall time and as the calling thread's CPU time; then the upload alone and the kernel alone
between events (each with the host's time to enqueue it).
Prints medians and the ratios. Needs cuda-python, a GPU and OpenCV.

Usage: ``python tools/bench_gpu_preprocessing.py [--iterations N] [--json FILE]``
"""

import argparse
import json
import statistics
import sys
import time
from typing import Any, Dict, List

import numpy as np

from dla_infer_ros.backends.cuda import create_cuda_api
from dla_infer_ros.gpu_preprocessing import GpuPreprocessor
from dla_infer_ros.model_contract import resolve_model
from dla_infer_ros.preprocessing import Preprocessor

SIZES = {'640x480': (480, 640), '1920x1080': (1080, 1920)}


def _median_us(samples: List[float]) -> float:
    return statistics.median(samples) * 1e6


def measure(size: Any, iterations: int, api: Any, stream: Any) -> Dict[str, float]:
    """:return: medians in microseconds for one frame size."""
    contract = resolve_model().input_contract
    image = np.random.default_rng(0).integers(0, 256, (*size, 3), np.uint8)
    cpu = Preprocessor(contract)
    cpu_s = []
    for _ in range(iterations):
        start = time.perf_counter()
        cpu.process(image, 'BGR')
        cpu_s.append(time.perf_counter() - start)
    out = api.device_buffer(cpu.tensor.nbytes)
    gpu = GpuPreprocessor(contract, 1, api, out, stream)
    begin, end = api.event(), api.event()
    events: List[float] = []
    parts: Dict[str, List[float]] = {'upload': [], 'kernel': []}
    wall: List[float] = []
    thread_cpu: List[float] = []
    host_copy: List[float] = []
    try:
        for index in range(iterations + 10):
            start, start_cpu = time.perf_counter(), time.thread_time()
            gpu.stage(image, 'BGR')
            staged = time.perf_counter()
            api.record(begin, stream)
            gpu.enqueue()
            api.record(end, stream)
            api.synchronize(stream)
            if index >= 10:  # the first ones compile and allocate
                wall.append(time.perf_counter() - start)
                thread_cpu.append(time.thread_time() - start_cpu)
                host_copy.append(staged - start)
                events.append(api.elapsed_ms(begin, end) / 1e3)
        for index in range(iterations + 10):  # each part alone, between events
            for part in parts:
                api.record(begin, stream)
                gpu.enqueue(upload=part == 'upload', kernel=part == 'kernel')
                api.record(end, stream)
                api.synchronize(stream)
                if index >= 10:
                    parts[part].append(api.elapsed_ms(begin, end) / 1e3)
    finally:
        gpu.close()
        begin.free()
        end.free()
        out.free()
    return {'cpu_us': _median_us(cpu_s), 'gpu_events_us': _median_us(events),
            'host_copy_us': _median_us(host_copy), 'upload_alone_us': _median_us(parts['upload']),
            'kernel_alone_us': _median_us(parts['kernel']),
            'gpu_wall_us': _median_us(wall), 'gpu_thread_cpu_us': _median_us(thread_cpu)}


def main() -> int:
    """Run the comparison; :return: the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--iterations', type=int, default=500)
    parser.add_argument('--json', default='', metavar='FILE')
    args = parser.parse_args()
    api = create_cuda_api('cuda-python', 0)
    stream = api.stream()
    results = {}
    try:
        for name, size in SIZES.items():
            results[name] = measure(size, args.iterations, api, stream)
    finally:
        stream.free()
        api.close()
    print('medians in us; GPU: the crop copied into pinned memory (host copy), then upload +'
          ' kernel between CUDA events, and the whole of it as wall and thread CPU time')
    print(f'{"frame":10s} {"CPU":>8s} {"host copy":>10s} {"upload+kernel":>14s} {"GPU wall":>9s} '
          f'{"GPU thread CPU":>15s} {"CPU/upload+kernel":>18s} {"CPU/GPU wall":>13s}')
    for name, r in results.items():
        print(f'{name:10s} {r["cpu_us"]:8.1f} {r["host_copy_us"]:10.1f} '
              f'{r["gpu_events_us"]:14.1f} {r["gpu_wall_us"]:9.1f} '
              f'{r["gpu_thread_cpu_us"]:15.1f} {r["cpu_us"] / r["gpu_events_us"]:18.1f} '
              f'{r["cpu_us"] / r["gpu_wall_us"]:13.1f}')
    print('each part alone between CUDA events (the launch included), medians in us: ' + '; '.join(
        f'{name} upload {r["upload_alone_us"]:.1f}, kernel {r["kernel_alone_us"]:.1f}'
        for name, r in results.items()))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
