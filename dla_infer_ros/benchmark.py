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
Measure a model on each accelerator, alone and all at once, and check its answers (no ROS).

The measured path is the package's own: a :class:`~dla_infer_ros.classifier.Classifier`
per device, its input preprocessed once from a photo into the backend's input
memory, then ``backend.infer()`` in a loop, as trtexec times its queries. With
``preprocess`` set, each query is the node's whole data path instead,
``Classifier.classify()`` of a batch of the image: preprocessing on that device
(``cpu``, ``gpu`` or ``auto``), inference, and the top-5 of each image.
Each query's wall-clock latency is kept, with the backend's CUDA-event stages
(``h2d``, ``compute``, ``d2h``) and the enqueue time where it measures them,
and the CPU time of the measuring thread. A run warms up for ``warmup_s``,
then measures at least ``iterations`` queries and at least ``duration_s``
seconds. ``concurrent`` measures every device again in its own thread over one
common window (the first device to finish its quota ends the window), so the
aggregate can be compared with the sum of the solo throughputs.

:func:`verify` compares each device's scores on a set of images with the FP32
ONNX Runtime CPU reference of the same model.
"""

import dataclasses
import os
import resource
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.backends import backend_entry, BackendOptions, CPU_BACKEND
from dla_infer_ros.backends.base import EVENT_STAGES
from dla_infer_ros.classifier import Classifier, PREPROCESS_DEVICES, STAGES
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.image_conversion import read_image_file
from dla_infer_ros.model_contract import (contract_path_for, InputContract, ModelContract,
                                          resolve_model)

#: latency statistics reported for every series
STATISTICS = ('min', 'mean', 'median', 'p90', 'p95', 'p99', 'max')
#: default images of --verify and of the measured input: the package's test photos
PHOTOS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'test', 'data')


@dataclasses.dataclass(frozen=True)
class Device:
    """One accelerator to measure: ``gpu``, ``dla<N>`` or ``cpu``."""

    name: str

    @classmethod
    def parse(cls, text: str) -> 'Device':
        """
        Read a device name.

        :raises DlaInferError: for anything but ``gpu``, ``cpu`` and ``dla0``, ``dla1``, ...
        """
        name = text.strip().lower()
        if name in ('gpu', 'cpu') or (name.startswith('dla') and name[3:].isdigit()):
            return cls(name)
        raise DlaInferError(f'device {text!r} requested; use gpu, dla0, dla1, ... or cpu')

    @property
    def dla_core(self) -> int:
        """:return: the DLA core, -1 for the GPU and the CPU."""
        return int(self.name[3:]) if self.name.startswith('dla') else -1

    @property
    def label(self) -> str:
        """:return: ``GPU``, ``DLA core N`` or ``CPU``, as reports say it."""
        if self.name == 'cpu':
            return 'CPU'
        return f'DLA core {self.dla_core}' if self.dla_core >= 0 else 'GPU'


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    """What to measure and how long (trtexec's defaults)."""

    backend: str = 'auto'
    precision: str = 'fp32'
    batch_size: int = 1
    calibration_dir: str = ''
    allow_gpu_fallback: bool = True
    warmup_s: float = 0.2
    duration_s: float = 3.0
    iterations: int = 10
    avg_runs: int = 10
    spin_wait: bool = False
    cpu_threads: int = 0
    engine_cache_dir: str = ''
    tactic_sources: Optional[Tuple[str, ...]] = None
    #: '' measures inference alone (input preprocessed once); else where each query
    #: preprocesses its batch (one of PREPROCESS_DEVICES)
    preprocess: str = ''

    def __post_init__(self) -> None:
        """Refuse values no run can use, naming them."""
        if self.preprocess and self.preprocess not in PREPROCESS_DEVICES:
            raise DlaInferError(f'preprocess={self.preprocess!r} requested; use one of '
                                + ', '.join(PREPROCESS_DEVICES))
        for name in ('warmup_s', 'duration_s'):
            if getattr(self, name) < 0:
                raise DlaInferError(f'{name}={getattr(self, name)} requested; must be >= 0')
        if self.iterations < 1 or self.avg_runs < 1:
            raise DlaInferError(f'iterations={self.iterations}, avg_runs={self.avg_runs} '
                                'requested; both must be >= 1')

    def backend_for(self, device: Device) -> Tuple[str, BackendOptions]:
        """:return: the backend name and options that run ``device``."""
        options = BackendOptions(
            dla_core=device.dla_core, allow_gpu_fallback=self.allow_gpu_fallback,
            precision=self.precision, batch_size=self.batch_size, cpu_threads=self.cpu_threads,
            calibration_dir=self.calibration_dir, engine_cache_dir=self.engine_cache_dir,
            spin_wait=self.spin_wait, tactic_sources=self.tactic_sources)
        return (CPU_BACKEND if device.name == 'cpu' else self.backend), options


@dataclasses.dataclass
class Series:
    """The queries of one measurement on one device."""

    latency_ms: List[float] = dataclasses.field(default_factory=list)
    stages_ms: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def add(self, latency_ms: float, timings: Dict[str, float]) -> None:
        """Record one query."""
        self.latency_ms.append(latency_ms)
        for key, value in timings.items():
            self.stages_ms.setdefault(key[:-3] if key.endswith('_ms') else key, []).append(value)

    def report(self, batch_size: int, avg_runs: int) -> Dict[str, Any]:
        """:return: throughput, latency statistics, stages and the avg-runs series."""
        queries = len(self.latency_ms)
        qps = queries / self.seconds if self.seconds > 0 else 0.0
        averaged = [float(np.mean(self.latency_ms[i:i + avg_runs]))
                    for i in range(0, queries - avg_runs + 1, avg_runs)]
        spans = self.event_spans_ms()
        return {
            'queries': queries, 'seconds': self.seconds, 'qps': qps,
            'images_per_s': qps * batch_size,
            'latency_ms': statistics(self.latency_ms),
            'stages_ms': {k: statistics(v) for k, v in self.stages_ms.items()
                          if k in STAGES},
            'events_ms': statistics(spans),
            'events_share_of_latency': (float(np.median(spans) / np.median(self.latency_ms))
                                        if spans else None),
            'avg_runs_ms': averaged,
            'cpu_ms_per_query': self.cpu_seconds * 1e3 / queries if queries else 0.0,
            'samples_ms': list(self.latency_ms),
        }

    def event_spans_ms(self) -> List[float]:
        """:return: per query, the sum of the CUDA-event stages (empty unless all were timed)."""
        stages = [self.stages_ms.get(stage, []) for stage in EVENT_STAGES]
        if any(len(values) != len(self.latency_ms) for values in stages):
            return []
        return [float(sum(values)) for values in zip(*stages)]


def statistics(samples: Sequence[float]) -> Dict[str, float]:
    """:return: min, mean, median, p90, p95, p99 and max of ``samples`` (empty if none)."""
    if not samples:
        return {}
    values = np.asarray(samples, dtype=np.float64)
    p50, p90, p95, p99 = np.percentile(values, (50, 90, 95, 99))
    return {'min': float(values.min()), 'mean': float(values.mean()), 'median': float(p50),
            'p90': float(p90), 'p95': float(p95), 'p99': float(p99),
            'max': float(values.max())}


def bench_contract(model_path: str) -> Tuple[ModelContract, str]:
    """
    Find the model's contract, or make a generic one from the ONNX input (e.g. ``dla_zoo``).

    :param model_path: the model; empty for the embedded default.
    :return: the contract and a note ('' when the model has its own contract).
    :raises DlaInferError: when the model is missing or its input is not an image batch.
    """
    if not model_path or os.path.isfile(contract_path_for(model_path)):
        return resolve_model(model_path), ''
    if not os.path.isfile(model_path):
        raise DlaInferError(f'model {model_path!r}: no such file')
    onnx = require('onnx', 'reading the input of a model without a contract')
    try:
        graph = onnx.load(model_path, load_external_data=False).graph
    except Exception as e:  # onnx raises DecodeError and others for non-ONNX files
        raise DlaInferError(f'{model_path}: not an ONNX model ({e})') from e
    initializers = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim] if inputs else []
    if len(inputs) != 1 or len(dims) != 4 or dims[1] not in (1, 3) or min(dims[1:]) <= 0:
        raise DlaInferError(f'{model_path}: expected one NCHW image input with 1 or 3 '
                            f'channels, found {[i.name for i in inputs]} {dims}')
    contract = InputContract(name=inputs[0].name, channels=dims[1], height=dims[2],
                             width=dims[3], channel_order='GRAY' if dims[1] == 1 else 'BGR',
                             resize='stretch', crop_fraction=1.0, scale=1.0 / 255.0,
                             mean=(0.0,) * dims[1], std=(1.0,) * dims[1])
    outputs = [o.name for o in graph.output]
    return (ModelContract(os.path.splitext(os.path.basename(model_path))[0],
                          os.path.abspath(model_path), '', contract, outputs[0], 'logits'),
            'no contract .json beside the model: generic input (stretch, x / 255)')


def load_images(paths: Sequence[str]) -> List[Tuple[str, np.ndarray]]:
    """
    Read images, or every image of the folders given.

    :return: (path, BGR uint8 image) pairs.
    :raises DlaInferError: for a missing path, an unreadable image or no image at all.
    """
    files: List[str] = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, n) for n in os.listdir(path)
                            if n.lower().endswith(('.jpg', '.jpeg', '.png', '.bmp', '.ppm')))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise DlaInferError(f'{path}: no such file or folder')
    if not files:
        raise DlaInferError(f'no image in {", ".join(paths)}')
    images = []
    for path in files:
        image = read_image_file(path)
        if image is None:
            raise DlaInferError(f'{path}: not an image OpenCV can read')
        images.append((path, image))
    return images


class DeviceRun:
    """One device's classifier, loaded once, measured and verified."""

    def __init__(self, device: Device, contract: ModelContract, options: BenchOptions,
                 backend_kwargs: Optional[Dict[str, Any]] = None) -> None:
        """
        Load the model on the device and preprocess the input once.

        :raises DlaInferError: when the model cannot run there as asked.
        """
        self.device = device
        self.options = options
        backend, backend_options = options.backend_for(device)
        self.classifier = Classifier(
            contract, backend, backend_options, top_k=1000000,
            backend_kwargs=backend_kwargs if device.name != 'cpu' else None,
            preprocess_device=options.preprocess or 'cpu')
        started = time.perf_counter()
        self.classifier.activate()
        self.load_s = time.perf_counter() - started
        self._feed: Dict[str, np.ndarray] = {}
        self._images: List[np.ndarray] = []

    def prepare(self, image: np.ndarray) -> None:
        """Preprocess ``image`` into every batch slot of the input, once for all queries."""
        for slot in range(self.classifier.batch_size):
            self.classifier.preprocessor.process(image, 'BGR', slot)
        self._feed = {self.classifier.contract.input_contract.name:
                      self.classifier.preprocessor.tensor}
        self._images = [image] * self.classifier.batch_size

    def _infer(self) -> Dict[str, float]:
        """Run one inference query; :return: its stage times."""
        backend = self.classifier.backend
        backend.infer(self._feed)
        return backend.last_timings()

    def _classify(self) -> Dict[str, float]:
        """Run one query through the whole data path; :return: its stage times."""
        self.classifier.classify(self._images, 'BGR')
        return self.classifier.last_timings

    def measure(self, start: Optional[threading.Barrier] = None,
                stop: Optional[threading.Event] = None) -> Series:
        """
        Run queries: warm-up, then at least ``iterations`` and ``duration_s``.

        :param start: passed by every device after its warm-up (concurrent runs).
        :param stop: set by the first device that has measured enough; ends the others.
        :return: the measured queries.
        """
        options, clock = self.options, time.perf_counter
        query = self._classify if options.preprocess else self._infer
        self.classifier.set_limits(5, 0.0)  # as a node publishes; verify() wants every score
        warm_until = clock() + options.warmup_s
        query()
        while clock() < warm_until:
            query()
        if start is not None:
            start.wait()
        series = Series()
        cpu_before = _thread_cpu_seconds()
        began = clock()
        while True:
            t0 = clock()
            timings = query()
            t1 = clock()
            series.add((t1 - t0) * 1e3, timings)
            done = (len(series.latency_ms) >= options.iterations
                    and t1 - began >= options.duration_s)
            if stop is not None and (done or stop.is_set()):
                stop.set()
                break
            if stop is None and done:
                break
        series.seconds = clock() - began
        series.cpu_seconds = _thread_cpu_seconds() - cpu_before
        self.classifier.set_limits(1000000, 0.0)
        return series

    def scores(self, image: np.ndarray) -> np.ndarray:
        """:return: the scores of every class for ``image`` (softmax applied to logits)."""
        [results] = self.classifier.classify([image], 'BGR')
        scores = np.zeros(len(results), dtype=np.float64)
        for index, _, score in results:
            scores[index] = score
        return scores

    def close(self) -> None:
        """Free the device."""
        self.classifier.deactivate()


def _thread_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def measure_concurrently(runs: Sequence[DeviceRun]) -> Tuple[List[Series], float]:
    """
    Measure every device at the same time, one thread each, over one window.

    :return: each device's series (in ``runs`` order) and the window in seconds.
    :raises DlaInferError: when a device fails during the run.
    """
    start, stop = threading.Barrier(len(runs) + 1), threading.Event()
    results: List[Optional[Series]] = [None] * len(runs)
    errors: List[str] = []

    def work(index: int) -> None:
        try:
            results[index] = runs[index].measure(start, stop)
        except threading.BrokenBarrierError:
            pass  # another device failed during its warm-up
        except Exception as e:  # noqa: B902 (a failed device must not leave the others waiting)
            errors.append(f'{runs[index].device.name}: {e}')
            stop.set()
            start.abort()
    threads = [threading.Thread(target=work, args=(i,), name=f'bench-{run.device.name}')
               for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    try:
        start.wait()
        began = time.perf_counter()
        stop.wait()
        window = time.perf_counter() - began
    except threading.BrokenBarrierError:
        window = 0.0
    for thread in threads:
        thread.join()
    if errors or any(r is None for r in results):
        raise DlaInferError('concurrent run failed: ' + '; '.join(errors or ['a device stopped']))
    return [r for r in results if r is not None], window


def verify(run: DeviceRun, reference: DeviceRun,
           images: Sequence[Tuple[str, np.ndarray]]) -> Dict[str, Any]:
    """
    Compare a device's answers with the reference's on ``images``.

    An image the device cannot answer (e.g. FP16 overflow: NaN or infinite
    scores) counts as a disagreement, with the reason, rather than ending the run.

    :return: top-1 agreement in %, mean top-5 overlap (0..1), max |score difference|
        (None if no image was answered), the failures and one entry per image.
    """
    per_image: List[Dict[str, Any]] = []
    for path, image in images:
        want = reference.scores(image)
        top5_want = np.argsort(-want)[:5]
        entry: Dict[str, Any] = {'image': os.path.basename(path), 'top1': None,
                                 'reference_top1': int(top5_want[0]), 'top5_overlap': 0.0,
                                 'max_abs_score_diff': None, 'error': None}
        try:
            got = run.scores(image)
        except DlaInferError as e:
            entry['error'] = str(e)
        else:
            top5_got = np.argsort(-got)[:5]
            entry.update(top1=int(top5_got[0]),
                         max_abs_score_diff=float(np.max(np.abs(got - want))),
                         top5_overlap=len(set(top5_got.tolist()) & set(top5_want.tolist())) / 5.0)
        per_image.append(entry)
    agree = sum(entry['top1'] == entry['reference_top1'] for entry in per_image)
    diffs = [e['max_abs_score_diff'] for e in per_image if e['error'] is None]
    return {'images': len(per_image), 'top1_agreement': 100.0 * agree / len(per_image),
            'top5_overlap': float(np.mean([e['top5_overlap'] for e in per_image])),
            'max_abs_score_diff': max(diffs) if diffs else None,
            'failed': sorted({e['error'] for e in per_image if e['error'] is not None}),
            'per_image': per_image}


def default_devices(backend: str) -> List[Device]:
    """
    List every accelerator this host has for ``backend``.

    :return: the CPU for the CPU backend; else the GPU and each DLA core the backend uses.
    """
    entry = backend_entry(backend)
    if entry.cpu:
        return [Device('cpu')]
    return [Device('gpu')] + [Device(f'dla{i}') for i in range(entry.dla_core_count())]


Progress = Callable[[str], None]


def run_benchmark(model_path: str, devices: Sequence[Device], options: BenchOptions,
                  concurrent: bool = False, verify_images: Sequence[str] = (),
                  progress: Progress = lambda text: None,
                  backend_kwargs: Optional[Dict[str, Any]] = None,
                  image_path: str = '') -> Dict[str, Any]:
    """
    Load the model on every device, measure each alone, then (optionally) all at once.

    :param model_path: ONNX model or engine; empty for the embedded default.
    :param devices: the devices, in report order.
    :param options: precision, batch, durations.
    :param concurrent: also measure every device at the same time.
    :param verify_images: images or folders to check the answers on (none: no check).
    :param progress: receives one line per step.
    :param backend_kwargs: passed to every backend class but the CPU's (e.g. a TensorRT
        module to use).
    :param image_path: the image every query reads (default: the first test photo).
    :return: the report (see the README, "Benchmark an accelerator").
    :raises DlaInferError: for a model or device that cannot run as asked.
    """
    if not devices:
        raise DlaInferError('no device to measure')
    contract, note = bench_contract(model_path)
    photo = load_images([image_path or PHOTOS_DIR])[0][1]
    images = load_images(verify_images) if verify_images else []  # before minutes of builds
    runs: List[DeviceRun] = []
    reference: Optional[DeviceRun] = None
    try:
        for device in devices:
            progress(f'{device.name}: loading {contract.name} ({options.precision}, '
                     f'batch {options.batch_size})')
            run = DeviceRun(device, contract, options, backend_kwargs)
            runs.append(run)
            run.prepare(photo)
        entries = [dict(_describe(run), preprocessed_per_query=bool(options.preprocess))
                   for run in runs]
        for run, entry in zip(runs, entries):
            progress(f'{run.device.name}: measuring alone')
            entry['solo'] = run.measure().report(options.batch_size, options.avg_runs)
        report: Dict[str, Any] = {
            'model': contract.model_path, 'contract_note': note,
            'image': f'{photo.shape[1]}x{photo.shape[0]}', 'options':
            dataclasses.asdict(options), 'devices': entries, 'concurrent': None}
        if concurrent and len(runs) > 1:
            progress('all devices: measuring at the same time')
            series, window = measure_concurrently(runs)
            for entry, one in zip(entries, series):
                entry['concurrent'] = one.report(options.batch_size, options.avg_runs)
            together = sum(e['concurrent']['qps'] for e in entries)
            alone = sum(e['solo']['qps'] for e in entries)
            report['concurrent'] = {'seconds': window, 'aggregate_qps': together,
                                    'aggregate_images_per_s': together * options.batch_size,
                                    'sum_solo_qps': alone,
                                    'ratio': together / alone if alone else 0.0}
        if images:
            progress(f'verifying on {len(images)} image(s) against ONNX Runtime FP32 (CPU)')
            reference = DeviceRun(Device('cpu'), contract, BenchOptions(
                precision='fp32', batch_size=options.batch_size, cpu_threads=options.cpu_threads))
            for run, entry in zip(runs, entries):
                entry['verify'] = verify(run, reference, images)
        return report
    finally:
        for run in runs + ([reference] if reference is not None else []):
            run.close()


def _describe(run: DeviceRun) -> Dict[str, Any]:
    described = run.classifier.describe()
    details = dict(described.details)
    reason = described.fallback_reason
    if run.device.name == 'cpu' and described.effective == 'CPU':
        reason = ''  # the CPU was asked for: no GPU provider is no fallback here
    return {'device': run.device.name, 'requested': run.device.label,
            'effective': described.effective, 'backend': described.backend,
            'fallback_reason': reason,
            'placement': described.placement.summary(),
            'fallen_back': list(described.placement.fallen_back),
            'engine_source': details.get('engine_source', ''),
            'preprocessing': run.classifier.preprocessing,
            'load_s': run.load_s, 'concurrent': None, 'verify': None}
