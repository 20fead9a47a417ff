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
The TensorRT backend on real TensorRT and a real GPU.

Skipped where ``tensorrt`` cannot be imported or no GPU is visible (CI); run
on a machine with both, e.g. ``python3 -m pytest test/test_trt_real_gpu.py -s``.
Engines are built from the embedded EfficientNet-Lite0 in FP32, FP16 and
INT8 (calibrated from the test photos) and compared with ONNX Runtime on the
CPU; the small digits model serves the engine cache, calibration cache, plan
file, memory and thread checks, which need many builds or runs.

``DLA_INFER_ROS_TEST_TACTIC_SOURCES`` (comma-separated names, or ``none`` for
TensorRT's own kernels only) restricts the builder's tactic sources, for machines
whose cuBLAS/cuDNN cannot be used; unset, the TensorRT default applies.
``DLA_INFER_ROS_TEST_REPORT`` names a file that receives one JSON line per
measurement.
"""

import dataclasses
import glob
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from gpu_support import binding_params, gpu_status
import numpy as np
import pytest

from dla_infer_ros._optional import is_available
from dla_infer_ros.backends import BackendOptions
from dla_infer_ros.backends.cuda import create_cuda_api, CudaApi
from dla_infer_ros.backends.tensorrt import TensorRtBackend
from dla_infer_ros.classifier import Classifier
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.model_contract import ModelContract, resolve_model
from dla_infer_ros.preprocessing import Preprocessor

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not is_available('tensorrt'), reason='TensorRT is not installed'),
]

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, 'data')
PHOTOS = sorted(glob.glob(os.path.join(DATA, '*.jpg')))
DIGITS = os.path.join(DATA, 'digits_mlp.onnx')
_TACTICS = os.environ.get('DLA_INFER_ROS_TEST_TACTIC_SOURCES')
TACTICS: Optional[Tuple[str, ...]] = None if _TACTICS is None else tuple(
    n.strip() for n in _TACTICS.split(',') if n.strip() and n.strip().lower() != 'none')
LOG = logging.getLogger('test.trt_real_gpu')


def default_contract() -> ModelContract:
    """:return: the embedded EfficientNet-Lite0 and its contract."""
    return resolve_model('')


def report(**values: Any) -> None:
    """Print a measurement and append it to ``DLA_INFER_ROS_TEST_REPORT``."""
    line = json.dumps(values, sort_keys=True)
    print(line)
    path = os.environ.get('DLA_INFER_ROS_TEST_REPORT')
    if path:
        with open(path, 'a', encoding='utf-8') as f:
            f.write(line + '\n')


@pytest.fixture(scope='module', autouse=True)
def gpu() -> None:
    status = gpu_status()
    if status:
        pytest.skip(status)


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory: Any) -> str:
    return str(tmp_path_factory.mktemp('engines'))


@pytest.fixture(scope='module')
def photos() -> List[Tuple[str, np.ndarray]]:
    cv2 = pytest.importorskip('cv2')
    assert PHOTOS, 'test/data holds no photo'
    return [(os.path.basename(p), cv2.imread(p, cv2.IMREAD_COLOR)) for p in PHOTOS]


@pytest.fixture(scope='module')
def reference(photos: List[Tuple[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """:return: ONNX Runtime (CPU, FP32) logits of the embedded model per photo."""
    pytest.importorskip('onnxruntime')
    contract = default_contract()
    with Classifier(contract, 'onnxruntime') as classifier:
        logits = {}
        for name, image in photos:
            classifier.classify([image], 'BGR')
            logits[name] = _logits(classifier).copy()
    return logits


def _logits(classifier: Classifier) -> np.ndarray:
    """:return: the raw output of the classifier's last run (one image)."""
    name = classifier.contract.input_contract.name
    if classifier.gpu_preprocessor is not None:  # the input is still in device memory
        outputs = classifier.backend.infer({}, on_device=(name,))
    else:
        outputs = classifier.backend.infer({name: classifier.preprocessor.tensor})
    return np.asarray(outputs[classifier.contract.output_name][0], dtype=np.float32)


def trt_options(cache_dir: str, **kwargs: Any) -> BackendOptions:
    return BackendOptions(engine_cache_dir=cache_dir, tactic_sources=TACTICS, **kwargs)


def tactic_mask(trt: Any) -> int:
    """:return: TACTICS as the bit mask ``IBuilderConfig.set_tactic_sources`` takes."""
    assert TACTICS is not None
    mask = 0
    for name in TACTICS:
        mask |= 1 << int(getattr(trt.TacticSource, name))
    return mask


@pytest.fixture(scope='module')
def engines(cache_dir: str) -> Iterator[Dict[str, Classifier]]:
    """Classifiers on the embedded model, one per precision, built on first use."""
    made: Dict[str, Classifier] = {}
    yield made
    for classifier in made.values():
        classifier.deactivate()


def efficientnet(engines: Dict[str, Classifier], cache_dir: str, precision: str,
                 calibration_dir: str = '') -> Classifier:
    if precision not in engines:
        options = trt_options(cache_dir, precision=precision, calibration_dir=calibration_dir)
        classifier = Classifier(default_contract(), 'tensorrt', options,
                                backend_kwargs={'log': LOG})
        started = time.perf_counter()
        classifier.activate()
        report(what='activate', model='efficientnet_lite0', precision=precision,
               seconds=round(time.perf_counter() - started, 1),
               engine_source=dict(classifier.describe().details)['engine_source'])
        engines[precision] = classifier
    return engines[precision]


def check_against_reference(classifier: Classifier, photos: List[Tuple[str, np.ndarray]],
                            reference: Dict[str, np.ndarray], precision: str) -> int:
    """:return: photos whose top-1 equals ONNX Runtime's (and report the differences)."""
    agree = 0
    for name, image in photos:
        classifier.classify([image], 'BGR')
        logits = _logits(classifier)
        expected = reference[name]
        delta = float(np.max(np.abs(logits - expected)))
        same = int(np.argmax(logits)) == int(np.argmax(expected))
        agree += same
        report(what='accuracy', precision=precision, photo=name, top1_equal=same,
               max_abs_logit_diff=round(delta, 4), top1=int(np.argmax(logits)))
        if precision == 'fp32':
            assert delta <= 0.05, f'{name}: max |logit difference| {delta:.4f}'
    return agree


def latency(classifier: Classifier, image: np.ndarray, runs: int = 300) -> Dict[str, float]:
    """:return: median wall-clock and event-timed stages of ``runs`` classifications."""
    rows: Dict[str, List[float]] = {}
    for _ in range(runs):
        started = time.perf_counter_ns()
        classifier.classify([image], 'BGR')
        rows.setdefault('classify', []).append((time.perf_counter_ns() - started) / 1e6)
        for stage, value in classifier.last_timings.items():
            rows.setdefault(stage, []).append(value)
    return {k: round(float(np.median(v)), 4) for k, v in rows.items()}


@pytest.mark.parametrize('precision', ['fp32', 'fp16'])
def test_engine_matches_onnxruntime(precision: str, engines: Dict[str, Classifier],
                                    cache_dir: str, photos: List[Tuple[str, np.ndarray]],
                                    reference: Dict[str, np.ndarray]) -> None:
    classifier = efficientnet(engines, cache_dir, precision)
    described = classifier.describe()
    assert (described.requested, described.effective) == ('GPU', 'GPU')
    details = dict(described.details)
    assert details['precision'] == precision
    assert details['sync'] == 'blocking'
    placement = described.placement
    assert placement.layers and set(placement.counts()) == {'GPU'}
    layers = json.loads(classifier.backend.engine_information())['Layers']
    report(what='placement', precision=precision, summary=placement.summary(),
           planned=details['planned_placement'], io=details['io'],
           layer_types=sorted({str(layer.get('LayerType')) for layer in layers}),
           reformats=list(placement.reformats))
    assert check_against_reference(classifier, photos, reference, precision) == len(photos)
    timings = latency(classifier, photos[0][1])
    report(what='latency', precision=precision, **timings)
    assert min(timings['h2d'], timings['compute'], timings['d2h']) > 0.0
    # the events time a part of what the wall clock sees around infer()
    assert timings['h2d'] + timings['compute'] + timings['d2h'] <= timings['inference'] * 1.1


def test_int8_engine_calibrated_from_the_photos(engines: Dict[str, Classifier], cache_dir: str,
                                                photos: List[Tuple[str, np.ndarray]],
                                                reference: Dict[str, np.ndarray],
                                                tmp_path: Any) -> None:
    for path in PHOTOS:
        shutil.copy(path, str(tmp_path))
    classifier = efficientnet(engines, cache_dir, 'int8', calibration_dir=str(tmp_path))
    assert dict(classifier.describe().details)['precision'] == 'int8'
    assert glob.glob(os.path.join(cache_dir, 'calib.*.cache')), 'no calibration cache kept'
    agree = check_against_reference(classifier, photos, reference, 'int8')
    report(what='int8_top1_agreement', agree=agree, photos=len(photos))
    report(what='latency', precision='int8', **latency(classifier, photos[0][1]))


class CountingSource:
    """Calibration batches of random digits-sized data, counting what was read."""

    def __init__(self) -> None:
        self.batches = 0

    def __call__(self, shape: Tuple[int, ...]) -> Iterator[np.ndarray]:
        generator = np.random.default_rng(0)
        for _ in range(4):
            self.batches += 1
            yield generator.random(shape, dtype=np.float32)


def digits_backend(cache_dir: str, **kwargs: Any) -> TensorRtBackend:
    extra = {k: kwargs.pop(k) for k in ('calibration_source',) if k in kwargs}
    return TensorRtBackend(DIGITS, trt_options(cache_dir, **kwargs), log=LOG, **extra)


def digits_input(backend: TensorRtBackend, seed: int = 1) -> np.ndarray:
    spec = backend.inputs[0]
    return np.random.default_rng(seed).random(spec.shape).astype(spec.dtype)


def run_digits(backend: TensorRtBackend, feed: np.ndarray) -> np.ndarray:
    return np.array(backend.infer({backend.inputs[0].name: feed})[backend.outputs[0].name])


def test_calibration_cache_is_reused(tmp_path: Any) -> None:
    folder = tmp_path / 'calibration'
    folder.mkdir()
    shutil.copy(PHOTOS[0], str(folder))  # the images name the calibration; the source reads
    cache = str(tmp_path / 'cache')
    source = CountingSource()
    with digits_backend(cache, precision='int8', calibration_dir=str(folder),
                        calibration_source=source):
        pass
    read_first = source.batches
    assert read_first > 0 and glob.glob(os.path.join(cache, 'calib.*.cache'))
    with digits_backend(cache, precision='int8', calibration_dir=str(folder),
                        calibration_source=source, force_rebuild=True) as backend:
        assert dict(backend.describe().details)['engine_source'] == 'built'
        assert np.isfinite(run_digits(backend, digits_input(backend))).all()
    assert source.batches == read_first, 'the second build calibrated again'


def test_engine_cache_hit_miss_corrupt_and_foreign(tmp_path: Any) -> None:
    cache = str(tmp_path)

    def activate_once() -> Tuple[str, str, np.ndarray]:
        with digits_backend(cache) as backend:
            details = dict(backend.describe().details)
            return details['engine_source'], details['engine'], run_digits(
                backend, digits_input(backend))
    origin, path, expected = activate_once()
    assert origin == 'built'
    origin, again, logits = activate_once()
    assert (origin, again) == ('cache', path)
    np.testing.assert_array_equal(logits, expected)
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    corrupt = data[:]
    corrupt[-100] ^= 0xFF  # the plan's sha256 no longer matches
    for damaged in (bytes(corrupt), bytes(data[:len(data) // 2]), b'not a plan at all'):
        with open(path, 'wb') as f:
            f.write(damaged)
        origin, again, logits = activate_once()
        assert (origin, again) == ('built', path)
        np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    # a valid file of another key (FP16) copied over this one is foreign: rebuilt
    with digits_backend(cache, precision='fp16') as backend:
        fp16_path = dict(backend.describe().details)['engine']
    shutil.copy(fp16_path, path)
    origin, again, logits = activate_once()
    assert (origin, again) == ('built', path)


def build_raw_plan(path: str, input_format: str = 'LINEAR', half_input: bool = False) -> None:
    """Write a plan as trtexec does: no cache header, chosen input type and format."""
    import tensorrt as trt
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(DIGITS)
    config = builder.create_builder_config()
    if TACTICS is not None:
        assert config.set_tactic_sources(tactic_mask(trt))
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if half_input or input_format != 'LINEAR':
        config.set_flag(trt.BuilderFlag.FP16)
        network.get_input(0).dtype = trt.DataType.HALF
    network.get_input(0).allowed_formats = 1 << int(getattr(trt.TensorFormat, input_format))
    plan = builder.build_serialized_network(network, config)
    assert plan is not None
    with open(path, 'wb') as f:
        f.write(bytes(plan))


def test_plan_file_reports_what_the_engine_is(tmp_path: Any) -> None:
    path = str(tmp_path / 'digits.plan')
    build_raw_plan(path)
    with TensorRtBackend(path, BackendOptions(), log=LOG) as backend:
        described = backend.describe()
        assert (described.effective, dict(described.details)['engine_source']) == ('GPU', 'file')
        assert described.placement.layers
        assert np.isfinite(run_digits(backend, digits_input(backend))).all()
    # DLA core 1 asked for on a GPU without DLA: the engine runs on the GPU and says why
    with TensorRtBackend(path, BackendOptions(dla_core=1), log=LOG) as backend:
        described = backend.describe()
        assert described.effective == 'GPU' and '0 DLA cores' in described.fallback_reason


@pytest.mark.parametrize('input_format', ['HWC8', 'CHW2'])
def test_vectorized_io_formats_are_refused(input_format: str, tmp_path: Any) -> None:
    path = str(tmp_path / f'digits.{input_format}.plan')
    build_raw_plan(path, input_format)
    backend = TensorRtBackend(path, BackendOptions(), log=LOG)
    with pytest.raises(DlaInferError, match=f'uses the {input_format} memory format'):
        backend.activate()
    assert not backend.is_active


def test_gpu_preprocessing_feeds_the_engine_without_a_host_wait(
        cache_dir: str, photos: List[Tuple[str, np.ndarray]], reference: Dict[str, np.ndarray],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cv2 = pytest.importorskip('cv2')
    contract, options = default_contract(), trt_options(cache_dir)
    name = contract.input_contract.name
    with Classifier(contract, 'tensorrt', options, preprocess_device='cpu') as on_cpu, \
            Classifier(contract, 'tensorrt', options, preprocess_device='gpu') as on_gpu:
        assert on_gpu.preprocessing == 'GPU (one kernel on the inference stream)'
        assert on_cpu.preprocessing == 'CPU (preprocess_device=cpu)'
        cuda = on_gpu.backend.device_input(name).cuda
        host_waits: List[str] = []
        for method in ('wait', 'synchronize'):
            original = getattr(cuda, method)

            def counted(*args: Any, _method: str = method, _original: Any = original) -> Any:
                host_waits.append(_method)
                return _original(*args)
            monkeypatch.setattr(cuda, method, counted)
        for photo, image in photos:
            bgra = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
            for order, pixels in (('BGR', image), ('BGRA', bgra),
                                  ('RGB', np.ascontiguousarray(image[:, :, ::-1]))):
                host_waits.clear()
                [gpu_results] = on_gpu.classify([pixels], order)
                # upload, kernel, engine and download queued back to back: one wait, at the end
                assert host_waits == ['wait'], host_waits
                gpu_logits = _logits(on_gpu)
                [cpu_results] = on_cpu.classify([image], 'BGR')
                cpu_logits = _logits(on_cpu)
                assert gpu_results[0][0] == cpu_results[0][0] == int(np.argmax(reference[photo]))
                delta = float(np.max(np.abs(gpu_logits - cpu_logits)))
                assert delta <= 0.05, f'{photo} {order}: max |logit difference| {delta:.4f}'
                timings = on_gpu.last_timings
                assert timings['preprocess_gpu'] > 0.0
                report(what='gpu_preprocessing', photo=photo, order=order,
                       size=f'{image.shape[1]}x{image.shape[0]}', top1=gpu_results[0][0],
                       max_abs_logit_diff_vs_cpu_path=round(delta, 4),
                       preprocess_gpu_ms=round(timings['preprocess_gpu'], 4),
                       preprocess_host_ms=round(timings['preprocess'], 4),
                       cpu_path_preprocess_ms=round(on_cpu.last_timings['preprocess'], 4))


def test_deactivate_returns_the_device_memory_of_activate(
        cache_dir: str, photos: List[Tuple[str, np.ndarray]]) -> None:
    # What the node's cleanup transition relies on: configure (activate) then cleanup
    # (deactivate) leaves the device as it found it, GPU preprocessing included.
    contract, options = default_contract(), trt_options(cache_dir)
    probe = create_cuda_api('cuda-python', 0)
    try:
        with Classifier(contract, 'tensorrt', options, preprocess_device='gpu'):
            pass  # the engine built (or read from the cache) and the kernel compiled once
        levels = []
        for _ in range(3):
            with probe.bound():
                before, _ = probe.mem_get_info()
            classifier = Classifier(contract, 'tensorrt', options, preprocess_device='gpu')
            classifier.activate()
            classifier.classify([photos[0][1]], 'BGR')
            with probe.bound():
                active, _ = probe.mem_get_info()
            classifier.deactivate()
            with probe.bound():
                after, _ = probe.mem_get_info()
            levels.append((before, active, after))
        report(what='activate_deactivate_device_memory', levels=levels)
        for before, active, after in levels:
            assert active < before  # the engine and its buffers took memory
            assert after == before, levels  # and gave all of it back
    finally:
        probe.close()


def test_fp16_engine_input_is_written_by_the_preprocessing(tmp_path: Any) -> None:
    path = str(tmp_path / 'digits.plan')
    build_raw_plan(path, half_input=True)
    contract = resolve_model(DIGITS)
    plan_contract = dataclasses.replace(contract, model_path=path)
    image = np.random.default_rng(3).integers(0, 255, (8, 8), dtype=np.uint8)
    with Classifier(contract, 'onnxruntime') as reference_classifier:
        expected = reference_classifier.classify([image], 'GRAY')[0][0][0]
    with Classifier(plan_contract, 'tensorrt') as classifier:
        assert classifier.backend.inputs[0].dtype == np.float16
        assert classifier.preprocessor.tensor.dtype == np.float16
        assert classifier.classify([image], 'GRAY')[0][0][0] == expected


@pytest.mark.parametrize('binding', binding_params())
def test_ten_thousand_inferences_without_device_memory_growth(
        binding: str, engines: Dict[str, Classifier], cache_dir: str,
        photos: List[Tuple[str, np.ndarray]]) -> None:
    options = trt_options(cache_dir, precision='fp16', cuda_binding=binding)
    apis: List[CudaApi] = []

    def factory(name: str, device: int) -> CudaApi:
        apis.append(create_cuda_api(name, device))
        return apis[-1]
    with TensorRtBackend(default_contract().model_path, options, cuda_factory=factory,
                         log=LOG) as backend:
        preprocessor = Preprocessor(default_contract().input_contract)
        preprocessor.write_into(backend.input_buffers()['input'])
        preprocessor.process(photos[0][1], 'BGR')
        feed = {'input': preprocessor.tensor}
        first = np.array(backend.infer(feed)['logits'])
        cuda = apis[0]
        with cuda.bound():
            free_before, _ = cuda.mem_get_info()
        started = time.perf_counter()
        for _ in range(10000):
            logits = backend.infer(feed)['logits']
        seconds = time.perf_counter() - started
        with cuda.bound():
            free_after, _ = cuda.mem_get_info()
        np.testing.assert_array_equal(logits, first)
        report(what='10000_inferences', binding=binding, seconds=round(seconds, 2),
               free_before=free_before, free_after=free_after)
        assert free_after == free_before


def cpu_and_wall_per_inference(backend: TensorRtBackend, runs: int) -> Tuple[float, float]:
    """:return: CPU time of the calling thread and wall-clock time per ``infer()``, in ms."""
    feed = backend.input_buffers()  # written in place, as the Classifier does: no copy
    for _ in range(20):
        backend.infer(feed)
    cpu_before = resource.getrusage(resource.RUSAGE_THREAD)
    started = time.perf_counter()
    for _ in range(runs):
        backend.infer(feed)
    wall = (time.perf_counter() - started) / runs * 1e3
    cpu_after = resource.getrusage(resource.RUSAGE_THREAD)
    cpu = ((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime))
    return cpu / runs * 1e3, wall


def build_heavy_plan(path: str) -> None:
    """Write a plan whose GPU time dwarfs its enqueue time: ten 3x3 convolutions at 256x256."""
    import tensorrt as trt
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    tensor = network.add_input('input', trt.DataType.FLOAT, (1, 16, 256, 256))
    generator = np.random.default_rng(0)
    weights = []  # TensorRT keeps pointers to them until the build is done
    channels = 16
    for _ in range(10):
        kernel = (generator.standard_normal((128, channels, 3, 3)) * 0.05).astype(np.float32)
        weights += [kernel, np.zeros(128, np.float32)]
        conv = network.add_convolution_nd(tensor, 128, (3, 3), trt.Weights(weights[-2]),
                                          trt.Weights(weights[-1]))
        conv.padding_nd = (1, 1)
        tensor = network.add_activation(conv.get_output(0),
                                        trt.ActivationType.RELU).get_output(0)
        channels = 128
    pooled = network.add_reduce(tensor, trt.ReduceOperation.AVG, (1 << 2) | (1 << 3), False)
    pooled.get_output(0).name = 'logits'
    network.mark_output(pooled.get_output(0))
    config = builder.create_builder_config()
    if TACTICS is not None:
        assert config.set_tactic_sources(tactic_mask(trt))
    plan = builder.build_serialized_network(network, config)
    assert plan is not None
    with open(path, 'wb') as f:
        f.write(bytes(plan))


def measure_sync(model: str, binding: str, runs: int,
                 **kwargs: Any) -> Dict[str, Tuple[float, float]]:
    """:return: (CPU, wall) ms per inference, blocking and spinning."""
    measured = {}
    for spin in (False, True):
        options = BackendOptions(cuda_binding=binding, spin_wait=spin, tactic_sources=TACTICS,
                                 **kwargs)
        with TensorRtBackend(model, options, log=LOG) as backend:
            assert dict(backend.describe().details)['sync'] == ('spin' if spin else 'blocking')
            measured['spin' if spin else 'blocking'] = cpu_and_wall_per_inference(backend, runs)
    return measured


@pytest.mark.parametrize('binding', binding_params())
def test_blocking_wait_leaves_the_cpu_free(binding: str, engines: Dict[str, Classifier],
                                           cache_dir: str, tmp_path: Any) -> None:
    heavy = str(tmp_path / 'heavy.plan')
    build_heavy_plan(heavy)
    efficientnet(engines, cache_dir, 'fp32')  # built (or cached) once
    for name, model, runs, kwargs in (
            ('efficientnet_lite0 fp32', default_contract().model_path, 2000,
             {'engine_cache_dir': cache_dir}),
            ('10 convolutions 128x256x256', heavy, 200, {})):
        measured = measure_sync(model, binding, runs, **kwargs)
        for mode, (cpu, wall) in measured.items():
            report(what='sync', binding=binding, model=name, mode=mode,
                   cpu_ms_per_inference=round(cpu, 4), wall_ms_per_inference=round(wall, 4))
    # While the GPU works for milliseconds, spinning keeps a core busy all along and
    # blocking sleeps. (For a 0.4 ms model the wait is mostly covered by the enqueue's
    # own CPU time, so the difference there is small: see the report.)
    assert measured['blocking'][0] < 0.5 * measured['spin'][0]
    assert measured['spin'][0] > 0.8 * measured['spin'][1]


@pytest.mark.parametrize('binding', binding_params())
def test_inference_thread_that_exits_leaves_no_context_behind(binding: str,
                                                              tmp_path: Any) -> None:
    """The node's inference thread ends at shutdown; pycuda used to abort the process there."""
    script = textwrap.dedent(f"""
        import threading, numpy as np
        from dla_infer_ros.backends import BackendOptions
        from dla_infer_ros.backends.tensorrt import TensorRtBackend
        backend = TensorRtBackend({DIGITS!r}, BackendOptions(
            engine_cache_dir={str(tmp_path)!r}, cuda_binding={binding!r},
            tactic_sources={TACTICS!r}))
        backend.activate()
        def serve():
            spec = backend.inputs[0]
            for _ in range(100):
                backend.infer({{spec.name: np.zeros(spec.shape, spec.dtype)}})
        for _ in range(3):
            worker = threading.Thread(target=serve)
            worker.start()
            worker.join()
        backend.deactivate()
        print('clean exit')
    """)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=240, cwd=os.path.dirname(HERE))
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'clean exit' in result.stdout
    assert 'PyCUDA ERROR' not in result.stderr


def test_backend_used_from_several_threads_at_once(cache_dir: str) -> None:
    with digits_backend(cache_dir) as backend:
        expected = run_digits(backend, digits_input(backend, 7))
        failures: List[str] = []

        def worker() -> None:
            for _ in range(200):
                got = run_digits(backend, digits_input(backend, 7))
                if not np.array_equal(got, expected):
                    failures.append('mismatch')
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
