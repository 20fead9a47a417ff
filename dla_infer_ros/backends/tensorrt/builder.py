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
Build a serialized TensorRT engine (a plan) from an ONNX model.

The steps follow trtexec's: explicit-batch network, ONNX parser, static input
shapes (the DLA needs them; a dynamic batch dimension is pinned to the batch
size with a min = opt = max profile), precision flags, default device and DLA
core, GPU fallback only when allowed, workspace and DLA memory pools, a
persistent timing cache and, on TensorRT 10, a progress monitor. The layer
placement is read from the configured builder before the build starts, so a
DLA build without fallback that cannot succeed is refused with the list of
layers at fault instead of TensorRT's generic error.

A DLA engine without GPU fallback must not need the GPU even at its edges:
converting FP32 input to the DLA's FP16 is a GPU reformat. So, as trtexec
does, such a build sets ``DIRECT_IO`` and gives every network input and output
the DLA's own I/O: FP16 in ``DLA_LINEAR`` (row-major, rows padded to 64
bytes), which the backend binds through a strided view and the preprocessing
writes directly.
"""

import dataclasses
import logging
import os
from types import ModuleType
from typing import Any, Callable, List, Optional, Tuple

from dla_infer_ros.backends.base import LayerPlacement
from dla_infer_ros.backends.tensorrt.engine_cache import atomic_write, file_lock
from dla_infer_ros.backends.tensorrt.loader import tensorrt_version, TrtVersion
from dla_infer_ros.backends.tensorrt.logging_bridge import (make_progress_monitor,
                                                            recent_errors_text)
from dla_infer_ros.backends.tensorrt.placement import placement_from_network
from dla_infer_ros.backends.tensorrt.policy import DeviceChoice, PrecisionChoice
from dla_infer_ros.errors import DlaInferError

_MIB = 1 << 20


@dataclasses.dataclass(frozen=True)
class DlaMemoryPools:
    """DLA memory pool limits in bytes; 0 keeps TensorRT's default."""

    managed_sram: int = 0  # default 1 MiB (Orin has 1 MiB per core)
    local_dram: int = 0  # default 1 GiB
    global_dram: int = 0  # default 512 MiB


@dataclasses.dataclass(frozen=True)
class BuildRequest:
    """What to build."""

    onnx_path: str
    device: DeviceChoice
    precision: PrecisionChoice
    allow_gpu_fallback: bool
    batch_size: int
    workspace_bytes: int = 1024 * _MIB
    dla_pools: DlaMemoryPools = DlaMemoryPools()
    timing_cache_path: str = ''  # '' = no persistent timing cache
    #: input shape -> trt.IInt8EntropyCalibrator2 with error and close(); needed for INT8
    calibrator_factory: Optional[Callable[[Tuple[int, ...]], Any]] = None
    #: ``trt.TacticSource`` names allowed; () only TensorRT's own kernels; None its default
    tactic_sources: Optional[Tuple[str, ...]] = None


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """A serialized engine and the planned layer placement."""

    plan: bytes
    placement: LayerPlacement


def build_plan(trt: ModuleType, trt_logger: Any, request: BuildRequest,
               log: logging.Logger) -> BuildResult:
    """
    Build and serialize an engine.

    :param trt: the imported ``tensorrt`` module.
    :param trt_logger: the ``trt.ILogger`` (see :func:`make_logger`).
    :param request: model, device, precision, batch, memory, caches.
    :param log: where the placement and progress are reported.
    :raises DlaInferError: for a model TensorRT cannot parse, shapes it cannot
        fix, layers the DLA cannot run without fallback, or a failed build.
    """
    try:
        return _build(trt, trt_logger, request, log)
    except DlaInferError:
        raise
    except (RuntimeError, TypeError, ValueError, AttributeError) as e:
        raise DlaInferError(f'TensorRT engine build of {request.onnx_path!r} failed: {e}'
                            + recent_errors_text(trt_logger)) from e


def _build(trt: ModuleType, trt_logger: Any, request: BuildRequest,
           log: logging.Logger) -> BuildResult:
    version = tensorrt_version(trt)
    builder = trt.Builder(trt_logger)
    network = _create_network(trt, builder, version)
    parser = _parse_onnx(trt, network, trt_logger, request.onnx_path)
    config = builder.create_builder_config()
    if config is None:
        raise DlaInferError('TensorRT could not create a builder config')
    input_shapes = _pin_input_shapes(builder, network, config, request)
    _set_precision(trt, config, request)
    _set_device(trt, config, network, request)
    _set_memory(trt, config, request)
    if request.tactic_sources is not None:
        _set_tactic_sources(trt, config, request.tactic_sources)
    timing_cache = _attach_timing_cache(config, request.timing_cache_path, log)
    monitor = make_progress_monitor(trt, log) if version.has_progress_monitor else None
    if monitor is not None:
        config.progress_monitor = monitor
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    placement = _check_placement(trt, config, network, request, log)
    calibrator = _attach_calibrator(config, request, input_shapes)
    log.info(f'building a TensorRT {version} engine for {request.device.text}, '
             f'{request.precision.label}, batch {request.batch_size} '
             f'(this can take minutes)')
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.close()
    calibration_error = getattr(calibrator, 'error', None)
    if calibration_error is not None:
        raise DlaInferError(f'INT8 calibration failed: {calibration_error}') from calibration_error
    if serialized is None:
        raise DlaInferError(f'TensorRT engine build of {request.onnx_path!r} failed'
                            + recent_errors_text(trt_logger))
    if timing_cache is not None:
        _save_timing_cache(config, request.timing_cache_path, log)
    del parser  # the network's weights belong to the parser until the build is done
    return BuildResult(bytes(serialized), placement)


def _create_network(trt: ModuleType, builder: Any, version: TrtVersion) -> Any:
    flags = 0
    if version.needs_explicit_batch_flag:  # 8.x: implicit batch unless asked; 10: always explicit
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    if network is None:
        raise DlaInferError('TensorRT could not create a network definition')
    return network


def _parse_onnx(trt: ModuleType, network: Any, trt_logger: Any, onnx_path: str) -> Any:
    if not os.path.isfile(onnx_path):
        raise DlaInferError(f'ONNX model {onnx_path!r} does not exist')
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(onnx_path):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise DlaInferError(f'TensorRT cannot parse {onnx_path!r}: ' + ' | '.join(errors))
    return parser


def _pinned_shape(name: str, shape: Tuple[int, ...], batch: int) -> Tuple[int, ...]:
    """:return: ``shape`` with a dynamic batch set to ``batch``; other dims must be static."""
    if len(shape) == 0:
        raise DlaInferError(f'input {name!r} is a scalar; an image input needs a batch dimension')
    if shape[0] not in (-1, batch):
        raise DlaInferError(f'input {name!r} has a fixed batch of {shape[0]}, '
                            f'batch_size={batch} requested; re-export the model or match it')
    if any(d < 0 for d in shape[1:]):
        raise DlaInferError(f'input {name!r} has dynamic dimensions {list(shape)}; the backend '
                            'needs static height, width and channels (export them fixed)')
    return (batch,) + tuple(shape[1:])


def _pin_input_shapes(builder: Any, network: Any, config: Any,
                      request: BuildRequest) -> List[Tuple[int, ...]]:
    """
    Fix every dynamic batch dimension with a min = opt = max profile.

    :return: the concrete shape of each input.
    """
    profile = None
    shapes = []
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        shape = tuple(tensor.shape)
        pinned = _pinned_shape(tensor.name, shape, request.batch_size)
        shapes.append(pinned)
        if pinned == shape:
            continue
        if profile is None:
            profile = builder.create_optimization_profile()
        profile.set_shape(tensor.name, pinned, pinned, pinned)
    if profile is None:
        return shapes
    if config.add_optimization_profile(profile) < 0:
        raise DlaInferError('TensorRT rejected the optimization profile for batch '
                            f'{request.batch_size}')
    if request.precision.int8 and not config.set_calibration_profile(profile):
        raise DlaInferError('TensorRT rejected the calibration profile')
    return shapes


def _set_precision(trt: ModuleType, config: Any, request: BuildRequest) -> None:
    if request.precision.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    if request.precision.int8:
        config.set_flag(trt.BuilderFlag.INT8)


def _attach_calibrator(config: Any, request: BuildRequest,
                       input_shapes: List[Tuple[int, ...]]) -> Optional[Any]:
    """:return: the INT8 calibrator set on ``config`` (None without INT8)."""
    if not request.precision.int8:
        return None
    if request.calibrator_factory is None:
        raise DlaInferError('INT8 requested without a calibrator')
    if len(input_shapes) != 1:
        raise DlaInferError(f'INT8 calibration supports models with one input; this one has '
                            f'{len(input_shapes)}')
    calibrator = request.calibrator_factory(input_shapes[0])
    config.int8_calibrator = calibrator
    return calibrator


def _set_device(trt: ModuleType, config: Any, network: Any, request: BuildRequest) -> None:
    if not request.device.on_dla:
        return
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = request.device.dla_core
    if request.allow_gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        return
    # DLA only: no GPU reformat at the edges either (see the module docstring).
    config.set_flag(trt.BuilderFlag.DIRECT_IO)
    dla_linear = 1 << int(trt.TensorFormat.DLA_LINEAR)
    tensors = [network.get_input(i) for i in range(network.num_inputs)]
    tensors += [network.get_output(i) for i in range(network.num_outputs)]
    for tensor in tensors:
        tensor.dtype = trt.DataType.HALF
        tensor.allowed_formats = dla_linear


def _set_tactic_sources(trt: ModuleType, config: Any, names: Tuple[str, ...]) -> None:
    known = sorted(name for name in dir(trt.TacticSource) if name.isupper())
    unknown = [name for name in names if name not in known]
    if unknown:
        raise DlaInferError(f'tactic sources {unknown} requested; TensorRT '
                            f'{tensorrt_version(trt)} has {", ".join(known)}')
    mask = 0
    for name in names:
        mask |= 1 << int(getattr(trt.TacticSource, name))
    if not config.set_tactic_sources(mask):
        raise DlaInferError(f'TensorRT rejected tactic sources {list(names)}')


def _set_memory(trt: ModuleType, config: Any, request: BuildRequest) -> None:
    # max_workspace_size is gone in TensorRT 10; memory pools exist since 8.4.
    pools = trt.MemoryPoolType
    config.set_memory_pool_limit(pools.WORKSPACE, request.workspace_bytes)
    if not request.device.on_dla:
        return  # DLA pools on a GPU build only earn a warning
    for pool, size in ((pools.DLA_MANAGED_SRAM, request.dla_pools.managed_sram),
                       (pools.DLA_LOCAL_DRAM, request.dla_pools.local_dram),
                       (pools.DLA_GLOBAL_DRAM, request.dla_pools.global_dram)):
        if size > 0:
            config.set_memory_pool_limit(pool, size)


def _attach_timing_cache(config: Any, path: str, log: logging.Logger) -> Optional[Any]:
    """:return: the timing cache attached to ``config`` (None when not persisted)."""
    if not path:
        return None
    data = b''
    if os.path.isfile(path):
        with file_lock(path, exclusive=False), open(path, 'rb') as f:
            data = f.read()
    cache = config.create_timing_cache(data)
    if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
        if data:
            log.info(f'timing cache: loaded {path} ({len(data)} bytes)')
        return cache
    log.warning(f'timing cache {path} does not match this device or TensorRT; starting afresh')
    cache = config.create_timing_cache(b'')
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        raise DlaInferError('TensorRT rejected an empty timing cache')
    return cache


def _save_timing_cache(config: Any, path: str, log: logging.Logger) -> None:
    cache = config.get_timing_cache()
    if cache is None:
        raise DlaInferError('TensorRT returned no timing cache after the build')
    data = bytes(cache.serialize())
    try:
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        with file_lock(path, exclusive=True):
            atomic_write(path, data)
    except OSError as e:
        raise DlaInferError(f'cannot write timing cache {path!r}: {e}') from e
    log.info(f'timing cache: saved {path} ({len(data)} bytes)')


def _check_placement(trt: ModuleType, config: Any, network: Any, request: BuildRequest,
                     log: logging.Logger) -> LayerPlacement:
    placement = placement_from_network(trt, config, network, request.device.on_dla)
    if not request.device.on_dla:
        return placement
    fallen: List[str] = list(placement.fallen_back)
    if fallen and not request.allow_gpu_fallback:
        shown = ', '.join(fallen[:8]) + (f' and {len(fallen) - 8} more' if len(fallen) > 8 else '')
        raise DlaInferError(f'{len(fallen)} layer(s) cannot run on {request.device.text} and '
                            f'allow_gpu_fallback is false: {shown}')
    log.info(f'planned placement on {request.device.text}: {placement.summary()}')
    if fallen:
        log.warning(f'{len(fallen)} layer(s) fall back to the GPU: ' + ', '.join(fallen[:8])
                    + (' ...' if len(fallen) > 8 else ''))
    return placement
