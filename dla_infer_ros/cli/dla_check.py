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
``dla_check``: predict offline which layers of an ONNX model the DLA runs.

Usage: ``dla_check MODEL.onnx --platform xavier|orin [--batch N] [--precision fp16|int8|fp32]
[--json] [--gpu-only] [--fail-on-gpu]``

Prints a table (layer, op, device, every reason for the GPU, rewrite hints) and a
one-line verdict, or with ``--json`` the report as JSON::

    {"platform", "model", "batch", "precision",
     "layers": [{"name", "op", "device": "DLA"|"GPU", "reasons": [...], "hints": [...]}],
     "summary": {"dla_layers", "gpu_layers", "dla_subgraphs", "transitions"},
     "subgraphs", "folded", "warnings", "verdict"}

Exit status: 0 the model was analysed (with ``--fail-on-gpu``: and every layer fits the
DLA); 1 only with ``--fail-on-gpu``, when layers fall back to the GPU; 2 usage error or a
model that cannot be analysed (missing file, not ONNX, dynamic shapes), with the reason on
stderr; 3 an unexpected internal error (a bug), reported on stderr without a traceback.
"""

import argparse
import json
import sys
from typing import List, Optional

from dla_infer_ros.cli import run_interruptibly
from dla_infer_ros.dla.analyzer import analyze_model, DlaReport
from dla_infer_ros.dla.rules import get_platform, PLATFORMS, PRECISIONS
from dla_infer_ros.errors import DlaInferError

_NAME_WIDTH = 48


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='dla_check',
        description='Predict, without TensorRT, which layers of an ONNX model TensorRT would '
                    'put on the DLA of a Jetson Xavier or Orin and which fall back to the GPU.',
        epilog='exit status: 0 analysed; 1 layers on the GPU (only with --fail-on-gpu); '
               '2 usage error or a model that cannot be analysed; 3 internal error')
    parser.add_argument('model', help='ONNX model file')
    parser.add_argument('--platform', default='orin', choices=sorted(PLATFORMS),
                        help='DLA generation: xavier (DLA v1) or orin (DLA v2, default)')
    parser.add_argument('--batch', type=int, default=None,
                        help='batch size; required when the model has a dynamic batch axis')
    parser.add_argument('--precision', default='fp16', choices=PRECISIONS,
                        help='build precision (default fp16; the DLA has no fp32)')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    parser.add_argument('--gpu-only', action='store_true',
                        help='list only the layers that fall back to the GPU')
    parser.add_argument('--fail-on-gpu', action='store_true',
                        help='exit with 1 when any layer falls back to the GPU')
    return parser


def format_report(report: DlaReport, gpu_only: bool = False) -> str:
    """:return: the human-readable table, totals, warnings and the verdict line."""
    layers = [(i, layer) for i, layer in enumerate(report.layers, start=1)
              if not gpu_only or layer.device != 'DLA']
    name_width = min(max([len(layer.name) for _, layer in layers] + [5]), _NAME_WIDTH)
    op_width = max([len(layer.op) for _, layer in layers] + [2])
    indent = ' ' * (6 + name_width + 2 + op_width + 2 + 6 + 2)
    lines = [f'{report.model}: {get_platform(report.platform).title}, batch {report.batch}, '
             f'{report.precision}',
             f'{"#":>5} {"layer":<{name_width}}  {"op":<{op_width}}  device  reasons / hints']
    for number, layer in layers:
        notes = list(layer.reasons) + [f'hint: {hint}' for hint in layer.hints]
        lines.append(f'{number:>5} {layer.name:<{name_width}}  {layer.op:<{op_width}}  '
                     f'{layer.device:<6}  {notes[0] if notes else ""}'.rstrip())
        lines += [indent + note for note in notes[1:]]
    counts = report.counts()
    sizes = ', '.join(str(len(group)) for group in report.subgraphs)
    lines.append(f'layers: {counts["dla_layers"]} on DLA, {counts["gpu_layers"]} on GPU; '
                 f'{len(report.folded)} nodes folded at build time')
    lines.append(f'DLA subgraphs: {counts["dla_subgraphs"]}'
                 + (f' (layers each: {sizes})' if sizes else '')
                 + f'; GPU<->DLA transitions: {counts["transitions"]}')
    lines += [f'warning: {warning}' for warning in report.warnings]
    lines.append(f'verdict: {report.summary()}')
    return '\n'.join(lines)


def run(argv: Optional[List[str]] = None) -> int:
    """
    Run the command.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``).
    :return: the exit status (see the module docstring).
    """
    args = build_parser().parse_args(argv)
    try:
        report = analyze_model(args.model, args.platform, args.batch, args.precision)
    except DlaInferError as e:
        print(f'dla_check: error: {e}', file=sys.stderr)
        return 2
    except Exception as e:  # a bug: say so in one line instead of a traceback
        print(f'dla_check: internal error while analysing {args.model}: '
              f'{type(e).__name__}: {e}', file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report, args.gpu_only))
    return 1 if args.fail_on_gpu and not report.all_on_dla else 0


def main(args: Optional[List[str]] = None) -> None:
    """Console-script entry point."""
    sys.exit(run_interruptibly('dla_check', lambda: run(args)))


if __name__ == '__main__':
    main()
