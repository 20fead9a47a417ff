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
CUDA C kernels compiled at run time with NVRTC, loaded and launched through the driver API.

Only the cuda-python binding (``cuda.bindings.nvrtc`` and ``cuda.bindings.driver``) can
compile; the program is compiled to PTX for the device's compute capability, which the
driver then compiles for the GPU, once per process and configuration.
"""

import ctypes
import threading
from types import ModuleType
from typing import Any, Dict, Iterator, Sequence, Tuple, Union

from dla_infer_ros._optional import require
from dla_infer_ros.backends.cuda.interface import _Owned, CudaApi, Stream
from dla_infer_ros.errors import DlaInferError

#: ctypes of the kernel arguments this module passes.
ARG_TYPES = {'ptr': ctypes.c_void_p, 'int': ctypes.c_int, 'float': ctypes.c_float}


class PackedArgs(Sequence[Tuple[str, Any]]):
    """
    Kernel arguments converted to C once, for launches that repeat them.

    The driver copies the arguments at each launch, so one packing serves every launch;
    packing 20-odd arguments takes the binding longer than the launch itself. Still a
    sequence of (kind, value), as :meth:`Kernel.launch` also takes.
    """

    def __init__(self, args: Sequence[Tuple[str, Any]]) -> None:
        """:param args: (kind, value) per parameter, kind in :data:`ARG_TYPES`."""
        self.args = tuple((kind, int(v) if kind != 'float' else float(v)) for kind, v in args)
        self._values = [ARG_TYPES[kind](value)  # type: ignore[arg-type]
                        for kind, value in self.args]
        self._pointers = (ctypes.c_void_p * len(self._values))(
            *(ctypes.addressof(value) for value in self._values))

    @property
    def address(self) -> int:
        """:return: the address of the ``void*`` array ``cuLaunchKernel`` takes."""
        return ctypes.addressof(self._pointers)

    def __getitem__(self, index: Any) -> Any:
        """:return: the (kind, value) pair(s) at ``index``."""
        return self.args[index]

    def __len__(self) -> int:
        """:return: the number of arguments."""
        return len(self.args)

    def __iter__(self) -> Iterator[Tuple[str, Any]]:
        """:return: the (kind, value) pairs."""
        return iter(self.args)

    def __eq__(self, other: object) -> bool:
        """:return: True for the same arguments."""
        return isinstance(other, PackedArgs) and other.args == self.args

    def __hash__(self) -> int:
        """:return: the hash of the arguments."""
        return hash(self.args)


class Kernel(_Owned):
    """A compiled ``extern "C"`` kernel: its driver function handle, and its module's."""

    def __init__(self, name: str, module: Any, function: Any, driver: ModuleType) -> None:
        """Own ``module`` (unloaded on :meth:`free`) and the function found in it."""
        super().__init__(lambda: _check(driver, driver.cuModuleUnload(module)[0],
                                        'cuModuleUnload'))
        self.name = name
        self.function = function
        self._driver = driver

    def launch(self, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               args: Union[PackedArgs, Sequence[Tuple[str, Any]]], stream: Stream) -> None:
        """
        Enqueue the kernel on ``stream``.

        :param args: (kind, value) per parameter, kind in :data:`ARG_TYPES`; packed once
            (:class:`PackedArgs`) where the same arguments are launched again and again.
        :raises DlaInferError: when the launch is refused.
        """
        self._check_alive(f'kernel {self.name}')
        params: Any
        if isinstance(args, PackedArgs):
            params = args.address
        else:
            values = tuple(int(v) if kind != 'float' else float(v) for kind, v in args)
            params = (values, tuple(ARG_TYPES[kind] for kind, _ in args))
        err, = self._driver.cuLaunchKernel(self.function, *grid, *block, 0, stream.native,
                                           params, 0)
        _check(self._driver, err, f'cuLaunchKernel({self.name})')

    def _forget(self) -> None:
        self.function = None


_cache_lock = threading.Lock()
_compiled: Dict[Tuple[str, Tuple[int, int], Tuple[str, ...]], bytes] = {}


def compile_kernel(api: CudaApi, source: str, name: str,
                   defines: Sequence[str] = ()) -> Kernel:
    """
    Compile ``source`` (PTX cached per process), load it and look up kernel ``name``.

    :param api: the CUDA layer; must be the cuda-python one.
    :param defines: ``NAME=VALUE`` macros of this configuration.
    :raises DlaInferError: when the binding cannot compile, or NVRTC or the driver fails
        (with NVRTC's log).
    """
    if api.name != 'cuda-python':
        raise DlaInferError(f'compiling CUDA kernels needs the cuda-python binding; '
                            f'{api.name} is in use')
    nvrtc = require('cuda.bindings.nvrtc', 'compiling CUDA kernels (NVRTC)')
    driver = require('cuda.bindings.driver', 'loading CUDA kernels')
    arch = api.compute_capability()
    key = (source, arch, tuple(defines))
    with _cache_lock:
        ptx = _compiled.get(key)
        if ptx is None:
            ptx = _compile(nvrtc, source, name, arch, defines)
            _compiled[key] = ptx
    with api.bound():
        module = _result(driver, driver.cuModuleLoadData(ptx), 'cuModuleLoadData')
        try:
            function = _result(driver, driver.cuModuleGetFunction(module, name.encode()),
                               f'cuModuleGetFunction({name})')
        except DlaInferError:
            driver.cuModuleUnload(module)
            raise
    return Kernel(name, module, function, driver)


def _compile(nvrtc: ModuleType, source: str, name: str, arch: Tuple[int, int],
             defines: Sequence[str]) -> bytes:
    program = _nvrtc_result(nvrtc, nvrtc.nvrtcCreateProgram(
        source.encode(), f'{name}.cu'.encode(), 0, [], []), 'nvrtcCreateProgram')
    try:
        options = [f'--gpu-architecture=compute_{arch[0]}{arch[1]}'.encode(),
                   b'--fmad=false', *(f'-D{d}'.encode() for d in defines)]
        err, = nvrtc.nvrtcCompileProgram(program, len(options), options)
        if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            size = _nvrtc_result(nvrtc, nvrtc.nvrtcGetProgramLogSize(program), 'log size')
            log = b' ' * size
            nvrtc.nvrtcGetProgramLog(program, log)
            raise DlaInferError(f'NVRTC could not compile {name}: '
                                f'{log.decode(errors="replace").strip()}')
        size = _nvrtc_result(nvrtc, nvrtc.nvrtcGetPTXSize(program), 'nvrtcGetPTXSize')
        ptx: bytes = b' ' * int(size)
        _nvrtc_result(nvrtc, nvrtc.nvrtcGetPTX(program, ptx), 'nvrtcGetPTX')
        return ptx
    finally:
        nvrtc.nvrtcDestroyProgram(program)


def _nvrtc_result(nvrtc: ModuleType, result: Any, what: str) -> Any:
    err, *values = result
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise DlaInferError(f'NVRTC {what} failed: {err}')
    return values[0] if values else None


def _result(driver: ModuleType, result: Any, what: str) -> Any:
    err, *values = result
    _check(driver, err, what)
    return values[0] if values else None


def _check(driver: ModuleType, err: Any, what: str) -> None:
    if err != driver.CUresult.CUDA_SUCCESS:
        name = driver.cuGetErrorName(err)
        raise DlaInferError(f'CUDA driver call {what} failed: '
                            f'{name[1].decode() if name[0] == 0 else err}')
