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
``dla_zoo``: write the seed models (LeNet, AlexNet, GoogLeNet, ResNet-50) as ONNX files.

Usage: ``dla_zoo OUTDIR [--models lenet,alexnet,googlenet,resnet50] [--weights random|zeros]
[--batch N] [--seed S] [--fc-as-conv]``. Exit status 0, or 2 with the reason on stderr.
"""

import argparse
import os
import sys
from typing import List, Optional

from dla_infer_ros.cli import run_interruptibly
from dla_infer_ros.dla.zoo import MODELS, WEIGHTS, write
from dla_infer_ros.errors import DlaInferError

DEFAULT_MODELS = ('lenet', 'alexnet', 'googlenet', 'resnet50')


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='dla_zoo',
        description='Write the seed networks of the Xavier DLA field report as ONNX files '
                    '(Caffe shapes and names, input "data", output "prob").')
    parser.add_argument('outdir', help='folder to write <model>.onnx into (created if needed)')
    parser.add_argument('--models', default=','.join(DEFAULT_MODELS),
                        help=f'comma-separated list out of {", ".join(MODELS)} '
                             f'(default: {",".join(DEFAULT_MODELS)})')
    parser.add_argument('--weights', default='random', choices=WEIGHTS,
                        help='random He-normal weights (default) or zeros')
    parser.add_argument('--batch', type=int, default=1, help='static batch size (default 1)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--fc-as-conv', action='store_true',
                        help='write the fully connected layers as convolutions')
    return parser


def run(argv: Optional[List[str]] = None) -> int:
    """
    Run the command.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``).
    :return: 0 when every model was written, 2 on an error (printed to stderr).
    """
    args = build_parser().parse_args(argv)
    names = [name.strip() for name in args.models.split(',') if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        print(f'dla_zoo: error: unknown model(s) {", ".join(unknown) or "(none given)"}; '
              f'choose from {", ".join(MODELS)}', file=sys.stderr)
        return 2
    try:
        for name in names:
            path = write(name, args.outdir, batch=args.batch, weights=args.weights,
                         seed=args.seed, fc_as_conv=args.fc_as_conv)
            print(f'wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB)')
    except DlaInferError as e:
        print(f'dla_zoo: error: {e}', file=sys.stderr)
        return 2
    return 0


def main(args: Optional[List[str]] = None) -> None:
    """Console-script entry point."""
    sys.exit(run_interruptibly('dla_zoo', lambda: run(args)))


if __name__ == '__main__':
    main()
