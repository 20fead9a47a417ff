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
``dla_bench`` and the measurement behind it.

On the CPU (ONNX Runtime) with the embedded model: the report, the files it
writes, verification and the exit status. Against the TensorRT fakes built
from the real bindings: the CUDA-event stages, blocking vs spinning waits,
concurrent devices, DLA cores and INT8 calibration.
"""

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any, cast, Dict, Tuple

from fake_cuda import FakeCudaApi
from fake_tensorrt import FakeWorld, make_fake_tensorrt, write_model
import numpy as np
import pytest

from conftest import needs_onnxruntime
from dla_infer_ros._optional import is_available
from dla_infer_ros.backends.tensorrt import dla_core_count
from dla_infer_ros.benchmark import (bench_contract, BenchOptions, default_devices, Device,
                                     DeviceRun, measure_concurrently, run_benchmark, statistics,
                                     verify)
from dla_infer_ros.cli import dla_bench
from dla_infer_ros.errors import DlaInferError

QUICK = ['--duration', '0.2', '--iterations', '5', '--warmup', '0.05', '--threads', '1']


def bench(capsys: Any, *argv: str) -> Tuple[int, str, str]:
    status = dla_bench.run(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@needs_onnxruntime
def test_cpu_report_files_and_verification(capsys: Any, tmp_path: Any) -> None:
    files = {k: str(tmp_path / f'report.{k}') for k in ('json', 'csv')}
    status, out, err = bench(capsys, '--device', 'cpu', *QUICK, '--verify', '--json',
                             files['json'], '--csv', files['csv'])
    assert status == 0, err
    assert out.startswith('efficientnet_lite0.onnx: fp32, batch 1; warm-up 0.05 s')
    assert '== cpu: CPU requested -> CPU\n' in out
    assert 'vs ONNX Runtime FP32 on 2 image(s): top-1 agreement 100.0 %, top-5 overlap ' \
           '1.00, max |score difference| 0.0000' in out
    with open(files['json'], encoding='utf-8') as f:
        report = json.load(f)
    [entry] = report['devices']
    solo = entry['solo']
    assert solo['queries'] >= 5 and solo['seconds'] >= 0.2
    assert solo['qps'] == pytest.approx(solo['queries'] / solo['seconds'])
    assert len(solo['samples_ms']) == solo['queries']
    assert len(solo['avg_runs_ms']) == solo['queries'] // 10
    stats = solo['latency_ms']
    assert stats['min'] <= stats['median'] <= stats['p90'] <= stats['p99'] <= stats['max']
    assert solo['stages_ms'] == {}  # ONNX Runtime times no device stages
    assert solo['events_ms'] == {} and solo['events_share_of_latency'] is None
    assert 'CUDA events' not in out
    assert entry['verify']['top1_agreement'] == 100.0
    assert [p['image'] for p in entry['verify']['per_image']] == ['chelsea_cat.jpg',
                                                                  'coffee_cup.jpg']
    with open(files['csv'], encoding='utf-8') as f:
        [row] = list(csv.DictReader(f))
    assert (row['device'], row['mode'], row['effective']) == ('cpu', 'solo', 'CPU')
    assert float(row['qps']) == pytest.approx(solo['qps'])
    assert float(row['top1_agreement']) == 100.0


@needs_onnxruntime
@pytest.mark.skipif(not is_available('matplotlib'), reason='matplotlib is not installed '
                    '(tools/bootstrap.sh installs it)')
def test_plot_shows_every_device(capsys: Any, tmp_path: Any) -> None:
    cv2 = pytest.importorskip('cv2')
    path = str(tmp_path / 'bench.png')
    status, _, err = bench(capsys, '--device', 'cpu,gpu', *QUICK, '--concurrent', '--plot',
                           path)
    assert status == 0, err
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (450, 1200, 3)
    # drawn, not blank: the curves and bars use matplotlib's first colours
    blue = np.all(np.abs(image.astype(int) - (180, 119, 31)) < 30, axis=2).sum()
    orange = np.all(np.abs(image.astype(int) - (14, 127, 255)) < 30, axis=2).sum()
    assert blue > 500 and orange > 500


def test_plot_without_matplotlib_says_how_to_get_it(capsys: Any, tmp_path: Any,
                                                    monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    status, _, err = bench(capsys, '--device', 'cpu', '--plot', str(tmp_path / 'x.png'))
    assert status == 2
    assert "dla_bench --plot needs the Python module 'matplotlib'" in err
    assert 'pip install matplotlib' in err


@needs_onnxruntime
def test_verify_at_a_batch_size_of_the_model(capsys: Any, tiny_model_factory: Any) -> None:
    model = tiny_model_factory(batch=4)
    status, out, err = bench(capsys, model, '--device', 'cpu', '--batch', '4', *QUICK,
                             '--verify')
    assert status == 0, err
    assert 'queries/s = ' in out and '(batch 4)' in out
    assert 'top-1 agreement 100.0 %' in out


@needs_onnxruntime
def test_a_dla_core_on_this_host_says_what_ran_instead(capsys: Any) -> None:
    status, out, err = bench(capsys, '--device', 'dla0', '--backend', 'onnxruntime', *QUICK)
    assert status == 0, err
    assert '== dla0: DLA core 0 requested -> CPU (onnxruntime here has no TensorRT ' \
           'execution provider, so no DLA)' in out
    assert 'dla0    DLA core 0  CPU ' in out


@needs_onnxruntime
def test_min_agreement_sets_the_exit_status(capsys: Any) -> None:
    status, _, err = bench(capsys, '--device', 'cpu', *QUICK, '--verify', '--min-agreement',
                           '100')
    assert status == 0, err
    status, _, err = bench(capsys, '--device', 'cpu', *QUICK, '--verify', '--min-agreement',
                           '100.5')
    assert status == 1 and 'top-1 agreement below 100.5 % on cpu' in err


@pytest.mark.parametrize('argv, message', [
    (['--device', 'tpu'], "device 'tpu' requested; use gpu, dla0, dla1, ... or cpu"),
    (['--device', 'cpu', '--min-agreement', '90'], '--min-agreement needs --verify'),
    (['--device', 'cpu', '--iterations', '0'], 'iterations=0'),
    (['--device', 'cpu', '--duration', '-1'], 'duration_s=-1.0 requested'),
    (['/nonexistent/model.onnx', '--device', 'cpu'], 'no such file'),
    (['--device', 'cpu', '--verify', '/nonexistent/images'], 'no such file or folder'),
    (['--device', 'cpu', '--image', '/nonexistent/frame.png'], 'no such file or folder'),
])
def test_usage_errors_exit_2_with_the_reason(capsys: Any, argv: Any, message: str) -> None:
    status, _, err = bench(capsys, *argv)
    assert status == 2
    assert message in err


def test_statistics() -> None:
    stats = statistics([float(v) for v in range(1, 101)])
    assert (stats['min'], stats['max'], stats['median']) == (1.0, 100.0, 50.5)
    assert stats['p90'] == pytest.approx(90.1) and stats['p99'] == pytest.approx(99.01)
    assert statistics([]) == {}


class _Scores:
    """Answers like a DeviceRun: fixed scores, or an error on the images named."""

    def __init__(self, scores: np.ndarray, failing: Tuple[str, ...] = ()) -> None:
        self._scores, self._failing = scores, failing

    def scores(self, image: np.ndarray) -> np.ndarray:
        if str(image.flat[0]) in self._failing:
            raise DlaInferError('model output contains NaN or infinite values')
        return self._scores


def test_an_image_a_device_cannot_answer_counts_against_it(capsys: Any) -> None:
    reference = _Scores(np.array([0.1, 0.7, 0.2]))
    run = _Scores(np.array([0.15, 0.6, 0.25]), failing=('2',))
    images = [(f'/photos/{n}.jpg', np.full((2, 2, 3), n, np.uint8)) for n in (1, 2)]
    check = verify(cast(DeviceRun, run), cast(DeviceRun, reference), images)
    assert check['top1_agreement'] == 50.0 and check['top5_overlap'] == pytest.approx(0.3)
    assert check['max_abs_score_diff'] == pytest.approx(0.1)  # from the answered image only
    assert check['failed'] == ['model output contains NaN or infinite values']
    assert [e['error'] is None for e in check['per_image']] == [True, False]
    all_failed = verify(cast(DeviceRun, _Scores(reference._scores, ('1', '2'))),
                        cast(DeviceRun, reference), images)
    assert all_failed['top1_agreement'] == 0.0 and all_failed['max_abs_score_diff'] is None
    entry = {'device': 'gpu', 'requested': 'GPU', 'effective': 'GPU', 'fallback_reason': '',
             'backend': 'tensorrt', 'placement': 'layers: 3 on GPU', 'engine_source': 'built',
             'load_s': 1.0, 'fallen_back': [], 'verify': all_failed}
    dla_bench.print_device(entry, batch=1)
    out = capsys.readouterr().out
    assert 'top-1 agreement 0.0 %, top-5 overlap 0.00, max |score difference| -\n' in out
    assert '2 of 2 image(s) not answered: model output contains NaN or infinite values' in out
    with pytest.raises(DlaInferError, match='NaN'):  # a reference that cannot answer is an error
        verify(cast(DeviceRun, reference), cast(DeviceRun, run), images)


def test_devices_parse() -> None:
    assert [Device.parse(t).label for t in ('gpu', 'DLA1', ' cpu')] == [
        'GPU', 'DLA core 1', 'CPU']
    with pytest.raises(DlaInferError):
        Device.parse('dla')


def test_default_devices() -> None:
    assert default_devices('onnxruntime') == [Device('cpu')]
    for cores in (0, 2):
        world = FakeWorld(cuda=FakeCudaApi(), num_dla_cores=cores)
        assert dla_core_count(make_fake_tensorrt('8.5.3.1', world)) == cores


def test_models_without_a_contract_get_a_generic_one(tmp_path: Any) -> None:
    onnx = pytest.importorskip('onnx')
    from onnx import helper, TensorProto
    graph = helper.make_graph(
        [helper.make_node('Flatten', ['data'], ['prob'])], 'g',
        [helper.make_tensor_value_info('data', TensorProto.FLOAT, [1, 3, 32, 16])],
        [helper.make_tensor_value_info('prob', TensorProto.FLOAT, [1, 1536])])
    path = str(tmp_path / 'zoo.onnx')
    onnx.save(helper.make_model(graph), path)
    contract, note = bench_contract(path)
    assert 'no contract' in note
    assert (contract.input_contract.name, contract.input_contract.height,
            contract.input_contract.width, contract.output_name) == ('data', 32, 16, 'prob')


# -- TensorRT, against the fakes ---------------------------------------------------------

@pytest.fixture
def fake_trt(tmp_path: Any) -> Tuple[Any, FakeWorld, str]:
    """:return: the fake tensorrt module, its world, and a model with a contract."""
    world = FakeWorld(cuda=FakeCudaApi())
    trt = make_fake_tensorrt('8.5.3.1', world)
    model = write_model(str(tmp_path / 'tiny.onnx'), size=8)
    contract = {'format': 'dla_infer_ros/model-contract-1', 'name': 'tiny',
                'model': 'tiny.onnx', 'input': {'name': 'input', 'height': 8, 'width': 8,
                                                'resize': 'stretch'},
                'output': {'name': 'logits', 'kind': 'logits'}}
    with open(str(tmp_path / 'tiny.json'), 'w', encoding='utf-8') as f:
        json.dump(contract, f)
    return trt, world, model


def fake_kwargs(trt: Any, world: FakeWorld) -> Dict[str, Any]:
    return {'tensorrt_module': trt, 'cuda_factory': lambda binding, device: world.cuda,
            'log': logging.getLogger('test.bench')}


def quick(tmp_path: Any, **kwargs: Any) -> BenchOptions:
    settings: Dict[str, Any] = {'backend': 'tensorrt', 'warmup_s': 0.0, 'duration_s': 0.05,
                                'iterations': 12, 'avg_runs': 4,
                                'engine_cache_dir': str(tmp_path / 'cache')}
    settings.update(kwargs)
    return BenchOptions(**settings)


def test_tensorrt_devices_alone_and_at_once(capsys: Any, fake_trt: Any, tmp_path: Any) -> None:
    trt, world, model = fake_trt
    devices = [Device('gpu'), Device('dla0'), Device('dla1')]
    report = run_benchmark(model, devices, quick(tmp_path), concurrent=True,
                           backend_kwargs=fake_kwargs(trt, world))
    entries = {e['device']: e for e in report['devices']}
    assert [(e['requested'], e['effective']) for e in entries.values()] == [
        ('GPU', 'GPU'), ('DLA core 0', 'DLA core 0'), ('DLA core 1', 'DLA core 1')]
    assert world.builds == 2  # the GPU engine and one DLA engine both cores load
    assert [e['engine_source'] for e in entries.values()] == ['built', 'built', 'cache']
    for entry in entries.values():
        for mode in ('solo', 'concurrent'):
            run = entry[mode]
            assert run['queries'] >= (12 if mode == 'solo' else 1)
            assert set(run['stages_ms']) == {'h2d', 'compute', 'd2h', 'enqueue'}
        # alone, the fake CUDA layer's events are 0.5 ms apart (together, the devices'
        # records interleave on its one counter); enqueue is measured on the CPU
        assert entry['solo']['stages_ms']['h2d']['median'] == 0.5
        assert entry['solo']['stages_ms']['compute']['median'] == 0.5
        # the events' span is the three device stages of each query, set against its latency
        assert entry['solo']['events_ms']['median'] == 1.5
        assert entry['solo']['events_share_of_latency'] == pytest.approx(
            1.5 / entry['solo']['latency_ms']['median'])
        assert len(entry['solo']['avg_runs_ms']) == entry['solo']['queries'] // 4
    together = report['concurrent']
    assert together['aggregate_qps'] == pytest.approx(
        sum(e['concurrent']['qps'] for e in entries.values()))
    assert together['ratio'] == pytest.approx(together['aggregate_qps']
                                              / together['sum_solo_qps'])
    assert world.cuda.live == 0  # every device freed
    dla_bench.print_device(entries['gpu'], batch=1)
    share = 100 * entries['gpu']['solo']['events_share_of_latency']
    assert (f'CUDA events h2d + compute + d2h: median 1.500 ms = {share:.1f} % of the latency '
            'median') in capsys.readouterr().out


def test_preprocess_times_the_whole_data_path_per_query(capsys: Any, fake_trt: Any,
                                                        tmp_path: Any) -> None:
    trt, world, model = fake_trt
    frame = tmp_path / 'frame.png'
    cv2 = pytest.importorskip('cv2')
    assert cv2.imwrite(str(frame), np.full((48, 64, 3), 90, np.uint8))
    report = run_benchmark(model, [Device('gpu')], quick(tmp_path, preprocess='auto'),
                           backend_kwargs=fake_kwargs(trt, world), image_path=str(frame))
    [entry] = report['devices']
    assert report['image'] == '64x48'
    # no NVRTC over the fake CUDA layer: auto says why the CPU preprocesses
    assert entry['preprocessing'].startswith('CPU (not on the GPU: compiling CUDA kernels')
    stages = entry['solo']['stages_ms']
    assert {'preprocess', 'inference', 'postprocess', 'h2d', 'compute', 'd2h'} <= set(stages)
    dla_bench.print_device(entry, batch=1)
    out = capsys.readouterr().out
    assert f'each query: preprocessing on {entry["preprocessing"]}, inference, top-5' in out
    assert 'preprocess ms:' in out
    plain = run_benchmark(model, [Device('gpu')], quick(tmp_path),
                          backend_kwargs=fake_kwargs(trt, world))
    assert 'preprocess' not in plain['devices'][0]['solo']['stages_ms']
    with pytest.raises(DlaInferError, match="preprocess='tpu' requested"):
        quick(tmp_path, preprocess='tpu')


@pytest.mark.parametrize('spin', [False, True])
def test_spin_wait_reaches_the_backend(fake_trt: Any, tmp_path: Any, spin: bool) -> None:
    trt, world, model = fake_trt
    run_benchmark(model, [Device('gpu')], quick(tmp_path, spin_wait=spin),
                  backend_kwargs=fake_kwargs(trt, world))
    assert world.cuda.waits and set(world.cuda.waits) == {not spin}


def test_int8_with_calibration_images(fake_trt: Any, tmp_path: Any) -> None:
    trt, world, model = fake_trt
    cv2 = pytest.importorskip('cv2')
    folder = tmp_path / 'calibration'
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f'{i}.png'), np.full((8, 8, 3), 40 * i, np.uint8))
    report = run_benchmark(model, [Device('dla0')],
                           quick(tmp_path, precision='int8', calibration_dir=str(folder)),
                           backend_kwargs=fake_kwargs(trt, world))
    assert len(world.calibration_batches) == 3
    assert report['devices'][0]['effective'] == 'DLA core 0'


def test_a_failing_device_is_an_error_not_a_hang(fake_trt: Any, tmp_path: Any) -> None:
    trt, world, model = fake_trt
    world.refuse.add('execute_async_v3')
    with pytest.raises(DlaInferError, match='execute_async_v3 failed'):
        run_benchmark(model, [Device('gpu'), Device('dla0')], quick(tmp_path),
                      concurrent=True, backend_kwargs=fake_kwargs(trt, world))
    assert world.cuda.live == 0


def test_a_device_failing_during_a_concurrent_run_stops_the_others(fake_trt: Any,
                                                                   tmp_path: Any) -> None:
    trt, world, model = fake_trt
    contract, _ = bench_contract(model)
    options = quick(tmp_path, duration_s=30.0)
    runs = [DeviceRun(Device(name), contract, options, fake_kwargs(trt, world))
            for name in ('gpu', 'dla0')]
    try:
        for run in runs:
            run.prepare(np.zeros((8, 8, 3), np.uint8))
        calls = [0]

        def fail_later(addresses: Any, shapes: Any, stream: int) -> bool:
            calls[0] += 1
            return calls[0] < 50  # both devices run a while, then one query fails
        world.execute_hook = fail_later
        with pytest.raises(DlaInferError, match='concurrent run failed: .*execute_async_v3'):
            measure_concurrently(runs)  # well before the 30 s window
    finally:
        for run in runs:
            run.close()


@needs_onnxruntime
@pytest.mark.parametrize('number', [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_a_run_with_one_line(number: int) -> None:
    """Also with SIGINT ignored, as a shell starts a background job."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.Popen(
        [sys.executable, '-m', 'dla_infer_ros.cli.dla_bench', '--device', 'cpu',
         '--duration', '60', '--threads', '1'], cwd=root, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    time.sleep(4.0)  # the model is loaded and being measured
    process.send_signal(number)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + number, (out, err)
    assert err.strip().splitlines()[-1] == f'dla_bench: stopped by {signal.Signals(number).name}'
    assert 'Traceback' not in err, err
