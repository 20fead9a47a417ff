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
Every piece of the TensorRT Python API this backend touches, in one table.

The tests check this table two ways: against the real binding wheels of
TensorRT 8.6 and 10.x (every class, member, enum value and keyword argument
must exist in each version the entry applies to; an overridden method must
keep the real parameter names), and against the source of this package (an
AST walk finds every ``trt.X`` and every attribute that names a TensorRT
member, so the table cannot drift from the code). The fakes the control-flow
tests run against are generated from the same real surface.

``owner`` is ``tensorrt`` for module attributes, else a class name as exposed
by the module (``ILogger.Severity`` for the nested enum). ``since``/``before``
bound the versions whose code path uses the entry; ``kind`` is ``attr``
(method or property we call or set), ``enum`` (enum value), ``class`` (module
attribute) or ``override`` (a method we implement in a subclass, whose
``params`` must match TensorRT's).
"""

import dataclasses
from typing import Tuple

Version = Tuple[int, int]
ALL_FROM: Version = (8, 5)
NEVER: Version = (99, 0)


@dataclasses.dataclass(frozen=True)
class ApiUse:
    """One TensorRT name the backend uses."""

    owner: str
    member: str
    kind: str = 'attr'
    kwargs: Tuple[str, ...] = ()  # keyword arguments passed by name
    params: Tuple[str, ...] = ()  # parameter names of an override (after self)
    since: Version = ALL_FROM
    before: Version = NEVER

    def applies_to(self, version: Version) -> bool:
        """:return: True when the code path for ``version`` uses this entry."""
        return self.since <= version < self.before


def _members(owner: str, kind: str, *members: str, since: Version = ALL_FROM,
             before: Version = NEVER) -> Tuple[ApiUse, ...]:
    return tuple(ApiUse(owner, m, kind, since=since, before=before) for m in members)


USED_API: Tuple[ApiUse, ...] = (
    # module attributes
    ApiUse('tensorrt', '__version__', 'class'),
    *_members('tensorrt', 'class', 'Builder', 'BuilderFlag', 'DataType', 'DeviceType',
              'IInt8EntropyCalibrator2', 'ILogger', 'LayerInformationFormat', 'MemoryPoolType',
              'OnnxParser', 'ProfilingVerbosity', 'Runtime', 'TacticSource', 'TensorFormat',
              'TensorIOMode'),
    ApiUse('tensorrt', 'NetworkDefinitionCreationFlag', 'class', before=(10, 0)),
    ApiUse('tensorrt', 'IProgressMonitor', 'class', since=(10, 0)),
    # enum values
    ApiUse('ILogger', 'Severity', 'class'),
    *_members('ILogger.Severity', 'enum', 'INTERNAL_ERROR', 'ERROR', 'WARNING', 'INFO',
              'VERBOSE'),
    ApiUse('NetworkDefinitionCreationFlag', 'EXPLICIT_BATCH', 'enum', before=(10, 0)),
    *_members('BuilderFlag', 'enum', 'FP16', 'INT8', 'GPU_FALLBACK', 'DIRECT_IO'),
    ApiUse('TensorFormat', 'DLA_LINEAR', 'enum'),
    ApiUse('DeviceType', 'DLA', 'enum'),
    *_members('MemoryPoolType', 'enum', 'WORKSPACE', 'DLA_MANAGED_SRAM', 'DLA_LOCAL_DRAM',
              'DLA_GLOBAL_DRAM'),
    ApiUse('ProfilingVerbosity', 'DETAILED', 'enum'),
    ApiUse('LayerInformationFormat', 'JSON', 'enum'),
    ApiUse('TensorIOMode', 'INPUT', 'enum'),
    *_members('DataType', 'enum', 'FLOAT', 'HALF', 'INT8', 'INT32', 'BOOL', 'UINT8'),
    ApiUse('DataType', 'INT64', 'enum', since=(10, 0)),
    # subclassed interfaces
    ApiUse('ILogger', '__init__', 'override'),
    ApiUse('ILogger', 'log', 'override', params=('severity', 'msg')),
    ApiUse('IProgressMonitor', '__init__', 'override', since=(10, 0)),
    ApiUse('IProgressMonitor', 'phase_start', 'override',
           params=('phase_name', 'parent_phase', 'num_steps'), since=(10, 0)),
    ApiUse('IProgressMonitor', 'step_complete', 'override', params=('phase_name', 'step'),
           since=(10, 0)),
    ApiUse('IProgressMonitor', 'phase_finish', 'override', params=('phase_name',),
           since=(10, 0)),
    ApiUse('IInt8EntropyCalibrator2', '__init__', 'override'),
    ApiUse('IInt8EntropyCalibrator2', 'get_batch_size', 'override'),
    ApiUse('IInt8EntropyCalibrator2', 'get_batch', 'override', params=('names',)),
    ApiUse('IInt8EntropyCalibrator2', 'read_calibration_cache', 'override'),
    ApiUse('IInt8EntropyCalibrator2', 'write_calibration_cache', 'override', params=('cache',)),
    # builder
    *_members('Builder', 'attr', 'create_network', 'create_builder_config',
              'create_optimization_profile', 'build_serialized_network'),
    *_members('INetworkDefinition', 'attr', 'num_inputs', 'get_input', 'num_outputs',
              'get_output', 'num_layers', 'get_layer'),
    *_members('ITensor', 'attr', 'name', 'shape', 'dtype', 'allowed_formats'),
    ApiUse('ILayer', 'name'),
    *_members('OnnxParser', 'attr', 'parse_from_file', 'num_errors', 'get_error'),
    *_members('IBuilderConfig', 'attr', 'set_flag', 'int8_calibrator', 'default_device_type',
              'DLA_core', 'set_memory_pool_limit', 'create_timing_cache', 'get_timing_cache',
              'profiling_verbosity', 'add_optimization_profile', 'set_calibration_profile',
              'get_device_type', 'can_run_on_DLA', 'set_tactic_sources'),
    ApiUse('IBuilderConfig', 'set_timing_cache', kwargs=('ignore_mismatch',)),
    ApiUse('IBuilderConfig', 'progress_monitor', since=(10, 0)),
    ApiUse('IOptimizationProfile', 'set_shape'),
    ApiUse('ITimingCache', 'serialize'),
    # runtime
    *_members('Runtime', 'attr', 'num_DLA_cores', 'DLA_core', 'deserialize_cuda_engine'),
    *_members('ICudaEngine', 'attr', 'num_io_tensors', 'get_tensor_name', 'get_tensor_mode',
              'get_tensor_shape', 'get_tensor_dtype', 'get_tensor_format',
              'get_tensor_format_desc', 'create_execution_context', 'create_engine_inspector'),
    *_members('IExecutionContext', 'attr', 'set_input_shape', 'get_tensor_shape',
              'set_tensor_address', 'execute_async_v3'),
    ApiUse('EngineInspector', 'get_engine_information'),
)

#: the version families the backend supports and the tests check
FAMILIES: Tuple[Version, ...] = ((8, 5), (8, 6), (10, 0))


def used_for(version: Version) -> Tuple[ApiUse, ...]:
    """:return: the entries the code path for ``version`` uses."""
    return tuple(use for use in USED_API if use.applies_to(version))


def owners() -> Tuple[str, ...]:
    """:return: every class named in the table (sorted, without ``tensorrt``)."""
    return tuple(sorted({u.owner for u in USED_API if u.owner != 'tensorrt'}))
