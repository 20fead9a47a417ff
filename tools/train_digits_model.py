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
Train the small digits classifier used by accuracy tests and write it as ONNX.

Data: scikit-learn's 8x8 handwritten digits (1797 labelled images, values
0..16). The first 1300 images train, the remaining 497 are held out. Images
are handled as a camera would publish them: mono8, pixel = round(value * 255 / 16).

Model: Flatten -> Gemm (64 x 512) -> Relu -> Gemm (512 x 10) -> ``logits``,
trained with numpy alone (Adam, cosine learning rate, weight decay, small random
rotations, scalings and shifts of the training images), seeded and on one BLAS
thread, so that a run with the same numpy build gives the same weights. The graph is built with
``onnx.helper``. Writes ``test/data/digits_mlp.onnx``, ``digits_mlp.json`` (the
model contract, with the split under ``test_split``) and ``digits_labels.txt``,
then prints the held-out accuracy measured through ONNX Runtime on uint8 images
and exits with an error below 97 %.

Needs numpy, scikit-learn (with its threadpoolctl), onnx and onnxruntime; run from
anywhere (about 15 s)::

    python3 tools/train_digits_model.py
"""

import argparse
import json
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import onnxruntime
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_STOP = 1300
SIDE = 8
NUM_CLASSES = 10
HIDDEN = 512
EPOCHS = 300
BATCH = 64
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-4
MAX_ROTATION_DEG = 12.0
MAX_LOG_SCALE = 0.1
MAX_SHIFT_PX = 1.0
SEED = 0
REQUIRED_ACCURACY = 0.97
# The contract: mono8 pixels times SCALE give 0..1, used as is (mean 0, std 1).
SCALE = 1.0 / 255.0
MEAN = [0.0]
STD = [1.0]

Params = List[np.ndarray]


def camera_images() -> Tuple[np.ndarray, np.ndarray]:
    """:return: the digits as mono8 images [N, 8, 8] (round(value * 255 / 16)) and labels."""
    digits = load_digits()
    images = np.round(digits.images * 255.0 / 16.0).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def to_input(images: np.ndarray) -> np.ndarray:
    """:return: float32 model input [N, 64] from mono8 images, as the contract says."""
    scaled = images.reshape(len(images), SIDE * SIDE).astype(np.float32) * np.float32(SCALE)
    return (scaled - np.float32(MEAN[0])) / np.float32(STD[0])


def random_affine(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """
    Rotate, scale and shift each image by a small random amount (bilinear, zeros outside).

    :param images: float32 [N, 64] model inputs.
    :return: float32 [N, 64] augmented inputs.
    """
    count = len(images)
    angle = np.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG, count))
    inverse_scale = np.exp(-rng.uniform(-MAX_LOG_SCALE, MAX_LOG_SCALE, count))
    shift = rng.uniform(-MAX_SHIFT_PX, MAX_SHIFT_PX, (count, 2))
    cos, sin = np.cos(angle) * inverse_scale, np.sin(angle) * inverse_scale
    inverse = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    centre = (SIDE - 1) / 2.0
    rows, cols = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing='ij')
    grid = np.stack([rows.ravel(), cols.ravel()], -1) - centre
    source = np.einsum('nij,pj->npi', inverse, grid) + shift[:, None, :] + centre
    top, left = np.floor(source[..., 0]).astype(int), np.floor(source[..., 1]).astype(int)
    down, right = source[..., 0] - top, source[..., 1] - left
    augmented = np.zeros_like(images)
    sample = np.arange(count)[:, None]
    for d_row, d_col, weight in ((0, 0, (1 - down) * (1 - right)), (0, 1, (1 - down) * right),
                                 (1, 0, down * (1 - right)), (1, 1, down * right)):
        row, col = top + d_row, left + d_col
        inside = (row >= 0) & (row < SIDE) & (col >= 0) & (col < SIDE)
        pixel = images[sample, np.clip(row, 0, SIDE - 1) * SIDE + np.clip(col, 0, SIDE - 1)]
        augmented += np.where(inside, pixel, 0.0).astype(np.float32) * weight.astype(np.float32)
    return augmented


def initial_params(rng: np.random.Generator) -> Params:
    """:return: He-initialised [W1, b1, W2, b2]."""
    inputs = SIDE * SIDE
    return [
        (rng.standard_normal((inputs, HIDDEN)) * np.sqrt(2.0 / inputs)).astype(np.float32),
        np.zeros(HIDDEN, np.float32),
        (rng.standard_normal((HIDDEN, NUM_CLASSES)) * np.sqrt(1.0 / HIDDEN)).astype(np.float32),
        np.zeros(NUM_CLASSES, np.float32),
    ]


def gradients(params: Params, inputs: np.ndarray, labels: np.ndarray) -> Params:
    """:return: gradients of the mean softmax cross-entropy for [W1, b1, W2, b2]."""
    w1, b1, w2, b2 = params
    hidden = inputs @ w1 + b1
    active = np.maximum(hidden, 0.0)
    logits = active @ w2 + b2
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    probabilities[np.arange(len(labels)), labels] -= 1.0
    d_logits = probabilities / len(labels)
    d_active = d_logits @ w2.T
    d_active[hidden <= 0] = 0.0
    return [inputs.T @ d_active, d_active.sum(0), active.T @ d_logits, d_logits.sum(0)]


def train(inputs: np.ndarray, labels: np.ndarray) -> Params:
    """Train with Adam, a cosine learning-rate schedule and decoupled weight decay."""
    rng = np.random.default_rng(SEED)
    params = initial_params(rng)
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    step = 0
    for epoch in range(EPOCHS):
        augmented = random_affine(inputs, rng)
        learning_rate = LEARNING_RATE * 0.5 * (1.0 + np.cos(np.pi * epoch / EPOCHS))
        order = rng.permutation(len(labels))
        for start in range(0, len(labels), BATCH):
            chosen = order[start:start + BATCH]
            step += 1
            grads = gradients(params, augmented[chosen], labels[chosen])
            for param, grad, m, v in zip(params, grads, first, second):
                m *= 0.9
                m += 0.1 * grad
                v *= 0.999
                v += 0.001 * grad * grad
                update = (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
                decay = WEIGHT_DECAY * param if param.ndim == 2 else 0.0
                param -= (learning_rate * (update + decay)).astype(np.float32)
    return params


def build_onnx(params: Params) -> onnx.ModelProto:
    """:return: the network as ONNX: input [1, 1, 8, 8] -> logits [1, 10]."""
    w1, b1, w2, b2 = params
    nodes = [
        helper.make_node('Flatten', ['input'], ['flat'], name='flatten', axis=1),
        helper.make_node('Gemm', ['flat', 'fc1.weight', 'fc1.bias'], ['fc1'], name='fc1'),
        helper.make_node('Relu', ['fc1'], ['fc1_relu'], name='relu1'),
        helper.make_node('Gemm', ['fc1_relu', 'fc2.weight', 'fc2.bias'], ['logits'], name='fc2'),
    ]
    initializers = [numpy_helper.from_array(array.astype(np.float32), name) for array, name in
                    ((w1, 'fc1.weight'), (b1, 'fc1.bias'), (w2, 'fc2.weight'), (b2, 'fc2.bias'))]
    graph = helper.make_graph(
        nodes, 'digits_mlp',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 1, SIDE, SIDE])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, NUM_CLASSES])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)],
                              producer_name='dla_infer_ros tools/train_digits_model.py')
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def onnx_accuracy(model_path: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """:return: top-1 accuracy of the ONNX model on mono8 images, one image per run."""
    session = onnxruntime.InferenceSession(str(model_path), providers=['CPUExecutionProvider'])
    inputs = to_input(images).reshape(len(images), 1, 1, SIDE, SIDE)
    predicted = [int(np.argmax(session.run(['logits'], {'input': one})[0])) for one in inputs]
    return float(np.mean(np.asarray(predicted) == labels))


def build_contract(total: int) -> Dict[str, Any]:
    """:return: the model contract, with the train/held-out split of the digits data."""
    return {
        'format': 'dla_infer_ros/model-contract-1',
        'name': 'digits_mlp',
        'model': 'digits_mlp.onnx',
        'labels': 'digits_labels.txt',
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 1, 'height': SIDE, 'width': SIDE,
            'dtype': 'float32', 'channel_order': 'GRAY', 'resize': 'stretch',
            'crop_fraction': 1.0, 'interpolation': 'linear', 'scale': SCALE,
            'mean': MEAN, 'std': STD,
        },
        'output': {'name': 'logits', 'kind': 'logits'},
        'source': ('MLP 64-512-10 trained with numpy by tools/train_digits_model.py on '
                   'sklearn.datasets.load_digits (UCI Optical Recognition of Handwritten '
                   'Digits, CC BY 4.0) published as mono8, pixel = round(value * 255 / 16)'),
        'license': 'Apache-2.0',
        'test_split': {
            'dataset': 'sklearn.datasets.load_digits',
            'camera_conversion': 'mono8 pixel = round(value * 255 / 16)',
            'train': {'start': 0, 'stop': TRAIN_STOP},
            'test': {'start': TRAIN_STOP, 'stop': total},
        },
    }


def main(argv: Sequence[str]) -> None:
    """Train, write the model, its contract and labels, and check the held-out accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output-dir', type=Path, default=REPO_ROOT / 'test' / 'data')
    args = parser.parse_args(argv)
    images, labels = camera_images()
    started = time.perf_counter()
    with threadpool_limits(limits=1):  # one BLAS thread: the same sums, the same weights
        params = train(to_input(images[:TRAIN_STOP]), labels[:TRAIN_STOP])
    print(f'trained on images 0..{TRAIN_STOP - 1} in {time.perf_counter() - started:.1f} s')
    args.output_dir.mkdir(parents=True, exist_ok=True)
    model_path = args.output_dir / 'digits_mlp.onnx'
    onnx.save(build_onnx(params), str(model_path))
    contract_path = args.output_dir / 'digits_mlp.json'
    contract_path.write_text(json.dumps(build_contract(len(labels)), indent=2) + '\n')
    labels_path = args.output_dir / 'digits_labels.txt'
    labels_path.write_text(''.join(f'{digit}\n' for digit in range(NUM_CLASSES)))
    print(f'wrote {model_path} ({model_path.stat().st_size} bytes), {contract_path.name}, '
          f'{labels_path.name}')
    train_accuracy = onnx_accuracy(model_path, images[:TRAIN_STOP], labels[:TRAIN_STOP])
    accuracy = onnx_accuracy(model_path, images[TRAIN_STOP:], labels[TRAIN_STOP:])
    print(f'ONNX Runtime top-1 on mono8 images: train {train_accuracy:.4f}, held out '
          f'{accuracy:.4f} ({len(labels) - TRAIN_STOP} images {TRAIN_STOP}..{len(labels) - 1})')
    if accuracy < REQUIRED_ACCURACY:
        sys.exit(f'held-out accuracy {accuracy:.4f} is below {REQUIRED_ACCURACY}')


if __name__ == '__main__':
    main(sys.argv[1:])
