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

from dla_infer_ros.backends.tensorrt import TensorRtBackend
from dla_infer_ros.cli import run_interruptibly
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.schema import add_arguments, argument_values, backend_options


#: The classifier's settings this command offers (:mod:`dla_infer_ros.schema`).
SETTINGS = ('dla_core', 'allow_gpu_fallback', 'precision', 'batch_size', 'engine_cache_dir',
            'force_rebuild', 'workspace_mb', 'dla_sram_mb', 'cuda_binding')


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='trt_engine_info',
        description='Show which layers of a TensorRT engine run on the DLA and which on the GPU.')
    parser.add_argument('model', help='ONNX model (built or taken from the engine cache) '
                                      'or serialized engine (.plan/.engine)')
    add_arguments(parser, SETTINGS, defaults={'precision': 'fp16'})
    parser.add_argument('--calibration-cache', default='',
                        help='INT8 calibration cache file (image folders need the '
                             'preprocessing of the node and are not read here)')
    parser.add_argument('--json', action='store_true',
                        help='print the engine inspector JSON instead of the table')
    parser.add_argument('--verbose', action='store_true', help='show TensorRT INFO messages')
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command; :return: the exit status: 0, or 2 with one error line."""
    return run_interruptibly('trt_engine_info', lambda: run(argv))


def run(argv: Optional[List[str]] = None) -> int:
    """Run the command; :return: the exit status: 0, or 2 with one error line."""
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.model):
        print(f'trt_engine_info: {args.model}: no such file', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(message)s')
    try:
        values = argument_values(args, SETTINGS)
        options = backend_options({**values, 'calibration_dir': args.calibration_cache})
        with TensorRtBackend(args.model, options) as backend:
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
