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
Time the per-frame host<->GPU path of the TensorRT backend, ours against a naive baseline.

Needs an NVIDIA GPU and cuda-python. For each batch size, in the same run:

* ours (the backend's data path): the preprocessor writes the tensor straight
  into the backend's pinned host buffer (allocated once), which is copied to a
  device buffer allocated once with ``cudaMemcpyAsync`` on the backend's stream;
  the 1000-class output comes back into a pinned buffer; the frame runs inside
  one ``CudaApi.bound()`` block and ends waiting on a blocking-sync event, as
  ``infer()`` does; CUDA events time the copies. "staged" adds the copy into the
  pinned buffer that a caller pays when it preprocesses into its own array;
* baseline (common in Python inference scripts): per frame ``cudaMalloc`` of
  input and output, synchronous ``cudaMemcpy`` from pageable numpy memory,
  a new numpy array for the output, ``cudaFree``.

The model itself is not run (no TensorRT here): the numbers are the transfer
and allocation overhead a frame pays around inference. Medians of
``time.perf_counter_ns`` over the frames. Usage:
``python tools/bench_cuda_transfer.py [--frames N] [--binding cuda-python|pycuda]``.
"""

import argparse
import statistics
import time
from typing import Callable, Tuple

import numpy as np

from dla_infer_ros.backends.cuda import create_cuda_api
from dla_infer_ros.backends.cuda.cuda_python import cuda_call, runtime_module

INPUT = (3, 224, 224)
CLASSES = 1000


def median_ms(run: Callable[[], object], frames: int) -> float:
    """:return: the median wall time of ``run()`` in ms over ``frames`` calls (after warm-up)."""
    for _ in range(10):
        run()
    samples = []
    for _ in range(frames):
        start = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def ours(binding: str, batch: int, frame: np.ndarray, frames: int,
         staged: bool) -> Tuple[float, float]:
    """:return: median wall ms per frame and median H2D+D2H ms from CUDA events."""
    api = create_cuda_api(binding, 0)
    try:
        host_in = api.host_buffer((batch, *INPUT), np.float32)
        host_out = api.host_buffer((batch, CLASSES), np.float32)
        dev_in, dev_out = api.device_buffer(host_in.nbytes), api.device_buffer(host_out.nbytes)
        stream, start, end = api.stream(), api.event(), api.event(blocking=True)
        event_ms = []

        np.copyto(host_in.array, frame)  # in place: the preprocessor already wrote it there

        def step() -> None:
            with api.bound():
                if staged:
                    np.copyto(host_in.array, frame)
                api.record(start, stream)
                api.copy_htod_async(dev_in, host_in, stream)
                api.copy_dtoh_async(host_out, dev_out, stream)
                api.record(end, stream)
                api.wait(end)
                event_ms.append(api.elapsed_ms(start, end))
        wall = median_ms(step, frames)
        return wall, statistics.median(event_ms)
    finally:
        api.close()


def baseline(batch: int, frame: np.ndarray, frames: int) -> float:
    """:return: median wall ms per frame of the allocate-and-copy-synchronously recipe."""
    cudart = runtime_module()
    kind_h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
    kind_d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
    out_bytes = batch * CLASSES * 4

    def step() -> None:
        tensor = np.ascontiguousarray(frame, dtype=np.float32)
        dev_in = cuda_call(cudart.cudaMalloc, tensor.nbytes)
        dev_out = cuda_call(cudart.cudaMalloc, out_bytes)
        cuda_call(cudart.cudaMemcpy, dev_in, tensor.ctypes.data, tensor.nbytes, kind_h2d)
        result = np.empty((batch, CLASSES), dtype=np.float32)
        cuda_call(cudart.cudaMemcpy, result.ctypes.data, dev_out, out_bytes, kind_d2h)
        cuda_call(cudart.cudaFree, dev_in)
        cuda_call(cudart.cudaFree, dev_out)
    return median_ms(step, frames)


def main() -> None:
    """Print one line per batch size: ours (wall, events), baseline, ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--frames', type=int, default=500)
    parser.add_argument('--binding', default='cuda-python', choices=('cuda-python', 'pycuda'))
    args = parser.parse_args()
    print(f'binding {args.binding}; ratio = baseline / ours (in place)')
    print(f'{"batch":>5} {"ours ms":>8} {"(events)":>9} {"staged ms":>10} {"baseline ms":>12} '
          f'{"ratio":>6}')
    for batch in (1, 8):
        frame = np.random.default_rng(0).standard_normal((batch, *INPUT)).astype(np.float32)
        wall, events = ours(args.binding, batch, frame, args.frames, staged=False)
        staged, _ = ours(args.binding, batch, frame, args.frames, staged=True)
        base = baseline(batch, frame, args.frames)
        print(f'{batch:>5} {wall:8.3f} {events:9.3f} {staged:10.3f} {base:12.3f} '
              f'{base / wall:5.1f}x')


if __name__ == '__main__':
    main()
