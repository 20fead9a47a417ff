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
The data path without ROS: image array -> tensor -> backend -> scores -> results.

:class:`Classifier` joins a model contract, a :class:`Preprocessor` (or, when the
backend offers its input in GPU memory, a :class:`GpuPreprocessor` writing it there on
the engine's stream), a backend and a :class:`Postprocessor`, and times each stage
with a monotonic clock (and the GPU's part with CUDA events). The ROS node and the
command-line tools only translate to and from it.
"""

import dataclasses
import time
from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import numpy as np

from dla_infer_ros.backends import (Backend, backend_entry, BackendOptions, create_backend,
                                    DEVICE_STAGES, DeviceReport, TensorSpec)
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.gpu_preprocessing import GpuPreprocessor
from dla_infer_ros.model_contract import load_labels, ModelContract
from dla_infer_ros.postprocessing import Postprocessor, Result
from dla_infer_ros.preprocessing import ORDERS, Preprocessor

#: Where preprocessing may run: ``auto`` takes the GPU when the backend offers its input in
#: GPU memory (TensorRT on a GPU or DLA) and says why not otherwise.
PREPROCESS_DEVICES = ('auto', 'cpu', 'gpu')
#: Stages timed by the host clock in every :meth:`Classifier.classify`.
HOST_STAGES = ('preprocess', 'inference', 'postprocess')
#: Every stage :attr:`Classifier.last_timings` may hold: the host's, the GPU preprocessing's
#: uploads and kernel (CUDA events), and the backend's device stages.
STAGES = (*HOST_STAGES, 'preprocess_gpu', *DEVICE_STAGES)


class Classifier:
    """Classifies uint8 images with one model on one backend."""

    def __init__(self, contract: ModelContract, backend: str = 'auto',
                 options: Optional[BackendOptions] = None, top_k: int = 5,
                 score_threshold: float = 0.0,
                 backend_kwargs: Optional[Dict[str, Any]] = None,
                 preprocess_device: str = 'auto') -> None:
        """
        Prepare everything that needs no device; :meth:`activate` loads the model.

        :param contract: the model and its input/output contract.
        :param backend: ``auto``, ``onnxruntime`` or ``tensorrt``.
        :param options: requested device, precision and batch size.
        :param top_k: results per image.
        :param score_threshold: minimum score of a result.
        :param backend_kwargs: extra keyword arguments of the backend class (e.g. the
            TensorRT backend's ``log``).
        :param preprocess_device: one of :data:`PREPROCESS_DEVICES`.
        """
        if preprocess_device not in PREPROCESS_DEVICES:
            raise DlaInferError(f'preprocess_device={preprocess_device!r}; expected one of '
                                + ', '.join(PREPROCESS_DEVICES))
        self.preprocess_device = preprocess_device
        #: Where preprocessing runs, and why not on the GPU where it could: set by activate().
        self.preprocessing = 'not active'
        self.gpu_preprocessor: Optional[GpuPreprocessor] = None
        self.contract = contract
        self.options = options or BackendOptions()
        Postprocessor.validate(top_k, score_threshold)
        self.top_k = top_k
        self.score_threshold = score_threshold
        self.preprocessor = Preprocessor(contract.input_contract, self.options.batch_size)
        extra: Dict[str, Any] = dict(backend_kwargs or {})
        if backend_entry(backend).calibration_hook:
            # INT8 calibration reads images through this model's own preprocessing.
            extra['calibration_preprocess'] = self._calibration_sample
        self.backend: Backend = create_backend(backend, contract.model_path, self.options,
                                               **extra)
        self.postprocessor: Optional[Postprocessor] = None
        self._output_name = ''  # the scores' output, found by activate()
        #: Milliseconds spent in each stage by the last :meth:`classify` call.
        self.last_timings: Dict[str, float] = dict.fromkeys(HOST_STAGES, 0.0)
        self._no_feed: Dict[str, np.ndarray] = {}
        self._on_device: Tuple[str, ...] = ()

    def _calibration_sample(self, bgr: np.ndarray) -> np.ndarray:
        sampler = Preprocessor(self.contract.input_contract, 1)
        sampler.process(bgr, 'BGR')
        sample: np.ndarray = sampler.tensor[0]
        return sample

    @property
    def batch_size(self) -> int:
        """:return: the number of images one :meth:`classify` call takes at most."""
        return self.options.batch_size

    @property
    def orders(self) -> Tuple[str, ...]:
        """:return: the channel orders :meth:`classify` reads as they are."""
        return self.gpu_preprocessor.orders if self.gpu_preprocessor is not None else ORDERS

    def activate(self) -> None:
        """
        Load the model on its device, check it against the contract, place preprocessing.

        :raises DlaInferError: when the model cannot run as asked, or the GPU was asked
            for preprocessing and cannot do it (saying why); nothing stays allocated.
        """
        self.backend.activate()
        try:
            self._check_backend_io()
            offered = self.backend.input_buffers().get(self.contract.input_contract.name)
            if offered is not None:
                # Preprocess straight into the backend's (pinned) input memory: one copy less.
                self.preprocessor.write_into(offered)
            output = self._output_spec()
            num_classes = int(np.prod(output.shape[1:]))
            labels = load_labels(self.contract.labels_path, num_classes)
            postprocessor = Postprocessor(num_classes, labels, self.contract.output_kind,
                                          self.top_k, self.score_threshold)
            self._place_preprocessing()
        except BaseException:
            self.deactivate()
            raise
        self._output_name = output.name
        self.postprocessor = postprocessor

    def _place_preprocessing(self) -> None:
        """Use the GPU for preprocessing where asked and possible; say where it runs."""
        if self.preprocess_device == 'cpu':
            self.preprocessing = 'CPU (preprocess_device=cpu)'
            return
        name = self.contract.input_contract.name
        try:
            target = self.backend.device_input(name)
            self.gpu_preprocessor = GpuPreprocessor(self.preprocessor.contract, self.batch_size,
                                                    target.cuda, target.buffer, target.stream)
        except DlaInferError as e:
            if self.preprocess_device == 'gpu':
                raise DlaInferError(f'preprocess_device=gpu cannot be met: {e}') from e
            self.preprocessing = f'CPU (not on the GPU: {e})'
            return
        self.preprocessing = 'GPU (one kernel on the inference stream)'
        self._on_device = (name,)

    def deactivate(self) -> None:
        """Free the GPU preprocessing and the backend; safe to call repeatedly."""
        self.postprocessor = None
        self._on_device = ()
        gpu, self.gpu_preprocessor = self.gpu_preprocessor, None
        try:
            if gpu is not None:
                gpu.close()
        finally:
            # The tensor may be backend memory about to be freed: go back to our own.
            self.preprocessor.write_into(None)
            self.backend.deactivate()
            self.preprocessing = 'not active'

    def describe(self) -> DeviceReport:
        """:return: what was asked for and what really runs the model, and the preprocessing."""
        report = self.backend.describe()
        preprocessing = (('preprocessing', self.preprocessing),)
        return dataclasses.replace(report, details=report.details + preprocessing)

    def set_limits(self, top_k: int, score_threshold: float) -> None:
        """
        Change top-k and the score threshold; effective from the next frame.

        :raises DlaInferError: for values out of range.
        """
        Postprocessor.validate(top_k, score_threshold)
        self.top_k, self.score_threshold = top_k, score_threshold
        if self.postprocessor is not None:
            self.postprocessor.top_k = top_k
            self.postprocessor.score_threshold = score_threshold

    def classify(self, images: Sequence[np.ndarray], order: str) -> List[List[Result]]:
        """
        Classify up to ``batch_size`` images in one backend run.

        :param images: uint8 images (H×W×3 for RGB/BGR, H×W×4 for RGBA/BGRA, H×W for GRAY).
        :param order: channel order of the images, one of :attr:`orders`.
        :return: one result list per image, best first.
        :raises DlaInferError: when inactive, for too many or malformed images,
            or when the backend fails.
        """
        if self.postprocessor is None:
            raise DlaInferError('classify() called before activate()')
        if not 1 <= len(images) <= self.batch_size:
            raise DlaInferError(f'{len(images)} images given; batch_size is {self.batch_size}')
        gpu = self.gpu_preprocessor
        t0 = time.perf_counter_ns()
        if gpu is not None:
            gpu.run(images, order)
            t1 = time.perf_counter_ns()
            outputs = self.backend.infer(self._no_feed, self._on_device)
        else:
            for slot, image in enumerate(images):
                self.preprocessor.process(image, order, slot)
            t1 = time.perf_counter_ns()
            outputs = self.backend.infer({self.contract.input_contract.name:
                                          self.preprocessor.tensor})
        t2 = time.perf_counter_ns()
        scores = outputs[self._output_name]
        results = [self.postprocessor.process(scores[i]) for i in range(len(images))]
        t3 = time.perf_counter_ns()
        self.last_timings['preprocess'] = (t1 - t0) / 1e6
        self.last_timings['inference'] = (t2 - t1) / 1e6
        self.last_timings['postprocess'] = (t3 - t2) / 1e6
        if gpu is not None:
            self.last_timings['preprocess_gpu'] = gpu.elapsed_ms()
        for key, value in self.backend.last_timings().items():  # h2d_ms -> h2d
            self.last_timings[key[:-3] if key.endswith('_ms') else key] = value
        return results

    def _output_spec(self) -> TensorSpec:
        outputs = {o.name: o for o in self.backend.outputs}
        if self.contract.output_name in outputs:
            return outputs[self.contract.output_name]
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        raise DlaInferError(f'output {self.contract.output_name!r} not in the model; '
                            f'it has {sorted(outputs)}')

    def _check_backend_io(self) -> None:
        expected = self.preprocessor.tensor
        specs = {s.name: s for s in self.backend.inputs}
        name = self.contract.input_contract.name
        spec = specs.get(name)
        if spec is None:
            raise DlaInferError(f'model input {name!r} named in the contract '
                                f'is not in the model; it has {sorted(specs)}')
        if (spec.shape == expected.shape and spec.dtype != expected.dtype
                and spec.dtype.kind == expected.dtype.kind == 'f'):
            # The engine takes another float type than the ONNX model (a DLA-only engine
            # reads FP16): preprocess straight into that type.
            contract = dataclasses.replace(self.contract.input_contract,
                                           dtype=np.dtype(spec.dtype).name)
            self.preprocessor = Preprocessor(contract, self.options.batch_size)
            expected = self.preprocessor.tensor
        if spec.shape != expected.shape or spec.dtype != expected.dtype:
            raise DlaInferError(
                f'the contract describes input {expected.dtype.name}{list(expected.shape)}, '
                f'the model has {spec.describe()}')

    def __enter__(self) -> 'Classifier':
        """Activate on entering a ``with`` block."""
        self.activate()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        """Deactivate on leaving a ``with`` block."""
        self.deactivate()
