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
Deserialize a plan and run it through TensorRT's name-based I/O API.

``num_io_tensors`` / ``get_tensor_name`` / ``set_tensor_address`` /
``execute_async_v3`` exist from TensorRT 8.5 and are the only I/O API in 10,
so one code path serves 8.5, 8.6 and 10.x. The runtime's DLA core is set
before deserializing: a plan built for DLA core 1 otherwise runs on core 0.
Every boolean TensorRT returns is checked.

Each I/O tensor's memory format is read from the engine: ``LINEAR`` is plain
row-major; ``DLA_LINEAR`` (what a DLA-only engine reads and writes) pads each
innermost row to 64 bytes, which :class:`IoTensor` describes as a storage
shape and a logical view; vectorised formats (``CHW16``, ``HWC8``, ...) are
refused with the reason, since binding them as row-major would silently
produce wrong results.
"""

import dataclasses
from types import ModuleType
from typing import Any, Dict, List, Tuple

import numpy as np

from dla_infer_ros.backends.tensorrt.loader import TrtVersion
from dla_infer_ros.backends.tensorrt.logging_bridge import recent_errors_text
from dla_infer_ros.errors import DlaInferError


#: memory formats whose elements sit in row-major order (rows may be padded)
LINEAR_FORMATS = ('LINEAR', 'DLA_LINEAR')
#: DLA_LINEAR rows start every 64 bytes
_DLA_ROW_ALIGNMENT = 64


@dataclasses.dataclass(frozen=True)
class IoTensor:
    """One engine input or output: concrete shape, element type and memory format."""

    name: str
    is_input: bool
    shape: Tuple[int, ...]
    dtype: np.dtype
    memory_format: str = 'LINEAR'  # TensorFormat member name

    @property
    def storage_shape(self) -> Tuple[int, ...]:
        """:return: the shape of the memory: ``shape`` with DLA_LINEAR rows padded."""
        if self.memory_format != 'DLA_LINEAR' or not self.shape:
            return self.shape
        per_row = _DLA_ROW_ALIGNMENT // self.dtype.itemsize
        width = -(-self.shape[-1] // per_row) * per_row
        return self.shape[:-1] + (width,)

    @property
    def nbytes(self) -> int:
        """:return: the size of the tensor's memory in bytes, padding included."""
        return int(np.prod(self.storage_shape, dtype=np.int64)) * self.dtype.itemsize

    def view(self, storage: np.ndarray) -> np.ndarray:
        """:return: the logical ``shape`` view of ``storage`` (no copy; strided if padded)."""
        if storage.shape == self.shape:
            return storage
        return storage[..., :self.shape[-1]]


def create_runtime(trt: ModuleType, trt_logger: Any) -> Any:
    """
    Create a ``trt.Runtime``.

    :raises DlaInferError: when TensorRT's libraries cannot create one.
    """
    try:
        runtime = trt.Runtime(trt_logger)
    except (RuntimeError, TypeError) as e:
        raise DlaInferError(f'TensorRT could not create a runtime ({e}); is libnvinfer '
                            'installed and a GPU visible?') from e
    if runtime is None:
        raise DlaInferError('TensorRT could not create a runtime' + recent_errors_text(trt_logger))
    return runtime


class PlanRejectedError(DlaInferError):
    """TensorRT could not deserialize a plan (corrupt, or built for other hardware/version)."""


def deserialize(runtime: Any, plan: bytes, dla_core: int, trt_logger: Any) -> Any:
    """
    Deserialize a plan for the GPU or a DLA core.

    :param runtime: the ``trt.Runtime``; it must outlive the engine.
    :param plan: the serialized engine.
    :param dla_core: -1 for the GPU, else the DLA core, set on the runtime first.
    :param trt_logger: the logger whose recent errors explain a rejection.
    :return: the ``ICudaEngine``.
    :raises PlanRejectedError: when TensorRT returns no engine.
    """
    if dla_core >= 0:
        runtime.DLA_core = dla_core  # before deserializing, or core 1 plans run on core 0
    try:
        engine = runtime.deserialize_cuda_engine(plan)
    except (RuntimeError, TypeError) as e:
        raise PlanRejectedError(f'TensorRT cannot deserialize the plan: {e}'
                                + recent_errors_text(trt_logger)) from e
    if engine is None:
        raise PlanRejectedError('TensorRT cannot deserialize the plan (built by another '
                                'TensorRT version or for another device?)'
                                + recent_errors_text(trt_logger))
    return engine


def numpy_dtype(trt: ModuleType, version: TrtVersion, trt_dtype: Any) -> np.dtype:
    """
    Map a ``trt.DataType`` to numpy.

    :raises DlaInferError: for types numpy has no match for (BF16, FP8, INT4).
    """
    table = {trt.DataType.FLOAT: np.float32, trt.DataType.HALF: np.float16,
             trt.DataType.INT8: np.int8, trt.DataType.INT32: np.int32,
             trt.DataType.BOOL: np.bool_, trt.DataType.UINT8: np.uint8}
    if version.has_int64_tensors:
        table[trt.DataType.INT64] = np.int64
    if trt_dtype not in table:
        raise DlaInferError(f'engine tensor type {trt_dtype} has no numpy equivalent')
    return np.dtype(table[trt_dtype])


def create_context(engine: Any) -> Any:
    """
    Create an execution context for ``engine``.

    :raises DlaInferError: when none can be made (e.g. out of device memory).
    """
    context = engine.create_execution_context()
    if context is None:
        raise DlaInferError('TensorRT could not create an execution context '
                            '(out of device memory?)')
    return context


def tensor_format(trt: ModuleType, engine: Any, name: str) -> str:
    """
    Read the memory format of an engine tensor and refuse the ones not bound row-major.

    :return: ``LINEAR`` or ``DLA_LINEAR``.
    :raises DlaInferError: for vectorised or channel-last formats, naming the format.
    """
    fmt = engine.get_tensor_format(name)
    text = str(getattr(fmt, 'name', fmt)).split('.')[-1]
    if text in LINEAR_FORMATS:
        return text
    raise DlaInferError(
        f'engine tensor {name!r} uses the {text} memory format '
        f'({engine.get_tensor_format_desc(name)}); this backend binds row-major tensors only '
        f'({" and ".join(LINEAR_FORMATS)}): rebuild the engine with linear I/O '
        '(trtexec: leave out --inputIOFormats/--outputIOFormats, or give fp32:chw / fp16:chw)')


def io_tensors(trt: ModuleType, version: TrtVersion, engine: Any, context: Any,
               batch_size: int) -> List[IoTensor]:
    """
    List the engine's inputs and outputs, fixing any dynamic input batch.

    :raises DlaInferError: when TensorRT rejects an input shape, an output
        shape stays unknown, or a tensor's memory format cannot be bound.
    """
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    modes: Dict[str, bool] = {
        n: engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
    for name in (n for n in names if modes[n]):
        shape = tuple(engine.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            concrete = (batch_size,) + tuple(shape[1:])
            if not context.set_input_shape(name, concrete):
                raise DlaInferError(f'TensorRT rejected shape {list(concrete)} for input '
                                    f'{name!r} (engine shape {list(shape)})')
    tensors = []
    for name in names:
        shape = tuple(int(d) for d in context.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            raise DlaInferError(f'tensor {name!r} has an unresolved shape {list(shape)}')
        dtype = numpy_dtype(trt, version, engine.get_tensor_dtype(name))
        tensors.append(IoTensor(name, modes[name], shape, dtype,
                                tensor_format(trt, engine, name)))
    return tensors


def bind_address(context: Any, name: str, address: int) -> None:
    """
    Bind a device address to an engine tensor.

    :raises DlaInferError: when TensorRT refuses the address.
    """
    if not context.set_tensor_address(name, address):
        raise DlaInferError(f'TensorRT refused the device address of tensor {name!r}')


def execute(context: Any, stream_handle: int, trt_logger: Any) -> None:
    """
    Enqueue one inference on a stream.

    :raises DlaInferError: when ``execute_async_v3`` returns False.
    """
    if not context.execute_async_v3(stream_handle):
        raise DlaInferError('TensorRT execute_async_v3 failed' + recent_errors_text(trt_logger))
