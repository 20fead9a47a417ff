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
Control flow of the TensorRT backend against fakes built from the real API surface.

Every test runs once per TensorRT version whose real surface is committed
(8.5.3.1, 8.6.1, 10.3.0, 10.7.0, 10.16.1.11): the fake ``tensorrt`` module exposes only
what that version's bindings expose, so a call that does not exist in a
version fails there.
"""

import glob
import json
import logging
import os
import threading
from typing import Any, Dict, List, Tuple

from fake_cuda import FakeCudaApi
from fake_tensorrt import expected_logits, FakeWorld, make_fake_tensorrt, VERSIONS, write_model
import numpy as np
import pytest

from dla_infer_ros.backends import BackendOptions
from dla_infer_ros.backends.tensorrt import TensorRtBackend
from dla_infer_ros.backends.tensorrt.engine_cache import decode_plan_file
from dla_infer_ros.errors import DlaInferError

MIB = 1 << 20


@pytest.fixture(params=VERSIONS)
def fake(request: Any) -> Tuple[Any, FakeWorld]:
    """:return: (fake tensorrt module of one version, its world)."""
    world = FakeWorld(cuda=FakeCudaApi())
    return make_fake_tensorrt(request.param, world), world


@pytest.fixture
def model(tmp_path: Any) -> str:
    """:return: a fake ONNX model, float32[1, 3, 4, 4] -> float32[1, 3]."""
    return write_model(os.path.join(str(tmp_path), 'tiny.onnx'))


def make_backend(fake: Tuple[Any, FakeWorld], model_path: str, tmp_path: Any,
                 **options: Any) -> TensorRtBackend:
    trt, world = fake
    extra = options.pop('_backend_kwargs', {})
    options.setdefault('engine_cache_dir', os.path.join(str(tmp_path), 'cache'))
    return TensorRtBackend(model_path, BackendOptions(**options), tensorrt_module=trt,
                           cuda_factory=lambda binding, device: world.cuda,
                           log=logging.getLogger('test.tensorrt'), **extra)


def run_once(backend: TensorRtBackend, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    spec = backend.inputs[0]
    data = np.random.default_rng(seed).standard_normal(spec.shape).astype(np.float32)
    return data, backend.infer({spec.name: data})['logits']


def flags_of(trt: Any, config: Any) -> List[str]:
    return sorted(name for name, value in trt.BuilderFlag.__members__.items()
                  if config.get_flag(value))


def major(trt: Any) -> int:
    return int(trt.__version__.split('.')[0])


# -- GPU -------------------------------------------------------------------------------

def test_gpu_build_runs_and_reports(fake: Any, model: str, tmp_path: Any) -> None:
    trt, world = fake
    with make_backend(fake, model, tmp_path, workspace_mb=256) as backend:
        data, logits = run_once(backend)
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
        report = backend.describe()
        assert (report.requested, report.effective, report.fell_back) == ('GPU', 'GPU', False)
        assert report.placement.counts() == {'GPU': 4}
        assert dict(report.details)['engine_source'] == 'built'
        timings = backend.last_timings()
        assert timings.pop('enqueue_ms') >= 0.0  # CPU time in execute_async_v3
        assert timings == {'h2d_ms': 0.5, 'compute_ms': 0.5, 'd2h_ms': 0.5}
    config = world.configs[0]
    assert flags_of(trt, config) == []
    assert config.default_device_type == trt.DeviceType.GPU
    assert config._pools == {trt.MemoryPoolType.WORKSPACE: 256 * MIB}
    assert config.profiling_verbosity == trt.ProfilingVerbosity.DETAILED
    assert world.events[-1] == ('deserialize', -1)


def test_input_written_in_place_into_the_pinned_buffer(fake: Any, model: str,
                                                       tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path) as backend:
        spec = backend.inputs[0]
        pinned = backend.input_buffers()[spec.name]
        assert pinned.shape == spec.shape and pinned.dtype == spec.dtype
        data = np.random.default_rng(5).standard_normal(spec.shape).astype(np.float32)
        pinned[...] = data  # as the preprocessor does
        logits = backend.infer({spec.name: pinned})['logits']
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
    assert backend.input_buffers() == {}


def test_network_flags_and_progress_follow_the_version(fake: Any, model: str,
                                                       tmp_path: Any) -> None:
    trt, world = fake
    with make_backend(fake, model, tmp_path, precision='fp16'):
        pass
    flags = [e[1] for e in world.events if e[0] == 'create_network']
    if major(trt) == 8:
        assert flags == [1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)]
        assert world.progress == []
    else:
        assert flags == [0]
        assert world.progress == [('step', 'True'), ('step', 'True')]
    assert flags_of(trt, world.configs[0]) == ['FP16']


def test_infer_allocates_nothing_and_deactivate_frees_everything(fake: Any, model: str,
                                                                 tmp_path: Any) -> None:
    _, world = fake
    backend = make_backend(fake, model, tmp_path)
    backend.activate()
    run_once(backend)
    allocations, live = world.cuda.allocations, world.cuda.live
    for seed in range(100):
        data, logits = run_once(backend, seed)
    np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
    assert (world.cuda.allocations, world.cuda.live) == (allocations, live)
    assert live == 4 + 1 + 4  # host+device per tensor (2 tensors), a stream, four events
    backend.deactivate()
    backend.deactivate()
    assert world.cuda.live == 0 and world.cuda.closed
    with pytest.raises(DlaInferError, match='before activate'):
        run_once(backend)


def test_wrong_feed_is_refused(fake: Any, model: str, tmp_path: Any) -> None:
    with make_backend(fake, model, tmp_path) as backend:
        with pytest.raises(DlaInferError, match='float64'):
            backend.infer({'input': np.zeros((1, 3, 4, 4))})


# -- DLA -------------------------------------------------------------------------------

def test_dla_build_with_fallback(fake: Any, model: str, tmp_path: Any) -> None:
    trt, world = fake
    world.dla_unsupported = {'pool'}
    with make_backend(fake, model, tmp_path, dla_core=1, allow_gpu_fallback=True) as backend:
        data, logits = run_once(backend)
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
        report = backend.describe()
    assert (report.requested, report.effective, report.fallback_reason) == (
        'DLA core 1', 'DLA core 1', '')
    # the engine's own layers: one DLA loadable and the pool kernel, plus the reformats
    assert report.placement.counts() == {'DLA': 1, 'GPU': 1}
    assert report.placement.fallen_back == ('pool',)
    assert report.placement.reformats == (
        'Reformatting CopyNode for Input Tensor 0 to input', 'input to nvm', 'logits from nvm',
        'input copy finish')
    assert report.placement.summary() == ('layers: 1 on DLA, 1 on GPU (1 fell back to GPU); '
                                          '4 reformat layers')
    assert dict(report.details)['planned_placement'] == (
        'layers: 3 on DLA, 1 on GPU (1 fell back to GPU)')
    config = world.configs[0]
    assert config.default_device_type == trt.DeviceType.DLA and config.DLA_core == 1
    assert flags_of(trt, config) == ['FP16', 'GPU_FALLBACK']  # FP16 added for the DLA
    assert world.events[-1] == ('deserialize', 1)  # runtime core set before deserializing


def test_dla_pools_are_set_only_for_dla(fake: Any, model: str, tmp_path: Any) -> None:
    trt, world = fake
    from dla_infer_ros.backends.tensorrt import DlaMemoryPools
    pools = DlaMemoryPools(managed_sram=2 * MIB, local_dram=0, global_dram=64 * MIB)
    with make_backend(fake, model, tmp_path, dla_core=0,
                      _backend_kwargs={'dla_pools': pools}):
        pass
    assert world.configs[0]._pools == {
        trt.MemoryPoolType.WORKSPACE: 1024 * MIB, trt.MemoryPoolType.DLA_MANAGED_SRAM: 2 * MIB,
        trt.MemoryPoolType.DLA_GLOBAL_DRAM: 64 * MIB}


def test_dla_sram_option_sets_the_pool_and_keys_the_cache(
        fake: Any, model: str, tmp_path: Any) -> None:
    trt, world = fake
    with make_backend(fake, model, tmp_path, dla_core=0, dla_sram_mb=2):
        pass
    assert world.configs[0]._pools[trt.MemoryPoolType.DLA_MANAGED_SRAM] == 2 * MIB
    with make_backend(fake, model, tmp_path, dla_core=0, dla_sram_mb=2):
        pass
    assert world.builds == 1  # same pools: the cached engine is loaded
    with make_backend(fake, model, tmp_path, dla_core=0, dla_sram_mb=4):
        pass
    assert world.builds == 2  # another SRAM size is another engine


def test_dla_without_fallback_refuses_layers_it_cannot_run(fake: Any, model: str,
                                                           tmp_path: Any) -> None:
    _, world = fake
    world.dla_unsupported = {'pool', 'fc'}
    backend = make_backend(fake, model, tmp_path, dla_core=0, allow_gpu_fallback=False)
    with pytest.raises(DlaInferError, match=r'2 layer\(s\) cannot run on DLA core 0 and '
                                            r'allow_gpu_fallback is false: pool, fc'):
        backend.activate()
    assert world.builds == 0 and world.cuda.live == 0


def test_dla_without_fallback_builds_when_every_layer_fits(fake: Any, model: str,
                                                           tmp_path: Any) -> None:
    trt, world = fake
    with make_backend(fake, model, tmp_path, dla_core=0, allow_gpu_fallback=False) as backend:
        placement = backend.describe().placement
        assert placement.counts() == {'DLA': 1}
        assert 'Reformatting CopyNode for Input Tensor 0 to input' not in placement.reformats
        # the DLA's own I/O: FP16 rows padded to 64 bytes, written through a strided view
        assert [(t.dtype, t.shape) for t in backend.inputs + backend.outputs] == [
            (np.float16, (1, 3, 4, 4)), (np.float16, (1, 3))]
        pinned = backend.input_buffers()['input']
        assert pinned.dtype == np.float16 and pinned.strides == (3 * 4 * 64, 4 * 64, 64, 2)
        data = np.random.default_rng(2).standard_normal((1, 3, 4, 4)).astype(np.float16)
        pinned[...] = data
        logits = backend.infer({'input': pinned})['logits']
        np.testing.assert_allclose(logits, expected_logits(data.astype(np.float32), 3),
                                   rtol=1e-2, atol=1e-2)
        assert dict(backend.describe().details)['io'] == (
            'input float16 DLA_LINEAR, logits float16 DLA_LINEAR')
    config = world.configs[0]
    assert flags_of(trt, config) == ['DIRECT_IO', 'FP16']


def test_dla_on_a_host_without_dla_falls_back_with_one_warning(fake: Any, model: str,
                                                               tmp_path: Any,
                                                               caplog: Any) -> None:
    trt, world = fake
    world.num_dla_cores = 0
    caplog.set_level(logging.WARNING, logger='test.tensorrt')
    with make_backend(fake, model, tmp_path, dla_core=1, allow_gpu_fallback=True) as backend:
        run_once(backend)
        report = backend.describe()
    assert (report.effective, report.fallback_reason) == ('GPU', 'this device has 0 DLA cores')
    assert report.summary() == 'DLA core 1 requested -> GPU (this device has 0 DLA cores)'
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ['DLA core 1 requested, running on the GPU: this device has 0 DLA cores']
    assert world.configs[0].default_device_type == trt.DeviceType.GPU
    assert world.events[-1] == ('deserialize', -1)


def test_dla_on_a_host_without_dla_and_no_fallback_is_refused(fake: Any, model: str,
                                                              tmp_path: Any) -> None:
    _, world = fake
    world.num_dla_cores = 0
    backend = make_backend(fake, model, tmp_path, dla_core=0, allow_gpu_fallback=False)
    with pytest.raises(DlaInferError, match='dla_core=0 requested, this device has 0 DLA cores '
                                            'and allow_gpu_fallback is false'):
        backend.activate()
    assert world.builds == 0 and world.cuda.live == 0 and world.cuda.closed


def test_dla_core_beyond_the_device_is_refused(fake: Any, model: str, tmp_path: Any) -> None:
    backend = make_backend(fake, model, tmp_path, dla_core=2, allow_gpu_fallback=True)
    with pytest.raises(DlaInferError, match=r'dla_core=2 requested, this device has 2 DLA '
                                            r'cores \(0..1\)'):
        backend.activate()


# -- INT8 ------------------------------------------------------------------------------

def calibration_folder(tmp_path: Any, count: int) -> str:
    folder = os.path.join(str(tmp_path), 'calib')
    os.makedirs(folder)
    for i in range(count):
        with open(os.path.join(folder, f'img{i:02d}.png'), 'wb') as f:
            f.write(bytes([i]) * (i + 1))
    return folder


def counting_source(shape: Tuple[int, ...]) -> Any:
    for value in range(3):
        yield np.full(shape, value, np.float32)


def test_int8_calibrator_is_fed_the_batches_and_keeps_a_cache(fake: Any, model: str,
                                                              tmp_path: Any) -> None:
    trt, world = fake
    folder = calibration_folder(tmp_path, 5)
    options = {'precision': 'int8', 'calibration_dir': folder, 'batch_size': 1,
               '_backend_kwargs': {'calibration_source': counting_source}}
    with make_backend(fake, model, tmp_path, **dict(options)) as backend:
        assert dict(backend.describe().details)['precision'] == 'int8'
    assert [b[0, 0, 0, 0] for b in world.calibration_batches] == [0.0, 1.0, 2.0]
    assert all(b.shape == (1, 3, 4, 4) for b in world.calibration_batches)
    assert flags_of(trt, world.configs[0]) == ['INT8']
    caches = glob.glob(os.path.join(str(tmp_path), 'cache', 'calib.*.b1.cache'))
    assert len(caches) == 1
    with open(caches[0], 'rb') as f:
        assert f.read() == b'FAKECALIB 3'
    # a rebuild reads the calibration cache instead of calibrating again
    with make_backend(fake, model, tmp_path, force_rebuild=True, **dict(options)):
        pass
    assert world.builds == 2 and len(world.calibration_batches) == 3
    assert world.calibration_cache_seen == b'FAKECALIB 3'


def test_int8_on_dla_uses_int8_alone(fake: Any, model: str, tmp_path: Any) -> None:
    trt, world = fake
    folder = calibration_folder(tmp_path, 2)
    with make_backend(fake, model, tmp_path, precision='int8', calibration_dir=folder,
                      dla_core=0, _backend_kwargs={'calibration_source': counting_source}):
        pass
    assert flags_of(trt, world.configs[0]) == ['GPU_FALLBACK', 'INT8']


def test_int8_from_a_calibration_cache_file(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    cache_file = os.path.join(str(tmp_path), 'model.calib')
    with open(cache_file, 'wb') as f:
        f.write(b'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n')
    with make_backend(fake, model, tmp_path, precision='int8', calibration_dir=cache_file):
        pass
    assert world.calibration_cache_seen == b'TRT-8601-EntropyCalibration2\ninput: 3c010a14\n'
    assert world.calibration_batches == []


def test_int8_errors(fake: Any, model: str, tmp_path: Any) -> None:
    with pytest.raises(DlaInferError, match='precision=int8 requested without calibration'):
        make_backend(fake, model, tmp_path, precision='int8').activate()
    folder = calibration_folder(tmp_path, 2)
    with pytest.raises(DlaInferError, match='no preprocessing was given'):
        make_backend(fake, model, tmp_path, precision='int8', calibration_dir=folder).activate()

    def wrong_shape(shape: Tuple[int, ...]) -> Any:
        yield np.zeros((1, 3, 8, 8), np.float32)
    backend = make_backend(fake, model, tmp_path, precision='int8', calibration_dir=folder,
                           _backend_kwargs={'calibration_source': wrong_shape})
    with pytest.raises(DlaInferError, match=r'INT8 calibration failed: calibration batch is '
                                            r'float32\[1, 3, 8, 8\]'):
        backend.activate()


def test_best_without_calibration_builds_fp16(fake: Any, model: str, tmp_path: Any,
                                              caplog: Any) -> None:
    trt, world = fake
    with make_backend(fake, model, tmp_path, precision='best'):
        pass
    assert flags_of(trt, world.configs[0]) == ['FP16']
    assert 'INT8 left off' in caplog.text


# -- engine cache ----------------------------------------------------------------------

def plan_files(tmp_path: Any) -> List[str]:
    return sorted(glob.glob(os.path.join(str(tmp_path), 'cache', '*.plan')))


def test_cache_hit_miss_and_force_rebuild(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path, dla_core=0) as backend:
        first = backend.describe()
    with make_backend(fake, model, tmp_path, dla_core=0) as backend:
        again = backend.describe()
        data, logits = run_once(backend)
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
    assert world.builds == 1
    assert dict(again.details)['engine_source'] == 'cache'
    assert again.placement == first.placement
    with make_backend(fake, model, tmp_path, dla_core=0, precision='fp16', batch_size=1):
        pass  # fp32 on DLA already meant fp16: same key
    assert world.builds == 1
    with make_backend(fake, model, tmp_path, dla_core=1):
        pass  # a DLA plan runs on either core: same key
    assert world.builds == 1
    with make_backend(fake, model, tmp_path, dla_core=0, allow_gpu_fallback=False):
        pass
    assert world.builds == 2 and len(plan_files(tmp_path)) == 2
    with make_backend(fake, model, tmp_path, dla_core=0, force_rebuild=True) as backend:
        assert dict(backend.describe().details)['engine_source'] == 'built'
    assert world.builds == 3 and len(plan_files(tmp_path)) == 2


def test_cache_key_changes_with_the_model(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path):
        pass
    write_model(model, layers=('conv1', 'relu1', 'fc'))
    with make_backend(fake, model, tmp_path):
        pass
    assert world.builds == 2 and len(plan_files(tmp_path)) == 2


@pytest.mark.parametrize('damage, message', [
    (lambda data: data[:-10], 'truncated plan file'),
    (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), 'corrupt plan file (sha256'),
    (lambda data: b'ftrt' + data[4:], 'not a dla_infer_ros plan file'),
    (lambda data: data[:8] + b'\xff\xff\xff\x0f' + data[12:], 'plan file format'),
])
def test_corrupt_cache_file_is_deleted_and_rebuilt(fake: Any, model: str, tmp_path: Any,
                                                   caplog: Any, damage: Any,
                                                   message: str) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path):
        pass
    [path] = plan_files(tmp_path)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(damage(data))
    with make_backend(fake, model, tmp_path) as backend:
        run_once(backend)
        assert dict(backend.describe().details)['engine_source'] == 'built'
    assert world.builds == 2
    assert f'deleting {path}: {message}' in caplog.text
    with open(path, 'rb') as f:
        decode_plan_file(f.read())


def test_plan_refused_by_tensorrt_is_rebuilt_once(fake: Any, model: str, tmp_path: Any,
                                                  caplog: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path):
        pass
    world.reject_plans = 1
    with make_backend(fake, model, tmp_path) as backend:
        run_once(backend)
    assert world.builds == 2
    assert 'rejected' in caplog.text and 'plan magic tag does not match' in caplog.text
    world.reject_plans = 2
    with pytest.raises(DlaInferError, match='cannot deserialize the plan'):
        make_backend(fake, model, tmp_path).activate()
    assert world.builds == 3 and world.cuda.live == 0


def test_concurrent_builders_build_once(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    world.build_delay_s = 0.3
    reports: Dict[int, Any] = {}
    errors: List[BaseException] = []

    def activate(index: int) -> None:
        try:
            with make_backend(fake, model, tmp_path) as backend:
                reports[index] = dict(backend.describe().details)['engine_source']
        except BaseException as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=activate, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert world.builds == 1
    assert sorted(reports.values()) == ['built', 'cache']


def start_together(fake: Any, model: str, tmp_path: Any, caches: List[str],
                   requests: List[Dict[str, Any]]) -> Dict[int, str]:
    """Activate one backend per request in threads at once; :return: each engine's source."""
    sources: Dict[int, str] = {}
    errors: List[BaseException] = []

    def activate(index: int) -> None:
        try:
            with make_backend(fake, model, tmp_path, engine_cache_dir=caches[index],
                              **requests[index]) as backend:
                sources[index] = dict(backend.describe().details)['engine_source']
        except BaseException as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=activate, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    return sources


@pytest.mark.parametrize('fake', ['8.5.3.1'], indirect=True)
def test_builds_for_one_device_take_turns(fake: Any, model: str, tmp_path: Any,
                                          caplog: Any) -> None:
    _, world = fake
    world.build_delay_s = 0.3
    caplog.set_level(logging.INFO, logger='test.tensorrt')
    requests = [{'precision': 'fp32'}, {'precision': 'fp16'}, {'dla_core': 0}]
    shared = [str(tmp_path / 'cache')] * 3
    # three different engines (GPU FP32, GPU FP16, DLA), an empty cache: one build at a time
    assert start_together(fake, model, tmp_path, shared, requests) == dict.fromkeys(
        range(3), 'built')
    assert world.builds == 3 and world.most_building == 1
    waits = [r.getMessage() for r in caplog.records if 'waiting for another engine build '
             'on cuda0 to finish before building' in r.getMessage()]
    assert len(waits) == 2, caplog.text
    # a warm cache: nobody builds, nobody waits
    caplog.clear()
    assert start_together(fake, model, tmp_path, shared, requests) == dict.fromkeys(
        range(3), 'cache')
    assert world.builds == 3 and 'waiting for another engine build' not in caplog.text
    # caches in different folders do not know of each other: their builds overlap
    apart = [str(tmp_path / f'apart{i}') for i in range(3)]
    start_together(fake, model, tmp_path, apart, requests)
    assert world.builds == 6 and world.most_building > 1


def test_timing_cache_is_saved_and_reused(fake: Any, model: str, tmp_path: Any,
                                          caplog: Any) -> None:
    _, world = fake
    caplog.set_level(logging.INFO, logger='test.tensorrt')
    with make_backend(fake, model, tmp_path):
        pass
    [timing] = glob.glob(os.path.join(str(tmp_path), 'cache', 'timing.trt*.sm87.*.GPU.fp32.cache'))
    with open(timing, 'rb') as f:
        assert f.read() == b'FAKETC1'
    with make_backend(fake, model, tmp_path, force_rebuild=True):
        pass
    assert f'timing cache: loaded {timing} (7 bytes)' in caplog.text
    with open(timing, 'wb') as f:
        f.write(b'from another GPU')
    with make_backend(fake, model, tmp_path, force_rebuild=True):
        pass
    assert 'does not match this device' in caplog.text
    with open(timing, 'rb') as f:
        assert f.read() == b'FAKETC3'


# -- shapes, files, failures -----------------------------------------------------------

def test_dynamic_batch_is_pinned_to_the_batch_size(fake: Any, tmp_path: Any) -> None:
    _, world = fake
    path = write_model(os.path.join(str(tmp_path), 'dyn.onnx'), batch=-1)
    with make_backend(fake, path, tmp_path, batch_size=2, dla_core=0) as backend:
        assert backend.inputs[0].shape == (2, 3, 4, 4)
        assert backend.outputs[0].shape == (2, 3)
        data, logits = run_once(backend)
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
    profile = world.configs[0]._profiles[0]
    assert profile._shapes == {'input': ((2, 3, 4, 4),) * 3}  # min = opt = max (DLA)


def test_fixed_batch_mismatch_and_dynamic_spatial_dims_are_refused(fake: Any,
                                                                   tmp_path: Any) -> None:
    path = write_model(os.path.join(str(tmp_path), 'b1.onnx'), batch=1)
    with pytest.raises(DlaInferError, match='fixed batch of 1, batch_size=2 requested'):
        make_backend(fake, path, tmp_path, batch_size=2).activate()
    path = write_model(os.path.join(str(tmp_path), 'hw.onnx'), size=-1)
    with pytest.raises(DlaInferError, match='dynamic dimensions'):
        make_backend(fake, path, tmp_path).activate()


def test_serialized_engines_load_directly(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path, dla_core=1):
        pass
    [cached] = plan_files(tmp_path)
    with make_backend(fake, cached, tmp_path, dla_core=1) as backend:
        report = backend.describe()
        assert dict(report.details)['engine_source'] == 'file'
        assert report.placement.counts() == {'DLA': 1}  # the engine's loadable
        assert report.placement.fallen_back == ()  # the build-time record beside the plan
    with open(cached, 'rb') as f:
        plan, _ = decode_plan_file(f.read())
    raw = os.path.join(str(tmp_path), 'trtexec.engine')
    with open(raw, 'wb') as f:
        f.write(plan)
    with make_backend(fake, raw, tmp_path, dla_core=1) as backend:
        data, logits = run_once(backend)
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)
        assert backend.describe().placement.counts() == {'DLA': 1}  # from the inspector
        layers = json.loads(backend.engine_information())['Layers']
        assert layers[2] == {'Name': '{ForeignNode[conv1...fc]}', 'LayerType': 'ForeignNode'}
    assert world.events[-1] == ('deserialize', 1) and world.builds == 1


def test_failures_are_reported_with_tensorrt_messages(fake: Any, model: str,
                                                      tmp_path: Any) -> None:
    _, world = fake
    world.fail_build = True
    with pytest.raises(DlaInferError, match='TensorRT said: simulated build failure'):
        make_backend(fake, model, tmp_path).activate()
    with pytest.raises(DlaInferError, match='does not exist'):
        make_backend(fake, os.path.join(str(tmp_path), 'missing.onnx'), tmp_path).activate()
    bad = os.path.join(str(tmp_path), 'bad.onnx')
    with open(bad, 'w') as f:
        f.write('not json')
    world.fail_build = False
    with pytest.raises(DlaInferError, match='TensorRT cannot parse'):
        make_backend(fake, bad, tmp_path).activate()
    with pytest.raises(DlaInferError, match='cannot read engine file'):
        make_backend(fake, os.path.join(str(tmp_path), 'missing.plan'), tmp_path).activate()
    assert world.cuda.live == 0


def test_registry_knows_the_backend() -> None:
    from dla_infer_ros.backends import BACKENDS, create_backend
    assert BACKENDS['tensorrt'].needs == 'tensorrt'
    backend = create_backend('tensorrt', 'model.onnx', BackendOptions(dla_core=1))
    assert isinstance(backend, TensorRtBackend) and not backend.is_active


@pytest.mark.parametrize('call, message', [
    ('set_tensor_address', "refused the device address of tensor 'input'"),
    ('create_execution_context', 'could not create an execution context'),
    ('set_timing_cache', 'rejected an empty timing cache'),
])
def test_every_refusal_from_tensorrt_is_an_error(fake: Any, model: str, tmp_path: Any,
                                                 call: str, message: str) -> None:
    _, world = fake
    world.refuse = {call}
    with pytest.raises(DlaInferError, match=message):
        make_backend(fake, model, tmp_path).activate()
    assert world.cuda.live == 0


@pytest.mark.parametrize('call, message', [
    ('set_input_shape', r'rejected shape \[2, 3, 4, 4\] for input'),
    ('add_optimization_profile', 'rejected the optimization profile for batch 2'),
])
def test_refused_shapes_are_errors(fake: Any, tmp_path: Any, call: str, message: str) -> None:
    _, world = fake
    path = write_model(os.path.join(str(tmp_path), 'dyn.onnx'), batch=-1)
    world.refuse = {call}
    with pytest.raises(DlaInferError, match=message):
        make_backend(fake, path, tmp_path, batch_size=2).activate()


def test_refused_calibration_profile_is_an_error(fake: Any, tmp_path: Any) -> None:
    _, world = fake
    path = write_model(os.path.join(str(tmp_path), 'dyn.onnx'), batch=-1)
    world.refuse = {'set_calibration_profile'}
    with pytest.raises(DlaInferError, match='rejected the calibration profile'):
        make_backend(fake, path, tmp_path, precision='int8',
                     calibration_dir=calibration_folder(tmp_path, 2),
                     _backend_kwargs={'calibration_source': counting_source}).activate()


def test_failed_execution_is_an_error_and_the_backend_stays_usable(fake: Any, model: str,
                                                                   tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path) as backend:
        world.refuse = {'execute_async_v3'}
        with pytest.raises(DlaInferError, match='TensorRT execute_async_v3 failed'):
            run_once(backend)
        world.refuse = set()
        data, logits = run_once(backend)
        np.testing.assert_allclose(logits, expected_logits(data, 3), rtol=1e-5)


def test_calibration_data_matters_only_for_int8(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    folder = calibration_folder(tmp_path, 2)  # images, but no preprocessing to read them
    with make_backend(fake, model, tmp_path, precision='fp16', calibration_dir=folder):
        pass
    with make_backend(fake, model, tmp_path, precision='fp16'):
        pass
    assert world.builds == 1 and world.calibration_batches == []


# -- what the review found -------------------------------------------------------------

def test_placement_is_the_engines_not_the_prediction(fake: Any, model: str,
                                                     tmp_path: Any) -> None:
    """The build may move layers the DLA accepted to the GPU: the engine says so."""
    _, world = fake
    world.moved_at_build = {'fc'}
    with make_backend(fake, model, tmp_path, dla_core=0) as backend:
        report = backend.describe()
    assert report.placement.layers == (('{ForeignNode[conv1...pool]}', 'DLA'), ('fc', 'GPU'))
    assert dict(report.details)['planned_placement'] == 'layers: 4 on DLA'


def test_one_dla_engine_serves_every_core(fake: Any, model: str, tmp_path: Any) -> None:
    """A DLA plan runs on any core: the second core loads what the first built."""
    _, world = fake
    origins = []
    for core in (0, 1):
        with make_backend(fake, model, tmp_path, dla_core=core) as backend:
            report = backend.describe()
            origins.append(dict(report.details)['engine_source'])
            assert report.effective == f'DLA core {core}'
            run_once(backend)
        assert world.events[-1] == ('deserialize', core)
    assert origins == ['built', 'cache'] and world.builds == 1
    assert [os.path.basename(p).split('.')[1] for p in plan_files(tmp_path)] == ['DLA']


def test_workspace_keys_the_cache(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    for workspace in (256, 256, 512):
        with make_backend(fake, model, tmp_path, workspace_mb=workspace):
            pass
    assert world.builds == 2


def test_waits_sleep_unless_spin_wait_is_asked(fake: Any, model: str, tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path) as backend:
        run_once(backend)
        assert dict(backend.describe().details)['sync'] == 'blocking'
    assert world.cuda.waits == [True]
    with make_backend(fake, model, tmp_path, spin_wait=True) as backend:
        run_once(backend)
        assert dict(backend.describe().details)['sync'] == 'spin'
    assert world.cuda.waits == [True, False]


def test_threads_that_infer_and_end_leave_no_context_pushed(fake: Any, model: str,
                                                            tmp_path: Any) -> None:
    _, world = fake
    with make_backend(fake, model, tmp_path) as backend:
        for _ in range(3):  # as the node's inference thread, started and ended
            worker = threading.Thread(target=run_once, args=(backend,))
            worker.start()
            worker.join()
    assert world.cuda.aborts == [] and world.cuda.unbound_calls == []


def raw_plan(fake: Any, model: str, tmp_path: Any, **options: Any) -> Dict[str, Any]:
    """:return: the fake plan of a build, as trtexec would write it (no cache header)."""
    with make_backend(fake, model, tmp_path, **options):
        pass
    [cached] = plan_files(tmp_path)
    with open(cached, 'rb') as f:
        plan, _ = decode_plan_file(f.read())
    os.remove(cached)
    data: Dict[str, Any] = json.loads(plan[len(b'FAKEPLAN'):].decode())
    return data


def write_raw_plan(plan: Dict[str, Any], tmp_path: Any, name: str) -> str:
    path = os.path.join(str(tmp_path), name)
    with open(path, 'wb') as f:
        f.write(b'FAKEPLAN' + json.dumps(plan).encode())
    return path


@pytest.mark.parametrize('io_format', ['CHW32', 'HWC8', 'DLA_HWC4'])
def test_vectorized_io_formats_are_refused(fake: Any, model: str, tmp_path: Any,
                                           io_format: str) -> None:
    _, world = fake
    plan = raw_plan(fake, model, tmp_path, precision='fp16')
    plan['io']['input'] = ['HALF', io_format]
    backend = make_backend(fake, write_raw_plan(plan, tmp_path, 'vec.engine'), tmp_path)
    with pytest.raises(DlaInferError, match=f"tensor 'input' uses the {io_format} memory "
                                            'format .*binds row-major tensors only'):
        backend.activate()
    assert world.cuda.live == 0


def test_plan_files_report_the_device_they_were_built_for(fake: Any, model: str,
                                                          tmp_path: Any) -> None:
    dla_plan = write_raw_plan(raw_plan(fake, model, tmp_path, dla_core=0), tmp_path, 'dla.plan')
    with make_backend(fake, dla_plan, tmp_path) as backend:  # dla_core -1: the GPU asked
        report = backend.describe()
        run_once(backend)
    assert report.effective == 'DLA (core chosen by TensorRT)'
    assert report.fallback_reason.startswith(f'the engine {dla_plan} was built for the DLA')
    gpu_plan = write_raw_plan(raw_plan(fake, model, tmp_path), tmp_path, 'gpu.plan')
    with make_backend(fake, gpu_plan, tmp_path, dla_core=1) as backend:
        report = backend.describe()
    assert (report.effective, report.fallback_reason) == (
        'GPU', f'the engine {gpu_plan} was built for the GPU')


def test_tactic_sources_reach_the_builder_and_key_the_cache(fake: Any, model: str,
                                                            tmp_path: Any) -> None:
    trt, world = fake
    for sources in (None, (), (), ('CUBLAS_LT', 'JIT_CONVOLUTIONS')):
        with make_backend(fake, model, tmp_path, tactic_sources=sources):
            pass
    lt, jit = (1 << int(getattr(trt.TacticSource, n)) for n in ('CUBLAS_LT', 'JIT_CONVOLUTIONS'))
    assert [e for e in world.events if e[0] == 'tactic_sources'] == [
        ('tactic_sources', 0), ('tactic_sources', lt | jit)]
    assert world.builds == 3
    with pytest.raises(DlaInferError, match=r"tactic sources \['CUDA'\] requested; TensorRT "
                                            r'.* has CUBLAS, CUBLAS_LT, CUDNN'):
        make_backend(fake, model, tmp_path, tactic_sources=('CUDA',)).activate()


def test_each_model_has_its_own_timing_cache(fake: Any, model: str, tmp_path: Any) -> None:
    """A timing cache another model's build wrote is refused by TensorRT 8.5 (Myelin)."""
    other = write_model(os.path.join(str(tmp_path), 'other.onnx'), classes=5)
    for path in (model, other):
        with make_backend(fake, path, tmp_path):
            pass
    assert len(glob.glob(os.path.join(str(tmp_path), 'cache', 'timing.*.cache'))) == 2
