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
ONNX Runtime backend: any CPU, and NVIDIA GPUs / DLA through its providers.

The CPU provider always exists. When the installed onnxruntime carries the
TensorRT execution provider, the DLA core, GPU fallback, precision and engine
cache options map onto that provider's options; with only the CUDA provider,
the model runs on the GPU. What really runs the model is read back from the
session, never assumed.
"""

import os
from typing import Any, Collection, Dict, List, Mapping, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.backends.base import Backend, DeviceReport, TensorSpec
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.schema import Setting

#: This backend's own options (the node's parameters, the command lines' options).
OPTIONS = (
    Setting('cpu_threads', 1, 'CPU threads of the CPU provider; 0: the runtime default',
            bounds=(0, 64), flag='--threads'),
)

_ORT_TYPES = {
    'tensor(float)': np.float32, 'tensor(float16)': np.float16, 'tensor(double)': np.float64,
    'tensor(uint8)': np.uint8, 'tensor(int8)': np.int8, 'tensor(int32)': np.int32,
    'tensor(int64)': np.int64,
}
TRT_EP = 'TensorrtExecutionProvider'
CUDA_EP = 'CUDAExecutionProvider'
CPU_EP = 'CPUExecutionProvider'
_DEVICE_OF = {TRT_EP: 'GPU', CUDA_EP: 'GPU', CPU_EP: 'CPU'}


def default_cache_dir() -> str:
    """:return: the engine cache folder used when none is configured."""
    return os.path.join(os.path.expanduser('~'), '.cache', 'dla_infer_ros')


class OnnxRuntimeBackend(Backend):
    """Runs an ONNX model with ONNX Runtime (see the module docstring)."""

    name = 'onnxruntime'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Record the model and options (see :class:`Backend`)."""
        super().__init__(*args, **kwargs)
        self._session: Any = None
        self._binding: Any = None
        self._inputs: List[TensorSpec] = []
        self._outputs: List[TensorSpec] = []
        self._output_arrays: Dict[str, np.ndarray] = {}
        self._report = DeviceReport(self.name, self.options.requested_device, 'not active')

    @property
    def inputs(self) -> List[TensorSpec]:
        """Describe each model input; valid after activation."""
        return list(self._inputs)

    @property
    def outputs(self) -> List[TensorSpec]:
        """Describe each model output; valid after activation."""
        return list(self._outputs)

    def describe(self) -> DeviceReport:
        """:return: the requested and the effective device."""
        return self._report

    def plan_providers(self, available: List[str]) -> Tuple[List[Any], str]:
        """
        Choose execution providers for the requested device.

        :param available: ``onnxruntime.get_available_providers()``.
        :return: the provider list for the session, and the fallback reason
            ('' when the request is met as asked).
        :raises DlaInferError: when the request cannot be met and fallback is off.
        """
        opts = self.options
        gpu = [p for p in (TRT_EP, CUDA_EP) if p in available]
        if opts.dla_core >= 0 and TRT_EP in available:
            return [(TRT_EP, self._trt_provider_options()), *self._after_trt(available)], ''
        if opts.dla_core < 0 and gpu:
            first = (TRT_EP, self._trt_provider_options()) if gpu[0] == TRT_EP else CUDA_EP
            return [first, *([CUDA_EP] if CUDA_EP in gpu[1:] else []), CPU_EP], ''
        if opts.dla_core >= 0:
            reason = 'onnxruntime here has no TensorRT execution provider, so no DLA'
        else:
            reason = 'onnxruntime here has no CUDA or TensorRT execution provider'
        if not opts.allow_gpu_fallback:
            raise DlaInferError(f'{opts.requested_device} requested, but {reason} (providers: '
                                f'{", ".join(available)}); allow_gpu_fallback is false')
        return ([CUDA_EP] if CUDA_EP in gpu else []) + [CPU_EP], reason

    def _after_trt(self, available: List[str]) -> List[str]:
        # Layers TensorRT refuses go to these providers; without fallback only
        # the CPU provider stays, which onnxruntime always needs.
        if self.options.allow_gpu_fallback and CUDA_EP in available:
            return [CUDA_EP, CPU_EP]
        return [CPU_EP]

    def _trt_provider_options(self) -> Dict[str, Any]:
        opts = self.options
        cache = opts.engine_cache_dir or default_cache_dir()
        dla = opts.dla_core >= 0
        return {
            'device_id': opts.device_id,
            'trt_dla_enable': dla,
            'trt_dla_core': max(opts.dla_core, 0),
            # DLA runs only FP16 or INT8, as trtexec assumes.
            'trt_fp16_enable': opts.precision in ('fp16', 'best') or (
                dla and opts.precision != 'int8'),
            'trt_int8_enable': opts.precision in ('int8', 'best'),
            'trt_engine_cache_enable': not opts.force_rebuild,
            'trt_engine_cache_path': os.path.join(cache, 'onnxruntime_trt'),
            'trt_timing_cache_enable': True,
            'trt_max_workspace_size': opts.workspace_mb * 1024 * 1024,
        }

    def _activate_impl(self) -> None:
        ort = require('onnxruntime', 'the onnxruntime backend')
        providers, reason = self.plan_providers(list(ort.get_available_providers()))
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = self.options.cpu_threads
        session_options.inter_op_num_threads = 1
        session_options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(self.model_path, sess_options=session_options,
                                                 providers=providers)
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise DlaInferError(f'onnxruntime cannot load {self.model_path}: {e}') from e
        self._inputs = [self._spec(i, batched=True) for i in self._session.get_inputs()]
        self._outputs = [self._spec(o, batched=True) for o in self._session.get_outputs()]
        self._bind_outputs()
        self._report = self._make_report(reason)

    def _spec(self, node: Any, batched: bool) -> TensorSpec:
        dtype = _ORT_TYPES.get(node.type)
        if dtype is None:
            raise DlaInferError(f'{self.model_path}: tensor {node.name!r} has type {node.type}, '
                                f'supported: {", ".join(_ORT_TYPES)}')
        shape = list(node.shape)
        if shape and not isinstance(shape[0], int):
            shape[0] = self.options.batch_size  # dynamic batch dimension
        elif shape and batched and shape[0] != self.options.batch_size:
            raise DlaInferError(
                f'batch_size={self.options.batch_size} requested, but {self.model_path} has a '
                f'fixed batch of {shape[0]} on {node.name!r}; export the model with that batch '
                'or a dynamic batch dimension')
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise DlaInferError(f'{self.model_path}: tensor {node.name!r} has dynamic '
                                f'dimensions {node.shape} beyond the batch; static shapes needed')
        return TensorSpec(node.name, tuple(shape), np.dtype(dtype))

    def _bind_outputs(self) -> None:
        # Outputs go into arrays made once here; infer() only re-binds inputs.
        self._binding = self._session.io_binding()
        self._output_arrays = {}
        for spec in self._outputs:
            array = np.empty(spec.shape, dtype=spec.dtype)
            self._output_arrays[spec.name] = array
            self._binding.bind_output(spec.name, 'cpu', 0, spec.dtype, list(spec.shape),
                                      array.ctypes.data)

    def _make_report(self, reason: str) -> DeviceReport:
        providers = list(self._session.get_providers())
        effective = _DEVICE_OF.get(providers[0], providers[0])
        if providers[0] == TRT_EP and self.options.dla_core >= 0:
            effective = f'DLA core {self.options.dla_core} (TensorRT provider; unsupported ' \
                        'layers on GPU)' if self.options.allow_gpu_fallback else \
                        f'DLA core {self.options.dla_core} (TensorRT provider)'
        elif effective == 'GPU':
            effective = f'GPU {self.options.device_id}'
        details = (('providers', ', '.join(providers)),
                   ('cpu_threads', str(self.options.cpu_threads)),
                   ('precision', self._effective_precision(providers[0])))
        return DeviceReport(self.name, self.options.requested_device, effective, reason,
                            details=details)

    def _effective_precision(self, provider: str) -> str:
        if provider == TRT_EP or self.options.precision == 'fp32':
            return self.options.precision
        return f'fp32 ({self.options.precision} requested; {provider} runs the model as exported)'

    def _deactivate_impl(self) -> None:
        self._binding = None
        self._session = None
        self._output_arrays = {}
        self._report = DeviceReport(self.name, self.options.requested_device, 'not active')

    def _infer_impl(self, feed: Mapping[str, np.ndarray],
                    on_device: Collection[str]) -> Dict[str, np.ndarray]:
        if on_device:
            self.device_input(next(iter(on_device)))  # raises: inputs live in host memory
        binding = self._binding
        for spec in self._inputs:
            binding.bind_cpu_input(spec.name, np.ascontiguousarray(feed[spec.name]))
        try:
            self._session.run_with_iobinding(binding)
        except Exception as e:  # onnxruntime raises its own runtime error types
            raise DlaInferError(f'onnxruntime run failed on {self.model_path}: {e}') from e
        return self._output_arrays
