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
``dla_bench``: trtexec's measurement on every accelerator, alone and at once, answers checked.

Usage: ``dla_bench [MODEL] [--device gpu,dla0,dla1,cpu] [--precision P] [--batch N]
[--duration S] [--iterations N] [--preprocess cpu|gpu|auto] [--image PATH] [--concurrent]
[--verify [IMAGES ...]] [--json F] [--csv F] [--plot F.png]``. Exit status 0; 1 when
``--min-agreement`` is not met; 2 for a usage error or a model or device that cannot run as asked.
"""

import argparse
import csv
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from dla_infer_ros.benchmark import (BenchOptions, default_devices, Device, PHOTOS_DIR,
                                     run_benchmark, STATISTICS)
from dla_infer_ros.classifier import PREPROCESS_DEVICES, STAGES
from dla_infer_ros.cli import run_interruptibly
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.schema import add_arguments, argument_values


#: The classifier's settings this command offers (:mod:`dla_infer_ros.schema`), named as
#: the fields of :class:`BenchOptions`.
SETTINGS = ('backend', 'precision', 'batch_size', 'calibration_dir', 'allow_gpu_fallback',
            'spin_wait', 'cpu_threads', 'engine_cache_dir')


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser (trtexec's option names where it has one)."""
    parser = argparse.ArgumentParser(
        prog='dla_bench', description='Measure a model on the GPU, each DLA core and the CPU, '
        'alone and all at once, and say what really ran where.')
    parser.add_argument('model', nargs='?', default='',
                        help='ONNX model (a contract .json beside it is used when present) '
                             'or TensorRT engine; default: the embedded EfficientNet-Lite0')
    parser.add_argument('--device', default='',
                        help='comma-separated gpu, dla0, dla1, ..., cpu (cpu = ONNX Runtime); '
                             'default: every accelerator this host has')
    add_arguments(parser, SETTINGS, defaults={'cpu_threads': 0})
    parser.add_argument('--warmup', type=float, default=0.2, help='seconds (default 0.2)')
    parser.add_argument('--duration', type=float, default=3.0,
                        help='measure at least this many seconds (default 3)')
    parser.add_argument('--iterations', type=int, default=10,
                        help='measure at least this many queries (default 10)')
    parser.add_argument('--avg-runs', type=int, default=10,
                        help='report averages over this many consecutive queries (default 10)')
    parser.add_argument('--preprocess', choices=PREPROCESS_DEVICES, default=None,
                        help='time the whole data path per query: preprocessing the batch on '
                             'this device (auto: the GPU where the backend allows), inference, '
                             'top-5; default: inference alone, the input preprocessed once')
    parser.add_argument('--image', default='', metavar='PATH',
                        help='the image each query reads (default: the first test photo)')
    parser.add_argument('--concurrent', action='store_true',
                        help='also measure every device at the same time')
    parser.add_argument('--tactic-sources', default=None, metavar='LIST',
                        help='TensorRT tactic sources to allow, comma-separated (e.g. '
                             'CUBLAS_LT,JIT_CONVOLUTIONS); none: the kernels of TensorRT '
                             'itself only; default: every source TensorRT enables')
    parser.add_argument('--verify', nargs='*', metavar='IMAGES',
                        help='compare each device with ONNX Runtime FP32 on the CPU, on these '
                             f'images or folders (default: {PHOTOS_DIR})')
    parser.add_argument('--min-agreement', type=float, default=None, metavar='PERCENT',
                        help='with --verify: exit 1 when a device agrees on fewer top-1')
    parser.add_argument('--json', metavar='FILE', help='write the whole report as JSON')
    parser.add_argument('--csv', metavar='FILE', help='write one row per device and mode')
    parser.add_argument('--plot', metavar='FILE.png',
                        help='latency distribution and throughput per device (matplotlib)')
    return parser


def options_from(args: argparse.Namespace) -> BenchOptions:
    """:return: the benchmark options the arguments ask for."""
    return BenchOptions(
        **argument_values(args, SETTINGS),
        warmup_s=args.warmup, duration_s=args.duration, iterations=args.iterations,
        avg_runs=args.avg_runs, tactic_sources=_tactic_sources(args.tactic_sources),
        preprocess=args.preprocess or '')


def _tactic_sources(text: Optional[str]) -> Optional[Tuple[str, ...]]:
    if text is None:
        return None
    names = tuple(n.strip().upper() for n in text.split(',') if n.strip())
    return () if names == ('NONE',) else names


def _fmt(stats: Dict[str, float]) -> str:
    return '  '.join(f'{key} {stats[key]:.3f}' for key in STATISTICS if key in stats)


def print_device(entry: Dict[str, Any], batch: int) -> None:
    """Print one device's report, trtexec-like."""
    arrow = f'{entry["requested"]} requested -> {entry["effective"]}'
    reason = f' ({entry["fallback_reason"]})' if entry['fallback_reason'] else ''
    print(f'== {entry["device"]}: {arrow}{reason}')
    print(f'   backend {entry["backend"]}; {entry["placement"]}; engine '
          f'{entry["engine_source"] or "loaded"} in {entry["load_s"]:.2f} s')
    if entry['fallen_back']:
        print('   the DLA could not run: ' + ', '.join(entry['fallen_back']))
    if entry.get('preprocessed_per_query'):
        print(f'   each query: preprocessing on {entry["preprocessing"]}, inference, top-5')
    for mode in ('solo', 'concurrent'):
        run = entry.get(mode)
        if not run:
            continue
        title = 'alone' if mode == 'solo' else 'all devices at once'
        print(f'   {title}: {run["queries"]} queries in {run["seconds"]:.2f} s = '
              f'{run["qps"]:.1f} queries/s = {run["images_per_s"]:.1f} images/s '
              f'(batch {batch}); CPU {run["cpu_ms_per_query"]:.3f} ms per query')
        print(f'     latency ms: {_fmt(run["latency_ms"])}')
        for stage in STAGES:
            if stage in run['stages_ms']:
                print(f'     {stage + " ms:":<20}{_fmt(run["stages_ms"][stage])}')
        if run['events_ms']:
            share = 100 * run['events_share_of_latency']
            print('     CUDA events h2d + compute + d2h: median '
                  f'{run["events_ms"]["median"]:.3f} ms = {share:.1f} % of the latency median '
                  '(the rest is host work around the queue)')
        averaged = run['avg_runs_ms']
        if averaged:
            print(f'     averages of consecutive queries, ms: min {min(averaged):.3f}  '
                  f'max {max(averaged):.3f} ({len(averaged)} averages)')
    check = entry.get('verify')
    if check:
        diff = check['max_abs_score_diff']
        print(f'   vs ONNX Runtime FP32 on {check["images"]} image(s): top-1 agreement '
              f'{check["top1_agreement"]:.1f} %, top-5 overlap {check["top5_overlap"]:.2f}, '
              'max |score difference| ' + ('-' if diff is None else f'{diff:.4f}'))
        failed = [e for e in check['per_image'] if e['error'] is not None]
        if failed:
            print(f'   {len(failed)} of {check["images"]} image(s) not answered: '
                  + '; '.join(check['failed']))


def print_table(report: Dict[str, Any]) -> None:
    """Print one line per device, and the concurrent aggregate."""
    verified = any(e.get('verify') for e in report['devices'])
    header = (f'{"device":<7} {"requested":<11} {"effective":<28} {"queries/s":>9} '
              f'{"images/s":>9} {"median ms":>9} {"p99 ms":>8}')
    print(header + (f' {"top-1 %":>7}' if verified else ''))
    for entry in report['devices']:
        run = entry['solo']
        line = (f'{entry["device"]:<7} {entry["requested"]:<11} {entry["effective"][:28]:<28} '
                f'{run["qps"]:>9.1f} {run["images_per_s"]:>9.1f} '
                f'{run["latency_ms"]["median"]:>9.3f} {run["latency_ms"]["p99"]:>8.3f}')
        if verified:
            line += f' {entry["verify"]["top1_agreement"]:>7.1f}'
        print(line)
    together = report.get('concurrent')
    if together:
        print(f'all at once ({together["seconds"]:.2f} s): {together["aggregate_qps"]:.1f} '
              f'queries/s ({together["aggregate_images_per_s"]:.1f} images/s) against '
              f'{together["sum_solo_qps"]:.1f} summed alone: ratio {together["ratio"]:.2f}')


def csv_rows(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    """:return: one flat row per device and mode (``solo``, ``concurrent``)."""
    rows = []
    for entry in report['devices']:
        for mode in ('solo', 'concurrent'):
            run = entry.get(mode)
            if not run:
                continue
            row: Dict[str, Any] = {
                'device': entry['device'], 'mode': mode, 'requested': entry['requested'],
                'effective': entry['effective'], 'backend': entry['backend'],
                'precision': report['options']['precision'],
                'batch': report['options']['batch_size'], 'queries': run['queries'],
                'seconds': run['seconds'], 'qps': run['qps'], 'images_per_s': run['images_per_s'],
                'cpu_ms_per_query': run['cpu_ms_per_query']}
            row.update({f'latency_{k}_ms': run['latency_ms'][k] for k in STATISTICS})
            row.update({f'{stage}_median_ms': run['stages_ms'].get(stage, {}).get('median', '')
                        for stage in STAGES})
            row['events_median_ms'] = run['events_ms'].get('median', '')
            check = entry.get('verify') or {}
            row['top1_agreement'] = check.get('top1_agreement', '')
            rows.append(row)
    return rows


def write_outputs(report: Dict[str, Any], args: argparse.Namespace) -> None:
    """Write the JSON, CSV and plot files asked for."""
    try:
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as f:
                json.dump(report, f, indent=1)
        if args.csv:
            rows = csv_rows(report)
            with open(args.csv, 'w', encoding='utf-8', newline='') as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    except OSError as e:
        raise DlaInferError(f'cannot write {e.filename}: {e.strerror}') from e
    if args.plot:
        from dla_infer_ros.bench_plot import plot_report
        plot_report(report, args.plot)


def run(argv: Optional[List[str]] = None) -> int:
    """
    Run the command.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``).
    :return: 0, 1 when the agreement is below ``--min-agreement``, 2 on an error.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.min_agreement is not None and args.verify is None:
            raise DlaInferError('--min-agreement needs --verify')
        if args.plot:
            from dla_infer_ros._optional import require
            require('matplotlib', 'dla_bench --plot')  # say so before measuring for minutes
        options = options_from(args)
        devices = ([Device.parse(d) for d in args.device.split(',') if d.strip()]
                   if args.device else default_devices(args.backend))
        verify = (args.verify or [PHOTOS_DIR]) if args.verify is not None else []
        report = run_benchmark(args.model, devices, options, concurrent=args.concurrent,
                               verify_images=verify, image_path=args.image,
                               progress=lambda text: print(f'dla_bench: {text}',
                                                           file=sys.stderr, flush=True))
        print(f'{os.path.basename(report["model"])}: {options.precision}, batch '
              f'{options.batch_size}; warm-up {options.warmup_s} s, then at least '
              f'{options.duration_s} s and {options.iterations} queries per device')
        if report['contract_note']:
            print(f'note: {report["contract_note"]}')
        for entry in report['devices']:
            print_device(entry, options.batch_size)
        print_table(report)
        write_outputs(report, args)
    except DlaInferError as e:
        print(f'dla_bench: error: {e}', file=sys.stderr)
        return 2
    if args.min_agreement is not None:
        low = [e['device'] for e in report['devices']
               if e['verify']['top1_agreement'] < args.min_agreement]
        if low:
            print(f'dla_bench: top-1 agreement below {args.min_agreement} % on '
                  + ', '.join(low), file=sys.stderr)
            return 1
    return 0


def main() -> None:
    """Console entry point."""
    sys.exit(run_interruptibly('dla_bench', run))


if __name__ == '__main__':
    main()
