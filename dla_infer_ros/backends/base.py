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
The contract every inference backend follows.

A backend is constructed cheaply (it only records the model path and the
options), allocates everything in :meth:`Backend.activate` (engine or session,
stream, buffers), runs in :meth:`Backend.infer` without allocating per call,
and frees everything in :meth:`Backend.deactivate`, which is idempotent. It is
usable as a context manager. :meth:`Backend.describe` says which device really
runs the model, which is not always the one that was asked for.
"""

import abc
import dataclasses
from types import TracebackType
from typing import Any, Collection, Dict, List, Mapping, Optional, Tuple, Type

import numpy as np

from dla_infer_ros.backends.cuda.interface import CudaApi, DeviceBuffer, Stream
from dla_infer_ros.errors import DlaInferError

PRECISIONS = ('fp32', 'fp16', 'int8', 'best')
#: the batch sizes a backend takes, smallest and largest
BATCH_SIZES = (1, 256)
#: stages a backend may time per run (``last_timings()`` keys, with ``_ms``): host to device,
#: compute and device to host from CUDA events, and the CPU time spent enqueueing
DEVICE_STAGES = ('h2d', 'compute', 'd2h', 'enqueue')
#: the stages that follow one another on the device: their sum spans a query on the device
EVENT_STAGES = DEVICE_STAGES[:3]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Name, shape and element type of one model input or output."""

    name: str
    shape: Tuple[int, ...]
    dtype: np.dtype

    def describe(self) -> str:
        """:return: a one-line text such as ``input float32[1, 3, 224, 224]``."""
        dims = ', '.join(str(d) for d in self.shape)
        return f'{self.name} {np.dtype(self.dtype).name}[{dims}]'


@dataclasses.dataclass(frozen=True)
class BackendOptions:
    """
    What the user asks of a backend; every backend reads the fields it knows.

    ``dla_core`` -1 asks for the GPU, 0 or more for that DLA core. When the
    requested accelerator is missing, ``allow_gpu_fallback`` decides between
    running elsewhere (with one warning, and the truth in :meth:`describe`) and
    refusing to start. The same flag lets layers the DLA cannot run go to the GPU.
    """

    dla_core: int = -1
    allow_gpu_fallback: bool = True
    precision: str = 'fp32'
    batch_size: int = 1
    device_id: int = 0
    cpu_threads: int = 1
    engine_cache_dir: str = ''
    force_rebuild: bool = False
    calibration_dir: str = ''
    workspace_mb: int = 1024
    dla_sram_mb: int = 0
    cuda_binding: str = 'cuda-python'
    spin_wait: bool = False
    #: TensorRT tactic sources allowed in builds (trtexec --tacticSources), e.g.
    #: ('CUBLAS_LT',); () allows TensorRT's own kernels only; None keeps TensorRT's default
    tactic_sources: Optional[Tuple[str, ...]] = None
    #: the options of a backend that have no field here, by name (``option()`` reads them)
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject impossible values with a message naming them."""
        if self.dla_core < -1:
            raise DlaInferError(f'dla_core={self.dla_core} requested; use -1 for the GPU '
                                'or a DLA core index 0, 1, ...')
        if self.precision not in PRECISIONS:
            raise DlaInferError(f'precision={self.precision!r} requested; '
                                f'choose one of {", ".join(PRECISIONS)}')
        if not BATCH_SIZES[0] <= self.batch_size <= BATCH_SIZES[1]:
            raise DlaInferError(f'batch_size={self.batch_size} requested; allowed '
                                f'{BATCH_SIZES[0]}..{BATCH_SIZES[1]}')
        if self.cpu_threads < 0:
            raise DlaInferError(f'cpu_threads={self.cpu_threads} requested; '
                                'use 0 for the runtime default or a positive count')
        if not 16 <= self.workspace_mb <= 65536:
            raise DlaInferError(f'workspace_mb={self.workspace_mb} requested; allowed 16..65536')
        if self.dla_sram_mb < 0 or self.dla_sram_mb & (self.dla_sram_mb - 1):
            raise DlaInferError(f'dla_sram_mb={self.dla_sram_mb} requested; use 0 for the '
                                "TensorRT default or a power of two (Orin's DLA has 1 MiB a core)")
        if self.device_id < 0:
            raise DlaInferError(f'device_id={self.device_id} requested; must be >= 0')
        if self.tactic_sources is not None and not all(
                isinstance(n, str) and n.isidentifier() for n in self.tactic_sources):
            raise DlaInferError(f'tactic_sources={self.tactic_sources!r} requested; give '
                                "names such as ('CUBLAS_LT', 'JIT_CONVOLUTIONS') or ()")
        if self.cuda_binding not in ('cuda-python', 'pycuda'):
            raise DlaInferError(f'cuda_binding={self.cuda_binding!r} requested; '
                                "choose 'cuda-python' or 'pycuda'")

    def option(self, name: str) -> Any:
        """
        Read a backend option: a value of ``extra``, a field, or the option's declared default.

        :raises DlaInferError: for a name no backend declares.
        """
        if name in self.extra:
            return self.extra[name]
        if name in {field.name for field in dataclasses.fields(self)}:
            return getattr(self, name)
        from dla_infer_ros.schema import setting  # the declarations read the registry
        return setting(name).default

    @property
    def requested_device(self) -> str:
        """:return: the requested accelerator as text, ``GPU`` or ``DLA core N``."""
        return 'GPU' if self.dla_core < 0 else f'DLA core {self.dla_core}'


@dataclasses.dataclass(frozen=True)
class LayerPlacement:
    """
    Where the layers of a model run: one entry per layer, plus counts.

    For a TensorRT engine the layers are the engine's own (after fusion, as its
    inspector lists them); the reformat layers TensorRT inserts between formats
    or between GPU and DLA memory are kept apart in ``reformats``: they run on
    the GPU but are not layers of the model.
    """

    layers: Tuple[Tuple[str, str], ...] = ()  # (layer name, 'DLA' | 'GPU' | 'CPU')
    fallen_back: Tuple[str, ...] = ()  # layers asked on the DLA that run on the GPU
    reformats: Tuple[str, ...] = ()  # format / memory conversions inserted by the runtime

    def counts(self) -> Dict[str, int]:
        """:return: number of layers per device, e.g. ``{'DLA': 52, 'GPU': 3}``."""
        result: Dict[str, int] = {}
        for _, device in self.layers:
            result[device] = result.get(device, 0) + 1
        return result

    def summary(self) -> str:
        """:return: e.g. ``layers: 2 on DLA, 3 on GPU (3 fell back to GPU); 4 reformats``."""
        counts = self.counts()
        if not counts:
            return 'layer placement unknown'
        parts = [f'{n} on {dev}' for dev, n in sorted(counts.items())]
        text = 'layers: ' + ', '.join(parts)
        if self.fallen_back:
            text += f' ({len(self.fallen_back)} fell back to GPU)'
        if self.reformats:
            text += f'; {len(self.reformats)} reformat layer{"s" * (len(self.reformats) > 1)}'
        return text


@dataclasses.dataclass(frozen=True)
class DeviceReport:
    """What was asked for and what really runs the model."""

    backend: str
    requested: str
    effective: str
    fallback_reason: str = ''
    placement: LayerPlacement = LayerPlacement()
    details: Tuple[Tuple[str, str], ...] = ()

    @property
    def fell_back(self) -> bool:
        """:return: True when the model does not run where it was asked to."""
        return bool(self.fallback_reason)

    def summary(self) -> str:
        """:return: e.g. ``DLA core 1 requested -> GPU (no DLA on this host)``."""
        text = f'{self.requested} requested -> {self.effective}'
        if self.fallback_reason:
            text += f' ({self.fallback_reason})'
        return text


@dataclasses.dataclass(frozen=True)
class DeviceInput:
    """
    An input tensor's device memory, for a caller that writes it on the GPU.

    Work enqueued on ``stream`` before :meth:`Backend.infer` (with the input named in
    ``on_device``) is complete before the model reads the buffer: no host wait between.
    """

    cuda: CudaApi
    buffer: DeviceBuffer  # the whole tensor (every batch slot), row-major
    stream: Stream  # the stream the model runs on


class Backend(abc.ABC):
    """Base class of the inference backends (see the module docstring)."""

    #: Name used to pick the backend (``backend`` parameter).
    name = 'abstract'

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None) -> None:
        """
        Record what to run; allocate nothing.

        :param model_path: path of the model (ONNX, or a serialized engine).
        :param options: requested device, precision, batch and tuning.
        """
        self.model_path = model_path
        self.options = options or BackendOptions()
        self._active = False

    @property
    def is_active(self) -> bool:
        """:return: True between :meth:`activate` and :meth:`deactivate`."""
        return self._active

    @property
    @abc.abstractmethod
    def inputs(self) -> List[TensorSpec]:
        """Describe each model input; valid after :meth:`activate`."""

    @property
    @abc.abstractmethod
    def outputs(self) -> List[TensorSpec]:
        """Describe each model output; valid after :meth:`activate`."""

    def activate(self) -> None:
        """Load the model and allocate every buffer; a second call does nothing."""
        if not self._active:
            self._activate_impl()
            self._active = True

    def deactivate(self) -> None:
        """Free everything :meth:`activate` allocated; safe to call any number of times."""
        if self._active:
            self._active = False
            self._deactivate_impl()

    def infer(self, feed: Mapping[str, np.ndarray],
              on_device: Collection[str] = ()) -> Dict[str, np.ndarray]:
        """
        Run the model once.

        :param feed: one array per input name, of the input's shape and dtype.
        :param on_device: inputs already written into their :meth:`device_input`
            memory on its stream; they are not in ``feed``.
        :return: one array per output name. The arrays belong to the backend
            and stay valid until the next call; copy what must outlive it.
        :raises DlaInferError: when inactive, on a bad feed, or when the run fails.
        """
        if not self._active:
            raise DlaInferError(f'{self.name} backend: infer() called before activate()')
        self._check_feed(feed, on_device)
        return self._infer_impl(feed, on_device)

    def input_buffers(self) -> Dict[str, np.ndarray]:
        """
        Offer the backend's own input memory for the caller to write into.

        A caller that fills these arrays in place and passes them back in the
        feed saves one copy per frame (the TensorRT backend's pinned host
        buffers, which the GPU copies from directly).

        :return: one writable array per input name, valid while active; empty
            when the backend has none to offer.
        """
        return {}

    def device_input(self, name: str) -> DeviceInput:
        """
        Offer an input's device memory and the model's stream, to write it on the GPU.

        :return: the input's buffer, stream and CUDA layer, valid while active.
        :raises DlaInferError: saying why, when the backend cannot offer it (its inputs
            live in host memory, or the engine reads a padded or vectorised format).
        """
        raise DlaInferError(f'the {self.name} backend takes its inputs from host memory')

    def last_timings(self) -> Dict[str, float]:
        """
        Give device-side stage times of the last :meth:`infer`, where the backend measures them.

        :return: milliseconds per :data:`DEVICE_STAGES` entry the backend measures, e.g.
            ``{'h2d_ms': 0.1, 'compute_ms': 2.0, 'd2h_ms': 0.01}``; empty by default.
        """
        return {}

    @abc.abstractmethod
    def describe(self) -> DeviceReport:
        """:return: the requested and the effective device, and the layer placement."""

    @abc.abstractmethod
    def _activate_impl(self) -> None:
        """Allocate (called once per activation)."""

    @abc.abstractmethod
    def _deactivate_impl(self) -> None:
        """Free (called once per activation)."""

    @abc.abstractmethod
    def _infer_impl(self, feed: Mapping[str, np.ndarray],
                    on_device: Collection[str]) -> Dict[str, np.ndarray]:
        """Run on a checked feed (``on_device``: inputs written in device memory)."""

    def _check_feed(self, feed: Mapping[str, np.ndarray], on_device: Collection[str]) -> None:
        names = {spec.name for spec in self.inputs}
        for name in on_device:
            if name not in names:
                raise DlaInferError(f'{self.name} backend: input {name!r} written on the '
                                    f'device is not a model input; it has {sorted(names)}')
        for spec in self.inputs:
            if spec.name in on_device:
                continue
            array = feed.get(spec.name)
            if array is None:
                raise DlaInferError(f'{self.name} backend: input {spec.name!r} missing; '
                                    f'got {sorted(feed)}')
            if tuple(array.shape) != spec.shape or array.dtype != spec.dtype:
                raise DlaInferError(
                    f'{self.name} backend: input {spec.name!r} is '
                    f'{array.dtype.name}{list(array.shape)}, the model needs {spec.describe()}')

    def __enter__(self) -> 'Backend':
        """Activate on entering a ``with`` block."""
        self.activate()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        """Deactivate on leaving a ``with`` block, also on error."""
        self.deactivate()
