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
``trt_engine_info``: where the layers of a TensorRT engine run (DLA or GPU).

Given an ONNX model it builds the engine (or loads it from the engine cache)
for the requested device and precision; given a serialized engine it loads it
for the requested DLA core. Either way it prints the device report, the I/O
tensors and the per-layer placement. It needs TensorRT and a GPU; without
them it says so and exits with status 1.
"""

import argparse
import json
import logging
import os
import sys
from typing import List, Optional

from dla_infer_ros.backends.base import BackendOptions, PRECISIONS
from dla_infer_ros.backends.tensorrt import DlaMemoryPools, TensorRtBackend
from dla_infer_ros.cli import run_interruptibly
from dla_infer_ros.errors import DlaInferError

_MIB = 1 << 20


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """:return: the parsed command line."""
    parser = argparse.ArgumentParser(
        prog='trt_engine_info',
        description='Show which layers of a TensorRT engine run on the DLA and which on the GPU.')
    parser.add_argument('model', help='ONNX model (built or taken from the engine cache) '
                                      'or serialized engine (.plan/.engine)')
    parser.add_argument('--dla-core', type=int, default=-1,
                        help='DLA core to build for / load on; -1 = GPU (default)')
    parser.add_argument('--no-gpu-fallback', action='store_true',
                        help='refuse layers (or hosts) the DLA cannot serve')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp16',
                        help='build precision (default fp16; the DLA needs fp16 or int8)')
    parser.add_argument('--batch', type=int, default=1, help='batch size (default 1)')
    parser.add_argument('--calibration-cache', default='',
                        help='INT8 calibration cache file (image folders need the '
                             'preprocessing of the node and are not read here)')
    parser.add_argument('--cache-dir', default='', help='engine cache directory '
                                                        '(default ~/.cache/dla_infer_ros)')
    parser.add_argument('--force-rebuild', action='store_true', help='ignore the engine cache')
    parser.add_argument('--workspace-mb', type=int, default=1024, help='builder workspace')
    parser.add_argument('--dla-sram-mb', type=int, default=0,
                        help='DLA managed SRAM pool (MiB; 0 = TensorRT default)')
    parser.add_argument('--cuda-binding', choices=('cuda-python', 'pycuda'),
                        default='cuda-python')
    parser.add_argument('--json', action='store_true',
                        help='print the engine inspector JSON instead of the table')
    parser.add_argument('--verbose', action='store_true', help='show TensorRT INFO messages')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command; :return: the exit status: 0, or 2 with one error line."""
    return run_interruptibly('trt_engine_info', lambda: run(argv))


def run(argv: Optional[List[str]] = None) -> int:
    """Run the command; :return: the exit status: 0, or 2 with one error line."""
    args = parse_args(argv)
    if not os.path.isfile(args.model):
        print(f'trt_engine_info: {args.model}: no such file', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(message)s')
    try:
        options = BackendOptions(
            dla_core=args.dla_core, allow_gpu_fallback=not args.no_gpu_fallback,
            precision=args.precision, batch_size=args.batch, engine_cache_dir=args.cache_dir,
            force_rebuild=args.force_rebuild, calibration_dir=args.calibration_cache,
            workspace_mb=args.workspace_mb, cuda_binding=args.cuda_binding)
        pools = DlaMemoryPools(managed_sram=args.dla_sram_mb * _MIB)
        with TensorRtBackend(args.model, options, dla_pools=pools) as backend:
            if args.json:
                print(json.dumps(json.loads(backend.engine_information()), indent=2))
            else:
                print_report(backend)
    except DlaInferError as e:
        print(f'trt_engine_info: {e}', file=sys.stderr)
        return 2
    return 0


def print_report(backend: TensorRtBackend) -> None:
    """Print the device report, I/O tensors and per-layer placement."""
    report = backend.describe()
    print(report.summary())
    for key, value in report.details:
        print(f'  {key}: {value}')
    for spec in backend.inputs:
        print(f'  input  {spec.describe()}')
    for spec in backend.outputs:
        print(f'  output {spec.describe()}')
    placement = report.placement
    print(placement.summary())
    for name, device in placement.layers:
        print(f'  {device:<4} {name}')
    for name in placement.reformats:
        print(f'  GPU  {name}  (reformat)')
    if placement.fallen_back:
        print('network layers the DLA could not run: ' + ', '.join(placement.fallen_back))


if __name__ == '__main__':
    sys.exit(main())
