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
INT8 calibration: where the batches come from, and the entropy calibrator.

A *batch source* is any callable that, called once per calibration run with
the model input's full shape (batch first), yields float32 arrays of that
shape. :class:`FolderBatchSource` is the default one: it reads a folder of images with
OpenCV and passes each through a preprocessing function that the caller
injects (the node passes its own, so calibration sees exactly what inference
sees). The calibrator is TensorRT's ``IInt8EntropyCalibrator2``, the one the
DLA requires; it keeps a calibration cache so that later builds skip the run.
"""

import dataclasses
import hashlib
import logging
import os
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from dla_infer_ros.backends.cuda import CudaApi, DeviceBuffer, HostBuffer, Stream
from dla_infer_ros.backends.tensorrt.engine_cache import atomic_write, file_lock, sha256_file
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.image_conversion import read_image_file

#: called with the input's full shape (batch first); yields float32 arrays of that shape
#: (it may refill and yield the same array each time)
BatchSource = Callable[[Tuple[int, ...]], Iterable[np.ndarray]]
#: one BGR uint8 image (H, W, 3) -> float32 array of one sample's shape, e.g. (3, 224, 224)
Preprocess = Callable[[np.ndarray], np.ndarray]

IMAGE_SUFFIXES = ('.bmp', '.jpeg', '.jpg', '.pgm', '.png', '.ppm', '.tif', '.tiff', '.webp')


def list_images(folder: str) -> List[str]:
    """
    List the images of a calibration folder, sorted by name.

    :raises DlaInferError: when the folder is missing or holds no image.
    """
    if not os.path.isdir(folder):
        raise DlaInferError(f'calibration folder {folder!r} does not exist')
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise DlaInferError(f'calibration folder {folder!r} holds no image '
                            f'({", ".join(IMAGE_SUFFIXES)})')
    return [os.path.join(folder, n) for n in names]


def folder_fingerprint(folder: str) -> str:
    """:return: sha256 over the names and sizes of the folder's images (order-stable)."""
    digest = hashlib.sha256()
    for path in list_images(folder):
        digest.update(f'{os.path.basename(path)}\0{os.path.getsize(path)}\n'.encode())
    return digest.hexdigest()


class FolderBatchSource:
    """Batches from a folder of images, through an injected preprocessing function."""

    def __init__(self, folder: str, preprocess: Preprocess, max_images: int = 0,
                 log: Optional[logging.Logger] = None) -> None:
        """
        Describe the source; nothing is read until it is called.

        :param folder: images, read in name order.
        :param preprocess: BGR uint8 image -> float32 sample, shaped as one batch
            entry of the model input (e.g. (3, 224, 224)).
        :param max_images: read at most this many (0: all).
        :param log: where a dropped partial batch is reported.
        """
        self.folder = folder
        self.preprocess = preprocess
        self.max_images = max_images
        self._log = log or logging.getLogger(__name__)

    def __call__(self, input_shape: Tuple[int, ...]) -> Iterator[np.ndarray]:
        """
        Yield full batches; the same array is refilled for each one.

        :param input_shape: the model input's full shape, batch first.
        :raises DlaInferError: for an unreadable image or a sample of the wrong shape.
        """
        paths = list_images(self.folder)
        if self.max_images > 0:
            paths = paths[:self.max_images]
        if len(paths) < input_shape[0]:
            raise DlaInferError(f'calibration folder {self.folder!r} holds {len(paths)} '
                                f'image(s); batch {input_shape[0]} needs at least as many '
                                '(or calibrate at batch 1 and give its calibration cache file '
                                'as calibration_dir)')
        batch = np.empty(input_shape, dtype=np.float32)
        filled = 0
        for path in paths:
            image = read_image_file(path)
            if image is None:
                raise DlaInferError(f'cannot read calibration image {path!r}')
            sample = np.asarray(self.preprocess(image))
            if sample.shape != input_shape[1:]:
                raise DlaInferError(f'preprocessing gave {list(sample.shape)} for {path!r}, '
                                    f'the model input needs {list(input_shape[1:])}')
            batch[filled] = sample
            filled += 1
            if filled == input_shape[0]:
                yield batch
                filled = 0
        if filled:
            self._log.warning(f'calibration: last {filled} image(s) dropped, '
                              f'TensorRT takes full batches of {input_shape[0]}')


@dataclasses.dataclass(frozen=True)
class CalibrationPlan:
    """Where calibration data comes from and where its cache lives."""

    identity: str  # part of the engine cache key
    read_path: str  # calibration cache to try first
    write_path: str  # where TensorRT's calibration cache is saved ('' = not saved)
    source: Optional[BatchSource]  # None: only the cache file is used


def plan_calibration(calibration: str, cache_dir: str, model_sha: str, batch: int,
                     source: Optional[BatchSource]) -> CalibrationPlan:
    """
    Decide how INT8 calibration runs for ``BackendOptions.calibration_dir``.

    A folder of images is calibrated through ``source`` and cached under
    ``cache_dir``; a file is taken as a ready calibration cache (as trtexec's
    ``--calib``). The identity, part of the engine cache key, is the sha256 of
    that file, or of the folder's image names and sizes; the preprocessing is
    not part of it, so after changing the preprocessing, rebuild with
    ``force_rebuild`` (and delete the ``calib.*.cache`` file).

    :param source: reads the folder (e.g. a :class:`FolderBatchSource`).
    :raises DlaInferError: when the path is missing, the folder holds no image,
        or a folder is given without a source.
    """
    if os.path.isfile(calibration):
        digest = sha256_file(calibration)
        return CalibrationPlan(f'cache:{digest}', calibration, '', None)
    digest = folder_fingerprint(calibration)
    if source is None:
        raise DlaInferError(f'calibration_dir={calibration!r} holds images but no preprocessing '
                            'was given to read them (calibration_preprocess)')
    cache_name = f'calib.{model_sha[:16]}.{digest[:16]}.b{batch}.cache'
    cache_path = os.path.join(cache_dir, cache_name)
    return CalibrationPlan(f'images:{digest}', cache_path, cache_path, source)


class CalibrationFeeder:
    """
    What the entropy calibrator does, kept free of TensorRT so it reads (and tests) plainly.

    TensorRT calls the calibrator from C++, where a Python exception cannot
    travel: :meth:`next_batch` stores the first error in ``error`` and ends
    the run; the builder raises it once ``build_serialized_network`` returns.
    The device and pinned buffers are allocated on the first batch and freed
    by :meth:`close`.
    """

    def __init__(self, plan: CalibrationPlan, input_shape: Sequence[int], cuda: CudaApi,
                 log: logging.Logger) -> None:
        """
        Prepare to feed ``plan``'s batches.

        :param plan: the batch source and the calibration cache paths.
        :param input_shape: the full input shape, batch first.
        :param cuda: the CUDA layer used to copy batches to the device.
        :param log: where progress and errors go.
        """
        self.plan = plan
        self.shape: Tuple[int, ...] = tuple(int(d) for d in input_shape)
        self.error: Optional[BaseException] = None
        self.batches_fed = 0
        self._cuda = cuda
        self._log = log
        self._batches: Optional[Iterator[np.ndarray]] = None
        self._buffers: Optional[Tuple[HostBuffer, DeviceBuffer, Stream]] = None

    @property
    def batch_size(self) -> int:
        """:return: the calibration batch size (the input's first dimension)."""
        return self.shape[0]

    def next_batch(self, names: Sequence[str]) -> Optional[List[int]]:
        """:return: the device address of the next batch, or None at the end or on error."""
        if self.error is not None:
            return None
        try:
            return self._next_batch(names)
        except Exception as e:  # must not propagate into TensorRT; raised after the build
            self.error = e
            self._log.error(f'calibration stopped: {e}')
            return None

    def _next_batch(self, names: Sequence[str]) -> Optional[List[int]]:
        if len(names) != 1:
            raise DlaInferError(f'INT8 calibration supports one input, the model has '
                                f'{len(names)}: {list(names)}')
        if self.plan.source is None:
            raise DlaInferError(f'calibration cache {self.plan.read_path!r} was not accepted '
                                'by TensorRT and there are no images to calibrate with')
        if self._batches is None:
            self._batches = iter(self.plan.source(self.shape))
            self._buffers = (self._cuda.host_buffer(self.shape, np.float32),
                             self._cuda.device_buffer(int(np.prod(self.shape)) * 4),
                             self._cuda.stream())
        batch = next(self._batches, None)
        if batch is None:
            self._log.info(f'calibration: {self.batches_fed} batch(es) of {self.shape[0]} fed')
            return None
        if batch.shape != self.shape or batch.dtype != np.float32:
            raise DlaInferError(f'calibration batch is {batch.dtype.name}{list(batch.shape)}, '
                                f'the input needs float32{list(self.shape)}')
        host, device, stream = self._buffers  # type: ignore[misc]
        np.copyto(host.array, batch)
        self._cuda.copy_htod_async(device, host, stream)
        self._cuda.synchronize(stream)
        self.batches_fed += 1
        return [device.ptr]

    def read_cache(self) -> Optional[bytes]:
        """:return: the calibration cache, or None when there is none yet."""
        if not os.path.isfile(self.plan.read_path):
            return None
        with file_lock(self.plan.read_path, exclusive=False), \
                open(self.plan.read_path, 'rb') as f:
            data = f.read()
        self._log.info(f'calibration: using cache {self.plan.read_path} ({len(data)} bytes)')
        return data

    def write_cache(self, cache: Any) -> None:
        """Save TensorRT's calibration cache (atomically, under the cache lock)."""
        if not self.plan.write_path:
            return
        try:
            with file_lock(self.plan.write_path, exclusive=True):
                atomic_write(self.plan.write_path, bytes(cache))
            self._log.info(f'calibration: wrote cache {self.plan.write_path}')
        except OSError as e:
            if self.error is None:
                self.error = e
            self._log.error(f'calibration: cannot write cache {self.plan.write_path}: {e}')

    def close(self) -> None:
        """Free the batch buffers; safe to call again."""
        buffers, self._buffers = self._buffers, None
        for resource in buffers or ():
            resource.free()


def make_entropy_calibrator(trt: ModuleType, plan: CalibrationPlan, input_shape: Sequence[int],
                            cuda: CudaApi, log: logging.Logger) -> Any:
    """
    Create a ``trt.IInt8EntropyCalibrator2`` that delegates to a :class:`CalibrationFeeder`.

    :param trt: the imported ``tensorrt`` module.
    :param plan: the batch source and the calibration cache paths.
    :param input_shape: the full input shape, batch first.
    :param cuda: the CUDA layer used to copy batches to the device.
    :param log: where progress and errors go.
    :return: the calibrator; ``error`` holds a calibration failure, ``close()`` frees.
    """
    feeder = CalibrationFeeder(plan, input_shape, cuda, log)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[name-defined,misc]
        """TensorRT's entropy calibrator (the one the DLA requires) over the feeder."""

        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.feeder = feeder

        def get_batch_size(self) -> int:
            return feeder.batch_size

        def get_batch(self, names: List[str]) -> Optional[List[int]]:
            return feeder.next_batch(names)

        def read_calibration_cache(self) -> Optional[bytes]:
            return feeder.read_cache()

        def write_calibration_cache(self, cache: Any) -> None:
            feeder.write_cache(cache)

        @property
        def error(self) -> Optional[BaseException]:
            return feeder.error

        def close(self) -> None:
            feeder.close()

    return EntropyCalibrator()
