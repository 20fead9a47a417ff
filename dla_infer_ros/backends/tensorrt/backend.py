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
The TensorRT backend: an ONNX model or a serialized engine on the GPU or a DLA core.

Activation decides the device (:mod:`.policy`), loads the engine from the
cache or builds it (:mod:`.engine_cache`, :mod:`.builder`), deserializes it
with the runtime's DLA core set first (:mod:`.runtime`), allocates one pinned
host and one device buffer per tensor, a stream and four events through the
CUDA layer, and reads the layer placement (:mod:`.placement`). ``infer()``
then only copies, enqueues and waits, and records the H2D, compute and D2H
times of the last run (:meth:`TensorRtBackend.last_timings`).
"""

import dataclasses
import logging
import os
import threading
import time
from types import ModuleType
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Tuple

import numpy as np

from dla_infer_ros.backends.base import (Backend, BackendOptions, DEVICE_STAGES, DeviceInput,
                                         DeviceReport, LayerPlacement, TensorSpec)
from dla_infer_ros.backends.cuda import (create_cuda_api, CudaApi, DeviceBuffer, Event,
                                         HostBuffer, Resources, Stream)
from dla_infer_ros.backends.tensorrt.builder import build_plan, BuildRequest, DlaMemoryPools
from dla_infer_ros.backends.tensorrt.calibrator import (BatchSource, CalibrationPlan,
                                                        FolderBatchSource,
                                                        make_entropy_calibrator,
                                                        plan_calibration, Preprocess)
from dla_infer_ros.backends.tensorrt.engine_cache import (CacheKey, decode_plan_file,
                                                          EngineCache, MAGIC, PlanFileError,
                                                          sha256_file)
from dla_infer_ros.backends.tensorrt.loader import (check_supported, load_tensorrt,
                                                    tensorrt_version, TrtVersion)
from dla_infer_ros.backends.tensorrt.logging_bridge import make_logger
from dla_infer_ros.backends.tensorrt.placement import (engine_information,
                                                       placement_from_inspector,
                                                       placement_from_meta, placement_to_meta)
from dla_infer_ros.backends.tensorrt.policy import (choose_device, choose_precision,
                                                    DeviceChoice, PrecisionChoice)
from dla_infer_ros.backends.tensorrt.runtime import (bind_address, create_context,
                                                     create_runtime, deserialize, execute,
                                                     io_tensors, IoTensor, PlanRejectedError)
from dla_infer_ros.errors import DlaInferError

#: bumped when the cache key or the plan file meta change meaning
CACHE_KEY_FORMAT = 2
_MIB = 1 << 20

CudaFactory = Callable[[str, int], CudaApi]


@dataclasses.dataclass
class _PlanSource:
    """A plan, where it came from, and how to get a fresh one if TensorRT refuses it."""

    plan: bytes
    meta: Dict[str, Any]
    path: str
    origin: str  # 'built', 'cache' or 'file'
    rebuild: Optional[Callable[[str], '_PlanSource']] = None  # called with why


@dataclasses.dataclass
class _Binding:
    tensor: IoTensor
    host: HostBuffer
    device: DeviceBuffer
    view: np.ndarray  # the tensor's logical shape over ``host`` (strided when rows are padded)


@dataclasses.dataclass
class _Active:
    """Everything one activation holds; released by ``_deactivate_impl``."""

    cuda: CudaApi
    resources: Resources
    trt_logger: Any = None
    runtime: Any = None
    engine: Any = None
    context: Any = None
    stream: Optional[Stream] = None
    events: Tuple[Event, ...] = ()
    inputs: List[_Binding] = dataclasses.field(default_factory=list)
    outputs: List[_Binding] = dataclasses.field(default_factory=list)
    output_arrays: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    inspector_json: str = ''


def dla_core_count(tensorrt_module: Optional[ModuleType] = None) -> int:
    """
    Count the DLA cores of this device, as the backend would see them.

    :param tensorrt_module: the ``tensorrt`` module to ask (default: import it).
    :return: 0 on hosts without a DLA (x86 GPUs, Thor), 1 or 2 on Xavier and Orin.
    :raises DlaInferError: when TensorRT is missing or cannot create a runtime.
    """
    trt = tensorrt_module if tensorrt_module is not None else load_tensorrt()
    logger = make_logger(trt, logging.getLogger('dla_infer_ros.tensorrt'))
    return int(create_runtime(trt, logger).num_DLA_cores)


class TensorRtBackend(Backend):
    """TensorRT on the GPU or a DLA core, with engine cache and placement report."""

    name = 'tensorrt'

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None, *,
                 calibration_preprocess: Optional[Preprocess] = None,
                 calibration_source: Optional[BatchSource] = None,
                 dla_pools: Optional[DlaMemoryPools] = None,
                 tensorrt_module: Optional[ModuleType] = None,
                 cuda_factory: CudaFactory = create_cuda_api,
                 log: Optional[logging.Logger] = None) -> None:
        """
        Record what to run; nothing is loaded or allocated.

        :param model_path: an ONNX model (built and cached) or a serialized
            engine (a cache file or a raw plan, e.g. from trtexec).
        :param options: device, fallback, precision, batch, cache, CUDA binding.
        :param calibration_preprocess: BGR uint8 image -> float32 input sample;
            reads ``calibration_dir`` images for INT8.
        :param calibration_source: a ready batch source instead (wins over the former).
        :param dla_pools: DLA memory pool limits for DLA builds (default: the managed
            SRAM of ``options.dla_sram_mb``, TensorRT's defaults for the rest).
        :param tensorrt_module: the ``tensorrt`` module to use (default: import it).
        :param cuda_factory: creates the CUDA layer from (binding, device id).
        :param log: where build, cache and fallback messages go.
        """
        super().__init__(model_path, options)
        self._log = log or logging.getLogger('dla_infer_ros.tensorrt')
        self._calibration_source = calibration_source
        if calibration_source is None and calibration_preprocess is not None:
            self._calibration_source = FolderBatchSource(
                self.options.calibration_dir, calibration_preprocess, log=self._log)
        self._dla_pools = dla_pools or DlaMemoryPools(
            managed_sram=self.options.dla_sram_mb * _MIB)
        self._trt_module = tensorrt_module
        self._cuda_factory = cuda_factory
        self._state: Optional[_Active] = None
        self._inputs: List[TensorSpec] = []
        self._outputs: List[TensorSpec] = []
        self._report = DeviceReport(self.name, self.options.requested_device, 'not active')
        self._timings: Dict[str, float] = dict.fromkeys(
            (f'{stage}_ms' for stage in DEVICE_STAGES), 0.0)
        self._lock = threading.Lock()

    @property
    def inputs(self) -> List[TensorSpec]:
        """:return: the engine inputs, known once active."""
        return self._inputs

    @property
    def outputs(self) -> List[TensorSpec]:
        """:return: the engine outputs, known once active."""
        return self._outputs

    def input_buffers(self) -> Dict[str, np.ndarray]:
        """:return: the pinned host buffer of each input (see :meth:`Backend.input_buffers`)."""
        state = self._state
        if state is None:
            return {}
        return {binding.tensor.name: binding.view for binding in state.inputs}

    def device_input(self, name: str) -> DeviceInput:
        """
        Offer an input's device buffer and the engine's stream (see :meth:`Backend.device_input`).

        :raises DlaInferError: when inactive, for an unknown input, or for one the engine
            reads in a padded format (``DLA_LINEAR``): a writer of plain rows would misplace it.
        """
        state = self._state
        if state is None or state.stream is None:
            raise DlaInferError('tensorrt backend: device_input() needs activate()')
        for binding in state.inputs:
            if binding.tensor.name != name:
                continue
            if binding.tensor.storage_shape != binding.tensor.shape:
                raise DlaInferError(f'the engine reads input {name!r} in the '
                                    f'{binding.tensor.memory_format} format (rows padded to '
                                    '64 bytes)')
            return DeviceInput(state.cuda, binding.device, state.stream)
        raise DlaInferError(f'tensorrt backend: no input {name!r}; the engine has '
                            f'{[b.tensor.name for b in state.inputs]}')

    def describe(self) -> DeviceReport:
        """:return: requested and effective device, precision, engine origin, placement."""
        return self._report

    def __enter__(self) -> 'TensorRtBackend':
        """Activate on entering a ``with`` block."""
        self.activate()
        return self

    def last_timings(self) -> Dict[str, float]:
        """
        Give the stage times of the last run.

        :return: ``h2d_ms``, ``compute_ms``, ``d2h_ms`` (CUDA events) and ``enqueue_ms``
            (CPU time in ``execute_async_v3``, trtexec's enqueue time).
        """
        return dict(self._timings)

    def engine_information(self) -> str:
        """
        Describe the active engine with TensorRT's engine inspector.

        :return: the inspector's JSON text.
        :raises DlaInferError: when inactive.
        """
        if self._state is None:
            raise DlaInferError('tensorrt backend: engine_information() needs activate()')
        return self._state.inspector_json

    # -- activation ---------------------------------------------------------------------

    def _activate_impl(self) -> None:
        trt = self._trt_module if self._trt_module is not None else load_tensorrt()
        version = tensorrt_version(trt)
        check_supported(version)
        cuda = self._cuda_factory(self.options.cuda_binding, self.options.device_id)
        state = _Active(cuda=cuda, resources=Resources())
        with cuda.bound():
            try:
                self._open(trt, version, state)
            except BaseException:
                self._release(state)
                raise
        self._state = state

    def _open(self, trt: ModuleType, version: TrtVersion, state: _Active) -> None:
        state.trt_logger = make_logger(trt, self._log)
        state.runtime = create_runtime(trt, state.trt_logger)
        device = choose_device(self.options, int(state.runtime.num_DLA_cores))
        if device.fallback_reason:
            self._log.warning(f'{self.options.requested_device} requested, running on the '
                              f'GPU: {device.fallback_reason}')
        source = self._obtain_plan(trt, version, state, device)
        state.engine, source = self._deserialize(state, source, device)
        state.context = create_context(state.engine)
        tensors = io_tensors(trt, version, state.engine, state.context, self.options.batch_size)
        self._allocate(state, tensors)
        placement, planned = self._placement(trt, state, source, device)
        effective, reason = _effective_device(device, placement, source)
        self._report = DeviceReport(
            backend=self.name, requested=self.options.requested_device, effective=effective,
            fallback_reason=reason, placement=placement,
            details=self._details(version, state, source, planned, tensors))
        self._log.info(f'TensorRT engine ready: {self._report.summary()}; {placement.summary()}')

    def _obtain_plan(self, trt: ModuleType, version: TrtVersion, state: _Active,
                     device: DeviceChoice) -> _PlanSource:
        if self.model_path.lower().endswith('.onnx'):
            return self._plan_from_onnx(trt, version, state, device)
        return self._plan_from_file()

    def _plan_from_file(self) -> _PlanSource:
        try:
            with open(self.model_path, 'rb') as f:
                data = f.read()
        except OSError as e:
            raise DlaInferError(f'cannot read engine file {self.model_path!r}: {e}') from e
        if data.startswith(MAGIC):
            try:
                plan, header = decode_plan_file(data)
            except PlanFileError as e:
                raise DlaInferError(f'engine file {self.model_path!r}: {e}') from e
            return _PlanSource(plan, dict(header.get('meta', {})), self.model_path, 'file')
        return _PlanSource(data, {}, self.model_path, 'file')

    def _plan_from_onnx(self, trt: ModuleType, version: TrtVersion, state: _Active,
                        device: DeviceChoice) -> _PlanSource:
        options = self.options
        if not os.path.isfile(self.model_path):
            raise DlaInferError(f'ONNX model {self.model_path!r} does not exist')
        model_sha = sha256_file(self.model_path)
        cache = EngineCache(options.engine_cache_dir, self._log)
        calibration = None
        if options.calibration_dir and options.precision in ('int8', 'best'):
            calibration = plan_calibration(options.calibration_dir, cache.directory, model_sha,
                                           options.batch_size, self._calibration_source)
            if calibration.write_path and not cache.writable:  # calibrate, keep nothing
                calibration = dataclasses.replace(calibration, read_path='', write_path='')
        precision = choose_precision(options.precision, device.on_dla, calibration is not None)
        if precision.note:
            self._log.warning(precision.note)
        major, minor = state.cuda.compute_capability()
        key = CacheKey.of({
            'format': CACHE_KEY_FORMAT, 'model_sha256': model_sha, 'tensorrt': version,
            'compute_capability': f'{major}.{minor}', 'device': device.engine_kind,
            'precision': precision.label, 'batch': options.batch_size,
            'gpu_fallback': options.allow_gpu_fallback if device.on_dla else 'n/a',
            'calibration': calibration.identity if calibration else 'none',
            'workspace_mb': options.workspace_mb,
            'dla_pools': dataclasses.astuple(self._dla_pools) if device.on_dla else 'n/a',
            'tactic_sources': 'default' if options.tactic_sources is None
            else sorted(options.tactic_sources),
        })
        stem = (f'{os.path.splitext(os.path.basename(self.model_path))[0]}.'
                f'{device.engine_kind}.{precision.label}.b{options.batch_size}')
        # One timing cache per model, device kind and precision: TensorRT 8.5 refuses the
        # cache another build wrote, of another model or precision ("Myelin error from
        # unknown graph ... The timing cache will not be used").
        timing_path = os.path.join(cache.directory, f'timing.trt{version}.sm{major}{minor}.'
                                   f'{model_sha[:16]}.{device.engine_kind}.{precision.label}'
                                   '.cache')

        def build() -> Tuple[bytes, Dict[str, Any]]:
            return self._build(trt, version, state, device, precision, calibration,
                               timing_path if cache.writable else '')

        def fetch(force: bool) -> _PlanSource:
            cached = cache.get_or_build(key, stem, build, force=force,
                                        build_lock=f'cuda{options.device_id}')
            return _PlanSource(cached.plan, cached.meta, cached.path,
                               'built' if cached.built else 'cache',
                               None if cached.built else rebuild)

        def rebuild(reason: str) -> _PlanSource:
            cache.discard(cache.plan_path(key, stem), reason)
            return fetch(True)

        return fetch(options.force_rebuild)

    def _build(self, trt: ModuleType, version: TrtVersion, state: _Active, device: DeviceChoice,
               precision: PrecisionChoice, calibration: Optional[CalibrationPlan],
               timing_path: str) -> Tuple[bytes, Dict[str, Any]]:
        factory: Optional[Callable[[Tuple[int, ...]], Any]] = None
        if precision.int8 and calibration is not None:
            plan = calibration

            def make_calibrator(shape: Tuple[int, ...]) -> Any:
                return make_entropy_calibrator(trt, plan, shape, state.cuda, self._log)
            factory = make_calibrator
        request = BuildRequest(
            onnx_path=self.model_path, device=device, precision=precision,
            allow_gpu_fallback=self.options.allow_gpu_fallback,
            batch_size=self.options.batch_size, workspace_bytes=self.options.workspace_mb * _MIB,
            dla_pools=self._dla_pools, timing_cache_path=timing_path,
            calibrator_factory=factory, tactic_sources=self.options.tactic_sources)
        result = build_plan(trt, state.trt_logger, request, self._log)
        meta = {'placement': placement_to_meta(result.placement),
                'device': device.engine_kind, 'precision': precision.label,
                'tensorrt': str(version)}
        return result.plan, meta

    def _deserialize(self, state: _Active, source: _PlanSource,
                     device: DeviceChoice) -> Tuple[Any, _PlanSource]:
        try:
            return deserialize(state.runtime, source.plan, device.dla_core,
                               state.trt_logger), source
        except PlanRejectedError as e:
            if source.rebuild is None:
                raise DlaInferError(f'{e} (engine {source.path!r})') from e
            source = source.rebuild(f'TensorRT rejected it ({e})')  # logs the one warning
        return deserialize(state.runtime, source.plan, device.dla_core, state.trt_logger), source

    def _allocate(self, state: _Active, tensors: List[IoTensor]) -> None:
        cuda, track = state.cuda, state.resources.track
        for tensor in tensors:
            host = track(cuda.host_buffer(tensor.storage_shape, tensor.dtype))
            device = track(cuda.device_buffer(tensor.nbytes))
            bind_address(state.context, tensor.name, device.ptr)
            binding = _Binding(tensor, host, device, tensor.view(host.array))
            (state.inputs if tensor.is_input else state.outputs).append(binding)
        state.stream = track(cuda.stream())
        # start, after H2D, after compute: timing only; the last one is waited on, sleeping
        # unless spin_wait asks to poll (trtexec --useSpinWait)
        state.events = tuple(track(cuda.event()) for _ in range(3)) + (
            track(cuda.event(blocking=not self.options.spin_wait)),)
        state.output_arrays = {b.tensor.name: b.view for b in state.outputs}
        self._inputs = [_spec(b.tensor) for b in state.inputs]
        self._outputs = [_spec(b.tensor) for b in state.outputs]

    def _placement(self, trt: ModuleType, state: _Active, source: _PlanSource,
                   device: DeviceChoice) -> Tuple[LayerPlacement, LayerPlacement]:
        """
        Read where the engine's layers run.

        The engine inspector is the truth: TensorRT moves layers to the GPU during
        the build (DLA subgraph limits, failed validation) beyond what
        ``can_run_on_DLA`` predicted. The build-time prediction is kept beside it;
        its ``fallen_back`` list names the network layers the DLA could not take.

        :return: (the engine's placement, the build-time prediction or an empty one).
        """
        planned = placement_from_meta(source.meta.get('placement', {}))
        engine_view = LayerPlacement()
        try:
            state.inspector_json = engine_information(trt, state.engine)
            engine_view = placement_from_inspector(state.inspector_json, device.on_dla)
        except DlaInferError as e:  # the report is advisory; the engine itself is fine
            self._log.warning(f'engine inspector: {e}')
        if not engine_view.layers:
            return planned, planned
        return dataclasses.replace(engine_view, fallen_back=planned.fallen_back), planned

    def _details(self, version: TrtVersion, state: _Active, source: _PlanSource,
                 planned: LayerPlacement,
                 tensors: List[IoTensor]) -> Tuple[Tuple[str, str], ...]:
        details = [('tensorrt', str(version)), ('engine', source.path),
                   ('engine_source', source.origin), ('cuda_binding', state.cuda.name),
                   ('sync', 'spin' if self.options.spin_wait else 'blocking'),
                   ('planned_placement', planned.summary()),
                   ('io', ', '.join(f'{t.name} {t.dtype.name} {t.memory_format}'
                                    for t in tensors))]
        if 'precision' in source.meta:
            details.append(('precision', str(source.meta['precision'])))
        return tuple(details)

    # -- run and release ----------------------------------------------------------------

    def _infer_impl(self, feed: Mapping[str, np.ndarray],
                    on_device: Collection[str]) -> Dict[str, np.ndarray]:
        state = self._state
        if state is None or state.stream is None:
            raise DlaInferError('tensorrt backend: not active')
        with self._lock, state.cuda.bound():
            cuda, stream = state.cuda, state.stream
            start, after_h2d, after_compute, end = state.events
            for binding in state.inputs:
                source = feed.get(binding.tensor.name)
                if source is not None and source is not binding.view:  # else: written in place
                    np.copyto(binding.view, source)
            cuda.record(start, stream)
            for binding in state.inputs:
                if binding.tensor.name not in on_device:
                    cuda.copy_htod_async(binding.device, binding.host, stream)
            cuda.record(after_h2d, stream)
            enqueue_started = time.perf_counter()
            execute(state.context, stream.handle, state.trt_logger)
            enqueue_ms = (time.perf_counter() - enqueue_started) * 1e3
            cuda.record(after_compute, stream)
            for binding in state.outputs:
                cuda.copy_dtoh_async(binding.host, binding.device, stream)
            cuda.record(end, stream)
            cuda.wait(end)
            self._timings['h2d_ms'] = cuda.elapsed_ms(start, after_h2d)
            self._timings['compute_ms'] = cuda.elapsed_ms(after_h2d, after_compute)
            self._timings['d2h_ms'] = cuda.elapsed_ms(after_compute, end)
            self._timings['enqueue_ms'] = enqueue_ms
            return state.output_arrays

    def _deactivate_impl(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            with self._lock:
                self._release(state)
        self._report = DeviceReport(self.name, self.options.requested_device, 'not active')

    @staticmethod
    def _release(state: _Active) -> None:
        """Drop TensorRT objects (context, engine, runtime), then free CUDA resources."""
        with state.cuda.bound():
            try:
                if state.stream is not None and not state.stream.is_freed:
                    state.cuda.synchronize(state.stream)
            finally:
                state.context = state.engine = state.runtime = None
                state.output_arrays = {}
                state.inputs, state.outputs = [], []
                state.resources.free_all()
        state.cuda.close()


def _spec(tensor: IoTensor) -> TensorSpec:
    return TensorSpec(tensor.name, tensor.shape, tensor.dtype)


def _effective_device(choice: DeviceChoice, placement: LayerPlacement,
                      source: _PlanSource) -> Tuple[str, str]:
    """
    Say what really runs the engine, from the engine itself where it tells.

    A plan file (e.g. from trtexec) may have been built for the DLA while the
    GPU was asked for, or the other way round: the engine's layers, else the
    cache file's record, decide.

    :return: (effective device text, the reason when it differs from the request).
    """
    if placement.layers:
        engine_kind = 'DLA' if placement.counts().get('DLA') else 'GPU'
    else:
        engine_kind = str(source.meta.get('device', choice.engine_kind))
    if engine_kind == choice.engine_kind:
        return choice.text, choice.fallback_reason
    if engine_kind == 'GPU':
        return 'GPU', f'the engine {source.path} was built for the GPU'
    return ('DLA (core chosen by TensorRT)',
            f'the engine {source.path} was built for the DLA; set dla_core to pick the core')
