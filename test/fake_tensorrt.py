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
A fake ``tensorrt`` module whose classes expose exactly the real API of one version.

Each fake class is generated per TensorRT version from the real bindings'
surface (``test/data/trt_surface_<version>.json``, written by
``tools/trt_bindings.py dump``): it keeps only the members the real class of
that version has, and reading or setting any other attribute raises
AttributeError, as on the real pybind11 objects. A misspelt name, or one that
exists only in another version (``IProgressMonitor`` on 8.6,
``max_workspace_size`` on 10), fails the test that reaches it.

Behind the API is a small simulated TensorRT (:class:`FakeWorld`): a "model"
is a JSON file (inputs, outputs, layers; ``logits[b, k] = (k + 1) * sum(input[b])``),
a "plan" is JSON too, the builder honours the DLA rules this backend relies on
(FP16/INT8 only, GPU fallback, layers the DLA cannot run, INT8 calibration
through the calibrator), and execution reads and writes the fake CUDA memory.

It behaves as real TensorRT does where the backend once assumed otherwise: a
DLA build without GPU fallback fails unless every network input and output is
FP16 in a DLA format under ``DIRECT_IO`` (converting FP32 is a GPU reformat);
the build may move layers to the GPU that ``can_run_on_DLA`` accepted
(``FakeWorld.moved_at_build``); the inspector lists every layer as an object
under ``DETAILED`` verbosity (names only otherwise), with the reformat layers
TensorRT inserts; engine tensors have the dtype and format the build chose,
``DLA_LINEAR`` rows padded to 64 bytes.
"""

import dataclasses
import json
import os
import threading
import time
import types
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple, Type

from fake_cuda import FakeCudaApi
import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
VERSIONS = ('8.5.3.1', '8.6.1', '10.3.0', '10.7.0', '10.16.1.11')
PLAN_MAGIC = b'FAKEPLAN'


def load_surface(version: str) -> Dict[str, Any]:
    """:return: the real surface of ``version`` (committed JSON)."""
    with open(os.path.join(DATA, f'trt_surface_{version}.json'), encoding='utf-8') as f:
        surface: Dict[str, Any] = json.load(f)
    return surface


def write_model(path: str, batch: int = 1, size: int = 4, classes: int = 3,
                layers: Sequence[str] = ('conv1', 'relu1', 'pool', 'fc')) -> str:
    """Write a fake ONNX model (JSON) whose input is float32[batch, 3, size, size]."""
    model = {'inputs': [{'name': 'input', 'shape': [batch, 3, size, size]}],
             'outputs': [{'name': 'logits', 'shape': [batch, classes]}],
             'layers': list(layers)}
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(model, f)
    return path


def expected_logits(batch: np.ndarray, classes: int) -> np.ndarray:
    """:return: what the fake engine computes for ``batch``."""
    sums = batch.reshape(batch.shape[0], -1).sum(axis=1, dtype=np.float64)
    return (sums[:, None] * np.arange(1, classes + 1)).astype(np.float32)


@dataclasses.dataclass
class FakeWorld:
    """The simulated hardware and TensorRT's recorded behaviour."""

    cuda: FakeCudaApi
    num_dla_cores: int = 2
    dla_unsupported: Set[str] = dataclasses.field(default_factory=set)
    #: layers the DLA accepts at configuration but the build still puts on the GPU
    moved_at_build: Set[str] = dataclasses.field(default_factory=set)
    build_delay_s: float = 0.0
    building: int = 0  # builds in progress now
    most_building: int = 0  # the most builds ever in progress at once
    fail_build: bool = False
    reject_plans: int = 0  # how many of the next deserializations to refuse
    refuse: Set[str] = dataclasses.field(default_factory=set)  # calls that return False/None
    events: List[Any] = dataclasses.field(default_factory=list)
    builds: int = 0
    calibration_batches: List[np.ndarray] = dataclasses.field(default_factory=list)
    calibration_cache_seen: Optional[bytes] = None
    configs: List['Any'] = dataclasses.field(default_factory=list)
    progress: List[Tuple[str, ...]] = dataclasses.field(default_factory=list)
    execute_hook: Optional[Callable[[Dict[str, int], Dict[str, Tuple[int, ...]], int],
                                    bool]] = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


# --------------------------------------------------------------------------------------
# base machinery

class FakeObject:
    """Base of the fakes: only the real members of the class can be read or set."""

    _trt: Any = None
    _world: Any = None
    _real: FrozenSet[str] = frozenset()
    _version = ''
    _subclassable = False

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith('_') or self._subclassable or name in type(self)._real:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f'{type(self).__name__} of TensorRT {self._version} has no '
                             f'attribute {name!r}')

    def __getattr__(self, name: str) -> Any:
        cls = type(self)
        if name in cls._real:
            raise AttributeError(f'fake {cls.__name__} does not implement {name!r} '
                                 f'(real TensorRT {cls._version} has it)')
        raise AttributeError(f'{cls.__name__} of TensorRT {cls._version} has no attribute '
                             f'{name!r}')


class FakeEnumValue:
    """A pybind11 enum value: name, int, hashable, equal only to itself."""

    def __init__(self, enum: str, name: str, value: int) -> None:
        self._enum, self.name, self.value = enum, name, value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FakeEnumValue) and other._enum == self._enum
                and other.value == self.value)

    def __hash__(self) -> int:
        return hash((self._enum, self.value))

    def __repr__(self) -> str:
        return f'<{self._enum}.{self.name}: {self.value}>'


def make_enum(name: str, values: Dict[str, int], version: str) -> Type[Any]:
    """:return: a class with one attribute per real enum value, and ``__members__``."""
    members = {k: FakeEnumValue(name.split('.')[-1], k, v) for k, v in values.items()}

    class Meta(type):
        """Refuse enum values the real enum lacks."""

        def __getattr__(cls, attr: str) -> Any:
            raise AttributeError(f'{name} of TensorRT {version} has no value {attr!r}')
    return Meta(name.split('.')[-1], (), dict(members, __members__=members))


# --------------------------------------------------------------------------------------
# implementations (public members are filtered per version against the real surface)

class FakeHostMemory(bytes):
    """``IHostMemory``: a buffer (bytes) with only the real attributes visible."""

    _real: FrozenSet[str] = frozenset()

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith('_') and name not in type(self)._real:
            raise AttributeError(f'IHostMemory has no attribute {name!r}')
        return bytes.__getattribute__(self, name)

    @property
    def nbytes(self) -> int:
        return len(self)


class ILogger(FakeObject):
    """Fake ``ILogger`` (real members only)."""

    _subclassable = True

    def __init__(self) -> None:
        pass

    def log(self, severity: Any, msg: str) -> None:
        pass


class IProgressMonitor(FakeObject):
    """Fake ``IProgressMonitor`` (real members only)."""

    _subclassable = True

    def __init__(self) -> None:
        pass


class IInt8EntropyCalibrator2(FakeObject):
    """Fake ``IInt8EntropyCalibrator2`` (real members only)."""

    _subclassable = True

    def __init__(self) -> None:
        pass


class ITensor(FakeObject):
    """Fake ``ITensor`` (real members only): network I/O, FP32 and LINEAR by default."""

    def __init__(self, name: str, shape: Tuple[int, ...]) -> None:
        self._name, self._shape = name, shape
        self.dtype = self._trt.DataType.FLOAT
        self.allowed_formats = 1 << int(self._trt.TensorFormat.LINEAR)

    @property
    def name(self) -> str:
        return self._name

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._shape


class ILayer(FakeObject):
    """Fake ``ILayer`` (real members only)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name


class INetworkDefinition(FakeObject):
    """Fake ``INetworkDefinition`` (real members only)."""

    def __init__(self, flags: int) -> None:
        self._flags = flags
        self._inputs: List[Any] = []
        self._outputs: List[Any] = []
        self._layers: List[Any] = []
        self._model: Dict[str, Any] = {}

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    def get_input(self, index: int) -> Any:
        return self._inputs[index]

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def get_output(self, index: int) -> Any:
        return self._outputs[index]

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def get_layer(self, index: int) -> Any:
        return self._layers[index]


class OnnxParser(FakeObject):
    """Fake ``OnnxParser`` (real members only)."""

    def __init__(self, network: Any, logger: Any) -> None:
        _expect(logger, self._trt.ILogger, 'logger')
        self._network = network
        self._errors: List[str] = []

    def parse_from_file(self, model: str) -> bool:
        trt = self._trt
        try:
            with open(model, encoding='utf-8') as f:
                spec = json.load(f)
        except (OSError, ValueError) as e:
            self._errors.append(f'cannot parse {model}: {e}')
            return False
        explicit = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        if self._version.startswith('8.') and not self._network._flags & explicit:
            self._errors.append('ONNX parser only supports networks with an explicit batch')
            return False
        net = self._network
        net._model = spec
        net._inputs = [trt.ITensor(t['name'], tuple(t['shape'])) for t in spec['inputs']]
        net._outputs = [trt.ITensor(t['name'], tuple(t['shape'])) for t in spec['outputs']]
        net._layers = [trt.ILayer(name) for name in spec['layers']]
        return True

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int) -> str:
        return self._errors[index]


class IOptimizationProfile(FakeObject):
    """Fake ``IOptimizationProfile`` (real members only)."""

    def __init__(self) -> None:
        self._shapes: Dict[str, Tuple[Tuple[int, ...], ...]] = {}

    def set_shape(self, input: str, min: Sequence[int], opt: Sequence[int],  # noqa: A002
                  max: Sequence[int]) -> None:  # noqa: A002
        self._shapes[input] = (tuple(min), tuple(opt), tuple(max))


class ITimingCache(FakeObject):
    """Fake ``ITimingCache`` (real members only)."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def serialize(self) -> Any:
        return self._trt.IHostMemory(self._data)


class IBuilderConfig(FakeObject):
    """Fake ``IBuilderConfig`` (real members only)."""

    def __init__(self) -> None:
        trt = self._trt
        self.DLA_core = -1
        self.default_device_type = trt.DeviceType.GPU
        self.int8_calibrator = None
        self.profiling_verbosity = trt.ProfilingVerbosity.LAYER_NAMES_ONLY
        if 'progress_monitor' in type(self)._real:
            self.progress_monitor = None
        self._flags: Set[Any] = set()
        self._pools: Dict[Any, int] = {}
        self._timing_cache: Optional[Any] = None
        self._profiles: List[Any] = []
        self._calibration_profile = None

    def set_flag(self, flag: Any) -> None:
        self._flags.add(flag)

    def get_flag(self, flag: Any) -> bool:
        return flag in self._flags

    def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
        self._pools[pool] = pool_size

    def create_timing_cache(self, serialized_timing_cache: bytes) -> Any:
        return self._trt.ITimingCache(serialized_timing_cache)

    def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
        if 'set_timing_cache' in self._world.refuse:
            return False
        if cache._data and not cache._data.startswith(b'FAKETC') and not ignore_mismatch:
            return False
        self._timing_cache = cache
        return True

    def get_timing_cache(self) -> Any:
        return self._timing_cache

    def add_optimization_profile(self, profile: Any) -> int:
        if 'add_optimization_profile' in self._world.refuse:
            return -1
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def set_calibration_profile(self, profile: Any) -> bool:
        if 'set_calibration_profile' in self._world.refuse:
            return False
        self._calibration_profile = profile
        return True

    def get_device_type(self, layer: Any) -> Any:
        return self.default_device_type

    def set_tactic_sources(self, tactic_sources: int) -> bool:
        self._world.events.append(('tactic_sources', int(tactic_sources)))
        return 'set_tactic_sources' not in self._world.refuse

    def can_run_on_DLA(self, layer: Any) -> bool:  # noqa: N802 (TensorRT's name)
        return layer.name not in self._world.dla_unsupported


class Builder(FakeObject):
    """Fake ``Builder`` (real members only)."""

    def __init__(self, logger: Any) -> None:
        _expect(logger, self._trt.ILogger, 'logger')
        self._logger = logger

    @property
    def num_DLA_cores(self) -> int:  # noqa: N802
        return int(self._world.num_dla_cores)

    def create_network(self, flags: int = 0) -> Any:
        self._world.events.append(('create_network', int(flags)))
        return self._trt.INetworkDefinition(int(flags))

    def create_builder_config(self) -> Any:
        config = self._trt.IBuilderConfig()
        self._world.configs.append(config)
        return config

    def create_optimization_profile(self) -> Any:
        return self._trt.IOptimizationProfile()

    def build_serialized_network(self, network: Any, config: Any) -> Any:
        world, trt = self._world, self._trt
        with world.lock:
            world.builds += 1
            world.building += 1
            world.most_building = max(world.most_building, world.building)
        try:
            time.sleep(world.build_delay_s)
        finally:
            with world.lock:
                world.building -= 1
        error = self._build_error(network, config)
        if error:
            self._logger.log(trt.ILogger.Severity.ERROR, error)
            return None
        cache = self._calibrate(network, config) if config.get_flag(trt.BuilderFlag.INT8) else b''
        if cache is None:
            return None
        self._report_progress(config)
        if config._timing_cache is not None:
            config._timing_cache._data = b'FAKETC' + bytes(f'{world.builds}', 'ascii')
        return trt.IHostMemory(PLAN_MAGIC + json.dumps(self._plan(network, config)).encode())

    def _build_error(self, network: Any, config: Any) -> str:
        trt, world = self._trt, self._world
        if world.fail_build:
            return 'simulated build failure'
        if config.default_device_type != trt.DeviceType.DLA:
            return ''
        if not (config.get_flag(trt.BuilderFlag.FP16) or config.get_flag(trt.BuilderFlag.INT8)):
            return 'DLA requires FP16 or INT8 precision'
        if not 0 <= config.DLA_core < world.num_dla_cores:
            return f'DLA core {config.DLA_core} does not exist'
        unsupported = [layer.name for layer in network._layers
                       if not config.can_run_on_DLA(layer) or layer.name in world.moved_at_build]
        if config.get_flag(trt.BuilderFlag.GPU_FALLBACK):
            return ''
        if unsupported:
            return f'layers {unsupported} cannot run on DLA and GPU fallback is off'
        dla_formats = {int(trt.TensorFormat.DLA_LINEAR), int(trt.TensorFormat.DLA_HWC4),
                       int(trt.TensorFormat.CHW16), int(trt.TensorFormat.CHW32)}
        for tensor in network._inputs + network._outputs:
            allowed = {f for f in range(32) if tensor.allowed_formats >> f & 1}
            if (tensor.dtype not in (trt.DataType.HALF, trt.DataType.INT8)
                    or not allowed <= dla_formats
                    or not config.get_flag(trt.BuilderFlag.DIRECT_IO)):
                return (f'network I/O tensor {tensor.name} ({tensor.dtype.name}, formats '
                        f'{sorted(allowed)}) needs a reformat, which runs on the GPU, and '
                        'GPU fallback is off')
        return ''

    def _calibrate(self, network: Any, config: Any) -> Optional[bytes]:
        calibrator = config.int8_calibrator
        if calibrator is None:
            self._logger.log(self._trt.ILogger.Severity.ERROR, 'INT8 needs a calibrator')
            return None
        cache = calibrator.read_calibration_cache()
        if cache:
            self._world.calibration_cache_seen = bytes(cache)
            return bytes(cache)
        shape = tuple(network._model['inputs'][0]['shape'])
        shape = (calibrator.get_batch_size(),) + shape[1:]
        nbytes = int(np.prod(shape)) * 4
        while True:
            pointers = calibrator.get_batch([t.name for t in network._inputs])
            if not pointers:
                break
            data = self._world.cuda.read(pointers[0], nbytes).view(np.float32).reshape(shape)
            self._world.calibration_batches.append(data)
        if not self._world.calibration_batches:
            self._logger.log(self._trt.ILogger.Severity.ERROR, 'calibration got no batch')
            return None
        cache = f'FAKECALIB {len(self._world.calibration_batches)}'.encode()
        calibrator.write_calibration_cache(cache)
        return cache

    def _report_progress(self, config: Any) -> None:
        monitor = getattr(config, 'progress_monitor', None) \
            if 'progress_monitor' in type(config)._real else None
        if monitor is None:
            return
        monitor.phase_start('Building engine', None, 2)
        for step in range(2):
            carry_on = monitor.step_complete('Building engine', step)
            self._world.progress.append(('step', str(carry_on)))
        monitor.phase_finish('Building engine')

    def _plan(self, network: Any, config: Any) -> Dict[str, Any]:
        trt = self._trt
        on_dla = config.default_device_type == trt.DeviceType.DLA
        layers = [[layer.name, 'DLA' if on_dla and config.can_run_on_DLA(layer)
                   and layer.name not in self._world.moved_at_build else 'GPU']
                  for layer in network._layers]
        io = {}
        for tensor in network._inputs + network._outputs:
            lowest = min(f for f in range(32) if tensor.allowed_formats >> f & 1)
            fmt = next(m for m in trt.TensorFormat.__members__.values() if int(m) == lowest)
            io[tensor.name] = [tensor.dtype.name, fmt.name]
        shapes = {t.name: list(t.shape) for t in network._inputs + network._outputs}
        for profile in config._profiles:
            for name, (_, opt, _) in profile._shapes.items():
                shapes[name] = list(opt)
            batch = next(iter(profile._shapes.values()))[1][0]
            for tensor in network._outputs:  # output batch follows the input's
                shapes[tensor.name] = [batch] + list(tensor.shape[1:])
        return {'model': network._model, 'dla_core': config.DLA_core if on_dla else -1,
                'layers': layers, 'shapes': shapes,
                'dynamic': bool(config._profiles), 'io': io,
                'detailed': config.profiling_verbosity == trt.ProfilingVerbosity.DETAILED,
                'fp16': config.get_flag(trt.BuilderFlag.FP16),
                'int8': config.get_flag(trt.BuilderFlag.INT8)}


class Runtime(FakeObject):
    """Fake ``Runtime`` (real members only)."""

    def __init__(self, logger: Any) -> None:
        _expect(logger, self._trt.ILogger, 'logger')
        self._logger = logger
        self.DLA_core = -1

    @property
    def num_DLA_cores(self) -> int:  # noqa: N802
        return int(self._world.num_dla_cores)

    def deserialize_cuda_engine(self, serialized_engine: bytes) -> Optional[Any]:
        world = self._world
        world.events.append(('deserialize', self.DLA_core))
        data = bytes(serialized_engine)
        refuse = world.reject_plans > 0
        world.reject_plans -= int(refuse)
        if refuse or not data.startswith(PLAN_MAGIC):
            self._logger.log(self._trt.ILogger.Severity.ERROR, 'plan magic tag does not match')
            return None
        try:
            plan = json.loads(data[len(PLAN_MAGIC):].decode())
        except ValueError:
            self._logger.log(self._trt.ILogger.Severity.ERROR, 'corrupt plan')
            return None
        if plan['dla_core'] >= 0 and world.num_dla_cores == 0:
            self._logger.log(self._trt.ILogger.Severity.ERROR, 'no DLA on this device')
            return None
        return self._trt.ICudaEngine(plan, self.DLA_core)


class ICudaEngine(FakeObject):
    """Fake ``ICudaEngine`` (real members only)."""

    def __init__(self, plan: Dict[str, Any], runtime_dla_core: int) -> None:
        self._plan = plan
        self._runtime_dla_core = runtime_dla_core
        model = plan['model']
        self._names = [t['name'] for t in model['inputs'] + model['outputs']]
        self._inputs = {t['name'] for t in model['inputs']}

    @property
    def num_io_tensors(self) -> int:
        return len(self._names)

    @property
    def num_layers(self) -> int:
        return len(self._plan['layers'])

    def get_tensor_name(self, index: int) -> str:
        return self._names[index]

    def get_tensor_mode(self, name: str) -> Any:
        mode = self._trt.TensorIOMode
        return mode.INPUT if name in self._inputs else mode.OUTPUT

    def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
        shape = tuple(self._plan['shapes'][name])
        return ((-1,) + shape[1:]) if self._plan['dynamic'] else shape

    def get_tensor_dtype(self, name: str) -> Any:
        return getattr(self._trt.DataType, self._io(name)[0])

    def get_tensor_format(self, name: str) -> Any:
        return getattr(self._trt.TensorFormat, self._io(name)[1])

    def get_tensor_format_desc(self, name: str) -> str:
        return f'{self._io(name)[1]} format of tensor {name}'

    def _io(self, name: str) -> List[str]:
        io: Dict[str, List[str]] = self._plan.get('io', {})
        return io.get(name, ['FLOAT', 'LINEAR'])

    def create_execution_context(self) -> Any:
        if 'create_execution_context' in self._world.refuse:
            return None
        return self._trt.IExecutionContext(self)

    def create_engine_inspector(self) -> Any:
        return self._trt.EngineInspector(self)


class IExecutionContext(FakeObject):
    """Fake ``IExecutionContext`` (real members only)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._addresses: Dict[str, int] = {}
        self._shapes = {n: tuple(s) for n, s in engine._plan['shapes'].items()}
        self._shapes_set: Set[str] = set()

    def set_input_shape(self, name: str, shape: Sequence[int]) -> bool:
        if 'set_input_shape' in self._world.refuse:
            return False
        if name not in self._engine._inputs or tuple(shape) != self._shapes[name]:
            return False
        self._shapes_set.add(name)
        return True

    def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
        inputs = self._engine._inputs
        if self._engine._plan['dynamic'] and not inputs <= self._shapes_set:
            return (-1,) + self._shapes[name][1:]
        return self._shapes[name]

    def _engine_logger_error(self, message: str) -> None:
        self._world.events.append(('error', message))

    def set_tensor_address(self, name: str, memory: int) -> bool:
        if 'set_tensor_address' in self._world.refuse:
            return False
        if name not in self._shapes:
            return False
        self._addresses[name] = int(memory)
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        world = self._world
        if 'execute_async_v3' in world.refuse or set(self._addresses) != set(self._shapes):
            self._engine_logger_error('execute failed')
            return False
        if world.execute_hook is not None:
            return world.execute_hook(self._addresses, self._shapes, int(stream_handle))
        model = self._engine._plan['model']
        source = model['inputs'][0]['name']
        batch = self._read(source).astype(np.float32)
        for output in model['outputs']:
            classes = self._shapes[output['name']][1]
            self._write(output['name'], expected_logits(batch, classes))
        return True

    def _layout(self, name: str) -> Tuple[np.dtype, Tuple[int, ...]]:
        """:return: element type and memory shape (DLA_LINEAR rows padded to 64 bytes)."""
        dtype_name, fmt = self._engine._io(name)
        dtype = np.dtype({'FLOAT': np.float32, 'HALF': np.float16, 'INT8': np.int8}[dtype_name])
        shape = self._shapes[name]
        if fmt == 'DLA_LINEAR':
            per_row = 64 // dtype.itemsize
            shape = shape[:-1] + (-(-shape[-1] // per_row) * per_row,)
        return dtype, shape

    def _read(self, name: str) -> np.ndarray:
        dtype, storage = self._layout(name)
        data = self._world.cuda.read(self._addresses[name], int(np.prod(storage)) * dtype.itemsize)
        return data.view(dtype).reshape(storage)[..., :self._shapes[name][-1]]

    def _write(self, name: str, values: np.ndarray) -> None:
        dtype, storage = self._layout(name)
        memory = np.zeros(storage, dtype)
        memory[..., :values.shape[-1]] = values
        self._world.cuda.write(self._addresses[name], memory)


class EngineInspector(FakeObject):
    """Fake ``EngineInspector`` (real members only)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def get_engine_information(self, format: Any) -> str:  # noqa: A002
        """Layers as real engines list them: DLA loadables, transfers, reformats, GPU kernels."""
        assert format == self._trt.LayerInformationFormat.JSON
        plan = self._engine._plan
        dla = [n for n, d in plan['layers'] if d == 'DLA']
        entries: List[Tuple[str, str]] = []
        for name, (dtype, _) in plan.get('io', {}).items():
            if name in self._engine._inputs and dtype == 'FLOAT' and (dla or plan['fp16']):
                entries.append((f'Reformatting CopyNode for Input Tensor 0 to {name}',
                                'Reformat'))
        if dla:
            entries += [('input to nvm', 'Reformat'),
                        ('{ForeignNode[%s...%s]}' % (dla[0], dla[-1]), 'ForeignNode'),
                        ('logits from nvm', 'Reformat'), ('input copy finish', 'Reformat')]
        entries += [(n, 'CaskConvolution') for n, d in plan['layers'] if d == 'GPU']
        layers: List[Any] = [{'Name': n, 'LayerType': t} for n, t in entries]
        if not plan.get('detailed', True):
            layers = [n for n, _ in entries]
        return json.dumps({'Layers': layers, 'Bindings': self._engine._names})


def _expect(value: Any, cls: type, what: str) -> None:
    if not isinstance(value, cls):
        raise TypeError(f'incompatible function arguments: {what} must be {cls.__name__}')


IMPLEMENTATIONS: Tuple[type, ...] = (
    ILogger, IProgressMonitor, IInt8EntropyCalibrator2, ITensor, ILayer, INetworkDefinition,
    OnnxParser, IOptimizationProfile, ITimingCache, IBuilderConfig, Builder, Runtime,
    ICudaEngine, IExecutionContext, EngineInspector)


def _fake_class(impl: type, version: str, real: FrozenSet[str], trt: Any,
                world: FakeWorld) -> type:
    """:return: ``impl`` restricted to the members ``real`` lists."""
    namespace = {k: v for k, v in vars(impl).items()
                 if k.startswith('_') or k in real}
    namespace.update(_trt=trt, _world=world, _real=real, _version=version)
    return type(impl.__name__, (FakeObject,), namespace)


def make_fake_tensorrt(version: str, world: FakeWorld) -> types.ModuleType:
    """
    Build the fake ``tensorrt`` module of one version.

    :param version: one of :data:`VERSIONS`.
    :param world: the simulated hardware the fakes act on.
    """
    surface = load_surface(version)
    classes = surface['classes']
    trt = types.ModuleType('tensorrt')
    trt.__version__ = surface['version']  # type: ignore[attr-defined]
    for name, entry in classes.items():
        if 'enum' in entry and '.' not in name:
            setattr(trt, name, make_enum(name, entry['enum'], version))
    for impl in IMPLEMENTATIONS:
        if impl.__name__ in classes:
            real = frozenset(classes[impl.__name__]['members'])
            setattr(trt, impl.__name__, _fake_class(impl, version, real, trt, world))
    trt.ILogger.Severity = make_enum('ILogger.Severity',  # type: ignore[attr-defined]
                                     classes['ILogger.Severity']['enum'], version)
    host_memory = type('IHostMemory', (FakeHostMemory,),
                       {'_real': frozenset(classes['IHostMemory']['members'])})
    trt.IHostMemory = host_memory  # type: ignore[attr-defined]
    module_names = set(surface['module'])

    def missing(name: str) -> Any:
        if name in module_names:
            raise AttributeError(f'fake tensorrt does not implement {name!r} '
                                 f'(real TensorRT {version} has it)')
        raise AttributeError(f'TensorRT {version} has no attribute {name!r}')
    setattr(trt, '__getattr__', missing)
    for name in list(vars(trt)):
        if not name.startswith('_') and name not in module_names:
            raise AssertionError(f'fake defines {name}, which TensorRT {version} lacks')
    return trt
