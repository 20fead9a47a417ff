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
Runs inside a process that imports one real TensorRT binding (see trt_bindings.py).

The module is ``tensorrt_bindings`` (a binding wheel put on PYTHONPATH) unless
``TRT_PROBE_MODULE`` names another, e.g. ``tensorrt`` for a full TensorRT.

Commands (the result is JSON on stdout):

``dump``      the surface: module names, every class's members, enum values, and
              the parameter names of the methods of the classes the backend uses;
``check``     every entry of ``api_surface.USED_API`` for this version: present,
              keyword arguments accepted, overrides with the real parameter names;
``exercise``  the backend's TensorRT subclasses (logger, progress monitor, INT8
              calibrator) instantiated on the real base classes and called, and
              the backend's activation up to the first call that needs libnvinfer.
"""

import contextlib
import importlib
import json
import logging
import os
import re
import sys
import tempfile
from typing import Any, Dict, Iterator, List, Optional

trt = importlib.import_module(os.environ.get('TRT_PROBE_MODULE', 'tensorrt_bindings'))
sys.modules['tensorrt'] = trt  # the backend imports 'tensorrt'

from dla_infer_ros.backends.tensorrt import api_surface  # noqa: E402

_SIGNATURE = re.compile(r'^(?:\d+\. )?(\w+)\((.*)\)(?: -> .*)?$')


def _split_params(text: str) -> List[str]:
    """:return: parameter names of a pybind11 signature's argument list."""
    names, depth, current = [], 0, ''
    for char in text + ',':
        if char in '[(':
            depth += 1
        elif char in '])':
            depth -= 1
        if char == ',' and depth == 0:
            name = current.split(':')[0].split('=')[0].strip()
            if name and name != 'self' and not name.startswith('*'):
                names.append(name)
            current = ''
        else:
            current += char
    return names


def signatures(member: Any, name: str) -> List[List[str]]:
    """:return: the parameter names of each overload, from the pybind11 docstring."""
    found = []
    for line in (getattr(member, '__doc__', None) or '').splitlines():
        match = _SIGNATURE.match(line.strip())
        if match and match.group(1) == name and not match.group(2).startswith('*args'):
            found.append(_split_params(match.group(2)))
    return found


def resolve(owner: str) -> Optional[Any]:
    """:return: ``trt.<owner>`` (dotted for nested classes), or None."""
    obj: Any = trt
    for part in owner.split('.'):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _public(names: List[str]) -> List[str]:
    return sorted(n for n in names if not n.startswith('_') or n in ('__init__', '__version__'))


def dump() -> Dict[str, Any]:
    """:return: the surface of this version (see the module docstring)."""
    classes: Dict[str, Any] = {}
    owners = set(api_surface.owners())
    todo = [(name, getattr(trt, name)) for name in dir(trt)
            if isinstance(getattr(trt, name), type)]
    todo.append(('ILogger.Severity', trt.ILogger.Severity))
    for name, cls in todo:
        entry: Dict[str, Any] = {'members': _public(dir(cls))}
        if hasattr(cls, '__members__'):
            entry['enum'] = {k: int(v) for k, v in cls.__members__.items()}
        if name in owners:
            entry['signatures'] = {m: signatures(getattr(cls, m), m) for m in entry['members']
                                   if callable(getattr(cls, m, None))}
        classes[name] = entry
    return {'version': trt.__version__, 'module': _public(dir(trt)), 'classes': classes}


def _api_use(fields: Dict[str, Any]) -> api_surface.ApiUse:
    """:return: an ApiUse from JSON fields (lists become tuples)."""
    converted: Dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in fields.items()}
    return api_surface.ApiUse(**converted)


def check(extra: str = '[]') -> Dict[str, Any]:
    """
    Check the API table against this version.

    :param extra: JSON list of further entries (ApiUse fields), checked too;
        the tests pass names that must be reported missing.
    :return: the entries this version lacks or mismatches.
    """
    numbers = trt.__version__.split('.')
    release = (int(numbers[0]), int(numbers[1]))
    family = max(f for f in api_surface.FAMILIES if f <= release)
    problems: List[str] = []
    uses = api_surface.used_for(family) + tuple(_api_use(e) for e in json.loads(extra))
    for use in uses:
        owner = resolve(use.owner) if use.owner != 'tensorrt' else trt
        if owner is None:
            problems.append(f'missing class {use.owner}')
            continue
        if use.kind == 'enum':
            if use.member not in getattr(owner, '__members__', {}):
                problems.append(f'missing enum value {use.owner}.{use.member}')
            continue
        if not hasattr(owner, use.member):
            problems.append(f'missing {use.owner}.{use.member}')
            continue
        overloads = signatures(getattr(owner, use.member), use.member)
        for kwarg in use.kwargs:
            if not any(kwarg in params for params in overloads):
                problems.append(f'{use.owner}.{use.member} takes no keyword {kwarg!r} '
                                f'(signatures {overloads})')
        if use.kind == 'override' and use.member != '__init__':
            if list(use.params) not in overloads:
                problems.append(f'{use.owner}.{use.member} parameters are {overloads}, '
                                f'the override uses {list(use.params)}')
    return {'version': trt.__version__, 'family': list(family), 'checked': len(uses),
            'problems': problems}


class _HostCuda:
    """Just enough of the CUDA layer for the calibrator: memory in numpy arrays."""

    name = 'host'

    def __init__(self) -> None:
        from dla_infer_ros.backends.cuda import DeviceBuffer, HostBuffer, Stream
        self._classes = (DeviceBuffer, HostBuffer, Stream)
        self.memory: Dict[int, Any] = {}

    def host_buffer(self, shape: Any, dtype: Any) -> Any:
        import numpy as np
        array = np.zeros(shape, dtype)
        return self._classes[1](array, array.ctypes.data, lambda: None)

    def device_buffer(self, nbytes: int) -> Any:
        import numpy as np
        block = np.zeros(nbytes, np.uint8)
        self.memory[block.ctypes.data] = block
        return self._classes[0](block.ctypes.data, nbytes, lambda: None)

    def stream(self) -> Any:
        return self._classes[2](0, None, lambda: None)

    def copy_htod_async(self, dst: Any, src: Any, stream: Any) -> None:
        self.memory[dst.ptr][:src.nbytes] = src.array.view('uint8').ravel()

    def synchronize(self, stream: Any) -> None:
        pass


def exercise() -> Dict[str, Any]:
    """:return: what the backend's subclasses did on the real base classes."""
    import numpy as np
    from dla_infer_ros.backends.tensorrt import calibrator, loader, logging_bridge
    from dla_infer_ros.errors import DlaInferError
    results: Dict[str, Any] = {'version': trt.__version__}
    try:
        loader.load_tensorrt()
        results['load'] = 'ok'
    except DlaInferError as e:
        results['load'] = f'refused: {e}'
        return results
    records: List[str] = []

    class Collect(logging.Handler):
        """Keep every log record as text."""

        def emit(self, record: logging.LogRecord) -> None:
            records.append(f'{record.levelname}:{record.getMessage()}')
    log = logging.getLogger('probe')
    log.setLevel(logging.DEBUG)
    log.addHandler(Collect())

    trt_logger = logging_bridge.make_logger(trt, log)
    results['logger_is_ilogger'] = isinstance(trt_logger, trt.ILogger)
    trt_logger.log(trt.ILogger.Severity.ERROR, 'probe error')
    trt_logger.log(trt.ILogger.Severity.VERBOSE, 'probe verbose')
    results['recent_errors'] = trt_logger.recent_errors()

    clock = iter([0.0, 0.0, 20.0, 20.0, 21.0])
    monitor = logging_bridge.make_progress_monitor(trt, log, 10.0, lambda: next(clock))
    if monitor is None:
        results['progress_monitor'] = None
    else:
        results['progress_monitor'] = type(monitor).__mro__[1].__name__
        monitor.phase_start('Building', None, 3)
        results['step_continue'] = monitor.step_complete('Building', 0)
        monitor.phase_finish('Building')

    with tempfile.TemporaryDirectory() as folder:
        cache_path = os.path.join(folder, 'calib.cache')
        batches = [np.full((2, 3, 4, 4), i, np.float32) for i in range(3)]
        plan = calibrator.CalibrationPlan('test', cache_path, cache_path, lambda shape: batches)
        cuda = _HostCuda()
        calib = calibrator.make_entropy_calibrator(trt, plan, (2, 3, 4, 4), cuda,  # type: ignore
                                                   log)
        results['calibrator_is_entropy2'] = isinstance(calib, trt.IInt8EntropyCalibrator2)
        results['batch_size'] = calib.get_batch_size()
        fed = []
        for _ in range(len(batches) + 1):  # one more call than batches: the end
            pointers = calib.get_batch(['input'])
            fed.append(None if pointers is None
                       else cuda.memory[pointers[0]].view(np.float32).tolist())
        results['batches'] = [None if f is None else sorted(set(f)) for f in fed]
        results['cache_before'] = calib.read_calibration_cache()
        calib.write_calibration_cache(b'TRT-calibration')
        results['cache_after'] = calib.read_calibration_cache().decode()
        calib.close()
    results['backend_activate'] = _activate_backend()
    results['log'] = records
    return results


def _activate_backend() -> str:
    """:return: how far ``TensorRtBackend.activate`` gets on stub libraries."""
    from dla_infer_ros.backends import BackendOptions, create_backend
    from dla_infer_ros.errors import DlaInferError

    class NoCuda:
        """NoCuda."""

        name = 'none'

        @contextlib.contextmanager
        def bound(self) -> Iterator[None]:
            yield

        def compute_capability(self) -> Any:
            return (8, 7)

        def close(self) -> None:
            pass
    backend = create_backend('tensorrt', 'model.onnx', BackendOptions(dla_core=0))
    backend._cuda_factory = lambda binding, device: NoCuda()  # type: ignore[attr-defined]
    try:
        backend.activate()
    except DlaInferError as e:
        return f'DlaInferError: {e}'
    return 'activated'


def main() -> int:
    """Run one command, print its JSON result."""
    command = sys.argv[1]
    result = {'dump': dump, 'check': check, 'exercise': exercise}[command](*sys.argv[2:])
    json.dump(result, sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
