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

"""``classify_image``: classify image files and print the top-k with scores."""

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np

from dla_infer_ros.classifier import Classifier
from dla_infer_ros.cli import run_interruptibly
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.image_conversion import read_image_file
from dla_infer_ros.model_contract import resolve_model
from dla_infer_ros.schema import add_arguments, argument_values, backend_options


#: The classifier's settings this command offers (:mod:`dla_infer_ros.schema`).
SETTINGS = ('model_path', 'labels_path', 'backend', 'dla_core', 'allow_gpu_fallback',
            'precision', 'cpu_threads')


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='classify_image',
        description='Classify image files with the embedded EfficientNet-Lite0 (ImageNet) or '
                    'another model, on the GPU, a DLA core or the CPU, and print the top-k.')
    parser.add_argument('images', nargs='+', help='image files (anything OpenCV reads)')
    add_arguments(parser, SETTINGS, defaults={'cpu_threads': 0})
    parser.add_argument('--top-k', type=int, default=5, help='results per image (default 5)')
    parser.add_argument('--json', action='store_true', help='print JSON instead of text')
    return parser


def _check_paths(paths: List[str]) -> None:
    """Refuse missing files before the model is loaded (OpenCV would only warn)."""
    for path in paths:
        if not os.path.isfile(path):
            what = 'is a folder; give image files' if os.path.isdir(path) else 'no such file'
            raise DlaInferError(f'{path}: {what}')


def _read_image(path: str) -> np.ndarray:
    image = read_image_file(path)
    if image is None:
        raise DlaInferError(f'{path}: not a readable image file')
    return image


def run(argv: Optional[List[str]] = None) -> int:
    """
    Run the command.

    :param argv: arguments without the program name (default: ``sys.argv[1:]``).
    :return: the exit status: 0 on success, 2 on an error (printed to stderr). An
        image that cannot be decoded is reported and skipped; the others are still
        classified, and the status is 2.
    """
    args = build_parser().parse_args(argv)
    try:
        _check_paths(args.images)
        values = argument_values(args, SETTINGS)
        contract = resolve_model(values['model_path'], values['labels_path'])
        with Classifier(contract, values['backend'], backend_options(values),
                        top_k=args.top_k) as classifier:
            report = classifier.describe()
            entries = [_classify_one(classifier, path) for path in args.images]
    except DlaInferError as e:
        print(f'classify_image: error: {e}', file=sys.stderr)
        return 2
    failed = [entry for entry in entries if 'error' in entry]
    for entry in failed:
        print(f"classify_image: error: {entry['error']}", file=sys.stderr)
    status = 2 if failed else 0
    if args.json:
        print(json.dumps({'model': contract.name, 'backend': report.backend,
                          'device': report.summary(), 'images': entries}, indent=2))
        return status
    print(f'model {contract.name} on {report.backend}: {report.summary()}')
    for entry in entries:
        if 'error' in entry:
            continue
        print(f"{entry['image']}:")
        for rank, result in enumerate(entry['results'], start=1):
            print(f"  {rank}. {result['score']:7.4f}  {result['label']}  "
                  f"(class {result['class_index']})")
    return status


def _classify_one(classifier: Classifier, path: str) -> Dict[str, Any]:
    try:
        image = _read_image(path)
    except DlaInferError as e:
        return {'image': path, 'error': str(e)}
    results = classifier.classify([image], 'BGR')[0]
    return {'image': path, 'results': [
        {'class_index': i, 'label': label, 'score': round(score, 6)}
        for i, label, score in results], 'timings_ms': dict(classifier.last_timings)}


def main(args: Optional[List[str]] = None) -> None:
    """Console-script entry point."""
    sys.exit(run_interruptibly('classify_image', lambda: run(args)))


if __name__ == '__main__':
    main()
