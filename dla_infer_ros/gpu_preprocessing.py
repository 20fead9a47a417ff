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
Preprocessing on the GPU: one kernel from the image's bytes to the engine's input tensor.

:class:`GpuPreprocessor` does what :class:`dla_infer_ros.preprocessing.Preprocessor`
does (the same geometry: :func:`dla_infer_ros.preprocessing.geometry`), with the
image's crop copied into a pinned buffer, uploaded on the inference stream and read
by one kernel that resizes (bilinear as OpenCV's ``INTER_LINEAR``, or nearest),
swaps or picks channels, normalises and writes NCHW or NHWC float32, float16 or
uint8 straight into a batch slot of a device buffer. Nothing waits for the GPU:
the engine that reads the buffer runs next on the same stream.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from dla_infer_ros.backends.cuda.interface import (CudaApi, DeviceBuffer, Event, HostBuffer,
                                                   Region2D, Stream)
from dla_infer_ros.backends.cuda.kernels import compile_kernel, Kernel, PackedArgs
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import InputContract
from dla_infer_ros.preprocessing import geometry

#: Source channel orders the kernel reads, and where R, G, B are in each.
SOURCE_ORDERS: Dict[str, Tuple[int, Tuple[int, int, int]]] = {
    'RGB': (3, (0, 1, 2)), 'BGR': (3, (2, 1, 0)), 'RGBA': (4, (0, 1, 2)),
    'BGRA': (4, (2, 1, 0)), 'GRAY': (1, (0, 0, 0)),
}
#: The channel orders :meth:`GpuPreprocessor.process` reads.
ORDERS = tuple(SOURCE_ORDERS)
INTERPOLATIONS = {'linear': 0, 'nearest': 1}
OUTPUT_TYPES = {'float32': 0, 'float16': 1, 'uint8': 2}

KERNEL_SOURCE = r"""
// OUT_KIND: 0 float32, 1 float16 (bits), 2 uint8. NHWC: 0 or 1. NEAREST: 0 bilinear, 1 nearest.
#if OUT_KIND == 0
typedef float out_t;
#elif OUT_KIND == 1
typedef unsigned short out_t;
#else
typedef unsigned char out_t;
#endif

__device__ __forceinline__ int sample(const unsigned char* src, int pitch, int channels,
                                      int w, int h, int lx, int ly, double sx_scale,
                                      double sy_scale, int area2, int row_pairs, int c) {
    // OpenCV's integer arithmetic for uint8, so that both paths agree to the bit.
    // row_pairs: src holds only the two source rows each output row reads, rows 2 ly and
    // 2 ly + 1 (gathered on the host), instead of every row of the crop.
#if NEAREST
    int sx = min((int)floor(lx * sx_scale), w - 1);
    int sy = row_pairs ? 2 * ly : min((int)floor(ly * sy_scale), h - 1);
    return src[sy * pitch + sx * channels + c];
#else
    if (area2) {  // an exact 2x reduction: OpenCV averages 2x2 blocks instead
        const unsigned char* p = src + 2 * ly * pitch + 2 * lx * channels + c;
        return (p[0] + p[channels] + p[pitch] + p[pitch + channels] + 2) >> 2;
    }
    float fx = (float)((lx + 0.5) * sx_scale - 0.5);
    float fy = (float)((ly + 0.5) * sy_scale - 0.5);
    int sx = (int)floorf(fx), sy = (int)floorf(fy);
    fx -= sx; fy -= sy;
    if (sx < 0) { sx = 0; fx = 0.f; }
    if (sx >= w - 1) { sx = w - 1; fx = 0.f; }
    if (sy < 0) { sy = 0; fy = 0.f; }
    if (sy >= h - 1) { sy = h - 1; fy = 0.f; }
    int sx1 = min(sx + 1, w - 1), sy1 = min(sy + 1, h - 1);
    // 11-bit coefficients, rounded half to even as cvRound does.
    int a0 = __float2int_rn((1.f - fx) * 2048.f), a1 = __float2int_rn(fx * 2048.f);
    int b0 = __float2int_rn((1.f - fy) * 2048.f), b1 = __float2int_rn(fy * 2048.f);
    const unsigned char* r0 = src + (row_pairs ? 2 * ly : sy) * pitch;
    const unsigned char* r1 = src + (row_pairs ? 2 * ly + 1 : sy1) * pitch;
    int h0 = r0[sx * channels + c] * a0 + r0[sx1 * channels + c] * a1;
    int h1 = r1[sx * channels + c] * a0 + r1[sx1 * channels + c] * a1;
    int v = (((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2;
    return min(255, max(0, v));
#endif
}

__device__ __forceinline__ void store(out_t* out, int index, int u, float gain, float offset) {
#if OUT_KIND == 2
    out[index] = (unsigned char)u;
#else
    float v = __fadd_rn(__fmul_rn((float)u, gain), offset);
#if OUT_KIND == 0
    out[index] = v;
#else
    unsigned short bits;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(v));
    out[index] = bits;
#endif
#endif
}

extern "C" __global__ void preprocess(
        const unsigned char* __restrict__ src, int src_w, int src_h, int pitch, int channels,
        int c0, int c1, int c2, int to_gray, int row_pairs,
        int win_x, int win_y, int win_w, int win_h,
        out_t* __restrict__ out, int out_w, int out_h, int out_c,
        float g0, float g1, float g2, float o0, float o1, float o2) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= out_h) return;
    int lx = x - win_x, ly = y - win_y;
    int u[3] = {0, 0, 0};  // outside a letterbox window: black, as on the CPU
    if (lx >= 0 && ly >= 0 && lx < win_w && ly < win_h) {
        // As OpenCV: the inverse of the destination-to-source ratio, in double.
        double sx_scale = 1.0 / ((double)win_w / src_w), sy_scale = 1.0 / ((double)win_h / src_h);
        int area2 = src_w == 2 * win_w && src_h == 2 * win_h;
        int map[3] = {c0, c1, c2};
        int n = to_gray ? 3 : out_c;
        for (int k = 0; k < n; ++k)
            u[k] = sample(src, pitch, channels, src_w, src_h, lx, ly, sx_scale, sy_scale, area2,
                          row_pairs, map[k]);
        if (to_gray)  // OpenCV's RGB -> gray in fixed point, on the resized pixels
            u[0] = (u[0] * 4899 + u[1] * 9617 + u[2] * 1868 + 8192) >> 14;
    }
    float gain[3] = {g0, g1, g2}, offset[3] = {o0, o1, o2};
    int plane = out_w * out_h;
    for (int k = 0; k < out_c; ++k) {
#if NHWC
        int index = (y * out_w + x) * out_c + k;
#else
        int index = k * plane + y * out_w + x;
#endif
        store(out, index, u[k], gain[k], offset[k]);
    }
}
"""
_BLOCK = (32, 8, 1)


@dataclasses.dataclass
class _Slot:
    """The pinned and device copies of one batch slot's source pixels."""

    host: Optional[HostBuffer] = None  # flat bytes; grows, never shrinks
    device: Optional[DeviceBuffer] = None
    region: Region2D = Region2D(0, 0, 0, 0)  # what of ``host`` is uploaded, rows packed
    launch: Optional[PackedArgs] = None  # the kernel's arguments: a camera's frames share them
    rows_for: Tuple[int, ...] = ()  # the geometry ``rows`` was computed for
    rows: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.intp))


class GpuPreprocessor:
    """Writes images into a device tensor of the model's input, on a given stream."""

    def __init__(self, contract: InputContract, batch_size: int, api: CudaApi,
                 output: DeviceBuffer, stream: Stream) -> None:
        """
        Compile the kernel for this contract (once per process and configuration).

        :param output: device buffer of the whole input tensor (batch_size slots).
        :param stream: the stream the engine runs on.
        :raises DlaInferError: for a contract the kernel does not cover (say why), a
            buffer too small, or when the kernel cannot be compiled.
        """
        if contract.interpolation not in INTERPOLATIONS:
            raise DlaInferError(f'GPU preprocessing resizes with {"/".join(INTERPOLATIONS)}; '
                                f'the model asks for {contract.interpolation}')
        if contract.dtype not in OUTPUT_TYPES or contract.channels not in (1, 3):
            raise DlaInferError(f'GPU preprocessing writes 1 or 3 channels of '
                                f'{"/".join(OUTPUT_TYPES)}; the model takes '
                                f'{contract.channels} of {contract.dtype}')
        self.contract = contract
        self.batch_size = batch_size
        self._slot_bytes = (contract.channels * contract.height * contract.width
                            * np.dtype(contract.dtype).itemsize)
        if output.nbytes < self._slot_bytes * batch_size:
            raise DlaInferError(f'device buffer of {output.nbytes} bytes cannot hold '
                                f'{batch_size} x {self._slot_bytes} bytes of input')
        self._api, self._output, self._stream = api, output, stream
        defines = [f'OUT_KIND={OUTPUT_TYPES[contract.dtype]}',
                   f'NHWC={int(contract.layout == "NHWC")}',
                   f'NEAREST={INTERPOLATIONS[contract.interpolation]}']
        self._kernel: Kernel = compile_kernel(api, KERNEL_SOURCE, 'preprocess', defines)
        std = np.asarray(contract.std, dtype=np.float32)
        gain = (np.float32(contract.scale) / std).astype(np.float32)
        offset = (-np.asarray(contract.mean, dtype=np.float32) / std).astype(np.float32)
        self._gain = [float(v) for v in np.resize(gain, 3)]
        self._offset = [float(v) for v in np.resize(offset, 3)]
        self._slots: List[_Slot] = [_Slot() for _ in range(batch_size)]
        grid_x = (contract.width + _BLOCK[0] - 1) // _BLOCK[0]
        grid_y = (contract.height + _BLOCK[1] - 1) // _BLOCK[1]
        self._grid = (grid_x, grid_y, 1)
        self._events: Tuple[Event, ...] = ()
        try:
            with api.bound():
                self._events = (api.event(), api.event())  # around the uploads and kernels
        except DlaInferError:
            self.close()
            raise
        self._timed = False

    @property
    def orders(self) -> Tuple[str, ...]:
        """:return: the channel orders :meth:`process` reads (:data:`SOURCE_ORDERS`)."""
        return ORDERS

    def run(self, images: Sequence[np.ndarray], order: str) -> None:
        """
        Stage every image, then enqueue every upload and kernel between two timing events.

        :param images: one image per batch slot from slot 0 (see :meth:`process`).
        :raises DlaInferError: as :meth:`process`; then nothing is enqueued.
        """
        if len(images) > self.batch_size:
            raise DlaInferError(f'{len(images)} images given; the batch has '
                                f'{self.batch_size} slots')
        self._timed = False
        for slot, image in enumerate(images):
            self.stage(image, order, slot)
        start, end = self._events
        with self._api.bound():
            self._api.record(start, self._stream)
            for slot in range(len(images)):
                self.enqueue(slot)
            self._api.record(end, self._stream)
        self._timed = True

    def elapsed_ms(self) -> float:
        """
        Give the GPU time of the last :meth:`run`: its uploads and kernels (CUDA events).

        Valid once the stream has passed them (after the engine's run was waited for).

        :raises DlaInferError: when no run was timed, or the events are not complete.
        """
        if not self._timed:
            raise DlaInferError('no GPU preprocessing run to time')
        start, end = self._events
        with self._api.bound():
            return self._api.elapsed_ms(start, end)

    def process(self, image: np.ndarray, order: str, slot: int = 0) -> None:
        """
        Enqueue the upload of ``image`` and the kernel that writes batch slot ``slot``.

        :param image: uint8 H×W×C (C = 3 for RGB/BGR, 4 for RGBA/BGRA) or H×W (GRAY).
        :param order: the image's channel order, a key of :data:`SOURCE_ORDERS`.
        :raises DlaInferError: for a wrong image, order or slot, or a failed CUDA call.
        """
        self.stage(image, order, slot)
        self.enqueue(slot)

    def stage(self, image: np.ndarray, order: str, slot: int = 0) -> None:
        """Copy the crop of ``image`` into the slot's pinned buffer (the CPU's part)."""
        if not 0 <= slot < self.batch_size:
            raise DlaInferError(f'slot={slot} requested; the batch has {self.batch_size} slots')
        if order not in SOURCE_ORDERS:
            raise DlaInferError(f'channel order {order!r}; the GPU reads '
                                + ', '.join(SOURCE_ORDERS))
        channels, colour = SOURCE_ORDERS[order]
        if image.ndim == 2:
            image = image[:, :, np.newaxis]
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != channels \
                or image.shape[0] < 1 or image.shape[1] < 1:
            raise DlaInferError(f'image {image.dtype.name}{list(image.shape)} does not fit '
                                f'channel order {order} (uint8, {channels} channel(s))')
        (rows, cols), window = geometry(image.shape[0], image.shape[1], self.contract)
        crop_h, crop_w = rows.stop - rows.start, cols.stop - cols.start
        win_h = window[0].stop - window[0].start
        state = self._slots[slot]
        row_pairs = 2 * win_h < crop_h and image.flags.c_contiguous
        if row_pairs:
            # Shrinking more than 2x: only the two rows each output row reads are copied,
            # whole (a gather of contiguous rows), and of them only the crop's columns uploaded.
            gather = self._row_pairs(state, image.shape, rows, win_h)
            staging = self._staging(state, (gather.size, *image.shape[1:]),
                                    gather.size * crop_w * channels)
            np.take(image, gather, axis=0, out=staging, mode='clip')  # 'clip': unbuffered
            state.region = Region2D(cols.start * channels, image.shape[1] * channels,
                                    crop_w * channels, gather.size)
        else:
            staging = self._staging(state, (crop_h, crop_w, channels), crop_h * crop_w * channels)
            np.copyto(staging, image[rows, cols])
            state.region = Region2D(0, crop_w * channels, crop_w * channels, crop_h)
        if self.contract.channel_order == 'BGR':
            colour = colour[::-1]
        to_gray = int(self.contract.channel_order == 'GRAY' and channels > 1)
        if state.device is None:  # _staging() allocates it
            raise DlaInferError(f'slot {slot} has no device buffer')
        args = [('ptr', state.device.ptr), ('int', crop_w), ('int', crop_h),
                ('int', crop_w * channels), ('int', channels),
                *(('int', c) for c in colour), ('int', to_gray), ('int', int(row_pairs)),
                ('int', window[1].start), ('int', window[0].start),
                ('int', window[1].stop - window[1].start), ('int', win_h),
                ('ptr', self._output.ptr + slot * self._slot_bytes),
                ('int', self.contract.width), ('int', self.contract.height),
                ('int', self.contract.channels),
                *(('float', g) for g in self._gain), *(('float', o) for o in self._offset)]
        if state.launch is None or list(state.launch) != args:
            state.launch = PackedArgs(args)  # packed here, not in enqueue(): the CPU's part

    def _row_pairs(self, state: _Slot, shape: Tuple[int, ...], rows: slice,
                   win_h: int) -> np.ndarray:
        """
        Give the image rows output row ``y`` reads, at ``2 y`` and ``2 y + 1`` (cached).

        The same arithmetic as the kernel's (double, then float for bilinear).
        """
        key = (*shape[:2], rows.start, rows.stop, win_h)
        if state.rows_for != key:
            crop_h = rows.stop - rows.start
            scale, y = 1.0 / (win_h / crop_h), np.arange(win_h, dtype=np.float64)
            if self.contract.interpolation == 'nearest':
                first = np.minimum(np.floor(y * scale).astype(np.intp), crop_h - 1)
                second = first
            else:
                source = ((y + 0.5) * scale - 0.5).astype(np.float32)
                first = np.clip(np.floor(source).astype(np.intp), 0, crop_h - 1)
                second = np.minimum(first + 1, crop_h - 1)
            state.rows = np.empty(2 * win_h, np.intp)
            state.rows[0::2], state.rows[1::2] = first + rows.start, second + rows.start
            state.rows_for = key
        return state.rows

    def enqueue(self, slot: int = 0, upload: bool = True, kernel: bool = True) -> None:
        """
        Enqueue the upload of the staged crop and the kernel (the GPU's part).

        :param upload: enqueue the upload (False: the benchmark times the kernel alone).
        :param kernel: enqueue the kernel (False: the benchmark times the upload alone).
        """
        state = self._slots[slot]
        if state.host is None or state.device is None or state.launch is None:
            raise DlaInferError(f'nothing staged in slot {slot}')
        with self._api.bound():
            if upload:
                self._api.copy_htod_2d_async(state.device, state.host, state.region,
                                             self._stream)
            if kernel:
                self._kernel.launch(self._grid, _BLOCK, state.launch, self._stream)

    def _staging(self, slot: _Slot, shape: Tuple[int, ...], device_bytes: int) -> np.ndarray:
        """
        Give a pinned array of ``shape`` for the slot, and device memory of ``device_bytes``.

        Both are reused while they are large enough (frames of one camera, or of several
        encodings, cost no allocation) and grow when a frame needs more.
        """
        host_bytes = int(np.prod(shape))
        if slot.host is None or slot.device is None or slot.host.nbytes < host_bytes \
                or slot.device.nbytes < device_bytes:
            host_capacity = max(host_bytes, slot.host.nbytes if slot.host else 0)
            device_capacity = max(device_bytes, slot.device.nbytes if slot.device else 0)
            self._free_slot(slot)
            slot.host = self._api.host_buffer((host_capacity,), np.uint8)
            slot.device = self._api.device_buffer(device_capacity)
        staging: np.ndarray = slot.host.array[:host_bytes].reshape(shape)
        return staging

    @staticmethod
    def _free_slot(slot: _Slot) -> None:
        for buffer in (slot.host, slot.device):
            if buffer is not None:
                buffer.free()
        slot.host, slot.device = None, None

    def close(self) -> None:
        """Wait for the stream's work, then free the buffers, events and kernel; idempotent."""
        with self._api.bound():
            try:
                if not self._stream.is_freed:
                    self._api.synchronize(self._stream)
            finally:
                for slot in self._slots:
                    self._free_slot(slot)
                for event in self._events:
                    event.free()
                self._kernel.free()
