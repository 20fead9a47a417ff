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
Soak test: an image source at 100 Hz and three classifier nodes for ten minutes.

Real rclpy over Fast DDS on this host, every process with loopback discovery
(``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``), one random domain and
``config/fastdds_large_images.xml`` (``--no-profile``: Fast DDS defaults). By
default each node is a process of its own (``PYTHONPATH`` = this tree): the
package's image source publishing the photos of ``test/data`` at ``--rate`` and
``--nodes`` classifier nodes (``classifier_a``, ``_b``, ...) with their default
parameters on the same ``image`` topic. ``--in-process`` runs ``multi_accel
--images test/data --rate R --duration 0`` instead: the GPU / DLA0 / DLA1 trio
of ``config/multi_accel.yaml`` and the source in one process.

Once every classifier has published a frame (t = 0), every ``--sample`` seconds
until ``--duration`` (the warm-up included), this process reads, per process,
VmRSS and Threads (``/proc/<pid>/status``), open fds (``/proc/<pid>/fd``) and CPU
time (``/proc/<pid>/stat``), and per classifier its newest ``/diagnostics``
counters; backlog = received - (published + dropped + rejected + failed) are the
frames inside the node (its queue and the one being inferred). The first
``--warmup`` seconds are left out of the checks:

* RSS growth after warm-up < 2 %: median of the last few samples against the
  median of the first few after warm-up (the least-squares slope is reported);
* threads and open fds not growing: the median of the last few samples not above the
  median of the first few after warm-up (a thread that lives for milliseconds, such as
  the DNS lookups ONNX Runtime 1.30's telemetry starts every few seconds, is no leak;
  the maximum is reported);
* backlog within queue_size + batch_size + 2 and not rising; each classifier
  keeps publishing frames and diagnostics;
* on SIGINT every process exits 0 within ``--stop-timeout``, prints no traceback
  and logs its one-line stop report (``multi_accel``: its report table).

Usage: ``python tools/soak_node.py [--duration S] [--warmup S] [--rate HZ]
[--sample S] [--in-process] [--nodes N] [--json FILE] [--log-dir DIR]``.
Exit status 0 when every check passes, 1 otherwise.
"""

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench_node import BackgroundNode, Child, child_env, process_cpu_seconds  # siblings
from fuzz_node import FATAL  # what in a node's output means it crashed

from dla_infer_ros.stats import COUNTERS, OUTCOMES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS = os.path.join(ROOT, 'test', 'data')
NODE_MODULE = 'dla_infer_ros.nodes.classifier_node'
SOURCE_MODULE = 'dla_infer_ros.nodes.image_source_node'
MULTI_MODULE = 'dla_infer_ros.cli.multi_accel'
#: Percent of RSS a process may gain between the end of the warm-up and the end.
RSS_GROWTH_LIMIT = 2.0
#: Backlog beyond queue_size + batch_size: a frame counted as received in the subscription
#: callback and not yet queued, and one more for counters read between two updates.
BACKLOG_SLACK = 2
#: What each kind of process logs when it stops cleanly.
STOP_LINES = {
    'classifier': re.compile(r'stopped; frames: .*received.*'),
    'image_source': re.compile(r'stopped; \d+ frames published'),
    'multi_accel': re.compile(r'^image source: \d+ frames published', re.MULTILINE),
}
SOURCE_FRAMES = re.compile(r'stopped; (\d+) frames published|^image source: (\d+) frames '
                           r'published', re.MULTILINE)

Sample = Dict[str, float]


@dataclasses.dataclass
class Options:
    """What a run starts, for how long, and how often it looks."""

    duration_s: float
    warmup_s: float
    rate: float
    sample_s: float
    in_process: bool
    nodes: int
    profile: bool
    startup_timeout_s: float
    stop_timeout_s: float


@dataclasses.dataclass
class Watched:
    """One child process: what it is, its samples and how it stopped."""

    name: str
    kind: str  # 'classifier', 'image_source' or 'multi_accel'
    child: Child
    samples: List[Sample] = dataclasses.field(default_factory=list)
    exit_status: Optional[int] = None
    stop_s: Optional[float] = None  # seconds from SIGINT to exit; None: killed
    output: str = ''


@dataclasses.dataclass
class Classifier:
    """One classifier node: its status name, backlog bound and diagnostics samples."""

    node: str  # fully qualified name
    backlog_bound: int
    samples: List[Sample] = dataclasses.field(default_factory=list)


# -- /proc and /diagnostics ---------------------------------------------------------------


def proc_sample(pid: int) -> Sample:
    """
    Read one process's memory, threads, open files and CPU time.

    :return: ``rss_kib``, ``anon_kib`` and ``shmem_kib`` (its private and its shared
        part: Fast DDS's shared-memory segments), ``threads``, ``fds``, ``cpu_s``
        (user + system, all threads).
    :raises OSError: when the process is gone.
    """
    values: Sample = {}
    with open(f'/proc/{pid}/status', encoding='ascii') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key == 'VmRSS':
                values['rss_kib'] = int(rest.split()[0])
            elif key == 'RssAnon':
                values['anon_kib'] = int(rest.split()[0])
            elif key == 'RssShmem':
                values['shmem_kib'] = int(rest.split()[0])
            elif key == 'Threads':
                values['threads'] = int(rest)
    values['fds'] = len(os.listdir(f'/proc/{pid}/fd'))
    values['cpu_s'] = process_cpu_seconds(pid)
    return values


class DiagnosticsMonitor(BackgroundNode):
    """Keeps the newest ``/diagnostics`` values of every classifier status, in a thread."""

    def __init__(self) -> None:
        """Subscribe to ``/diagnostics`` and spin in a daemon thread."""
        from diagnostic_msgs.msg import DiagnosticArray
        super().__init__(f'soak_monitor_{os.getpid()}')
        self._lock = threading.Lock()
        #: status name -> (monotonic arrival time, values)
        self._latest: Dict[str, Tuple[float, Dict[str, str]]] = {}
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_status, 10)
        self.start()

    def _on_status(self, msg: Any) -> None:
        now = time.monotonic()
        with self._lock:
            for status in msg.status:
                self._latest[status.name] = (now, {kv.key: kv.value for kv in status.values})

    def latest(self, node: str) -> Optional[Tuple[float, Dict[str, str]]]:
        """:return: when the newest status of classifier ``node`` arrived, and its values."""
        with self._lock:
            return self._latest.get(f'{node}: classifier')


def counters_sample(values: Dict[str, str]) -> Sample:
    """:return: the frame counters (0 where one is missing), fps and backlog of one status."""
    sample: Sample = {name: int(values.get(f'frames_{name}', 0)) for name in COUNTERS}
    sample['fps'] = float(values.get('fps', 'nan'))
    sample['backlog'] = sample['received'] - sum(sample[name] for name in OUTCOMES)
    return sample


# -- the topology -------------------------------------------------------------------------


def separate_topology(options: Options, env: Dict[str, str],
                      folder: str) -> Tuple[List[Watched], List[Classifier]]:
    """:return: the image source and ``options.nodes`` classifier processes, started."""
    from dla_infer_ros.nodes.classifier_settings import classifier_parameters
    declared = classifier_parameters()
    bound = declared['queue_size'].default + declared['batch_size'].default + BACKLOG_SLACK
    watched: List[Watched] = []
    classifiers: List[Classifier] = []
    try:
        for letter in string.ascii_lowercase[:options.nodes]:
            name = f'classifier_{letter}'
            command = [sys.executable, '-m', NODE_MODULE, '--ros-args', '-r', f'__node:={name}']
            watched.append(Watched(name, 'classifier', Child(name, command, env, ROOT, folder)))
            classifiers.append(Classifier(f'/{name}', bound))
        command = [sys.executable, '-m', SOURCE_MODULE, '--ros-args', '-p',
                   f'source:={PHOTOS}', '-p', f'rate:={float(options.rate)!r}']
        watched.insert(0, Watched('image_source', 'image_source',
                                  Child('image_source', command, env, ROOT, folder)))
    except BaseException:
        stop_all(watched, 5.0)
        raise
    return watched, classifiers


def in_process_topology(options: Options, env: Dict[str, str],
                        folder: str) -> Tuple[List[Watched], List[Classifier]]:
    """:return: one ``multi_accel`` process (source and classifiers), started."""
    from dla_infer_ros.topology import build_topology, default_config_path, TopologyOptions
    specs = build_topology(default_config_path('multi_accel.yaml'),
                           TopologyOptions(start_image_source=True))
    classifiers = []
    for spec in specs:
        if spec.executable == 'classifier':
            bound = int(spec.parameters.get('queue_size', 1)) + int(  # type: ignore[arg-type]
                spec.parameters.get('batch_size', 1)) + BACKLOG_SLACK  # type: ignore[arg-type]
            namespace = spec.namespace.rstrip('/')
            classifiers.append(Classifier(f'{namespace}/{spec.name}', bound))
    command = [sys.executable, '-m', MULTI_MODULE, '--images', PHOTOS, '--rate',
               str(options.rate), '--duration', '0']
    child = Child('multi_accel', command, env, ROOT, folder)
    return [Watched('multi_accel', 'multi_accel', child)], classifiers


def stop_all(watched: Sequence[Watched], timeout_s: float) -> None:
    """SIGINT every process at once; SIGKILL those still running after ``timeout_s``."""
    began = time.monotonic()
    for process in watched:
        if process.child.exited() is None:
            process.child.process.send_signal(signal.SIGINT)
    for process in watched:
        left = max(0.0, began + timeout_s - time.monotonic())
        try:
            process.child.process.wait(timeout=left)
            if process.stop_s is None:
                process.stop_s = time.monotonic() - began
        except subprocess.TimeoutExpired:  # it did not stop on SIGINT
            process.child.process.kill()
            process.child.process.wait()
        process.exit_status = process.child.exited()
        process.output = process.child.output()


# -- the run ------------------------------------------------------------------------------


class Soak:
    """The processes, the diagnostics monitor and everything sampled."""

    def __init__(self, options: Options, folder: str) -> None:
        """Start the topology and the monitor in a random domain of their own."""
        self.options = options
        env = child_env(ROOT, random.randint(1, 101), options.profile)
        for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_LOCALHOST_ONLY',
                    'FASTDDS_DEFAULT_PROFILES_FILE'):
            if key in env:
                os.environ[key] = env[key]
            else:
                os.environ.pop(key, None)
        self.domain = int(env['ROS_DOMAIN_ID'])
        self.began = time.monotonic()
        self.stopped = self.began
        start = in_process_topology if options.in_process else separate_topology
        self.watched, self.classifiers = start(options, env, folder)
        try:
            self.monitor = DiagnosticsMonitor()
        except BaseException:
            stop_all(self.watched, 5.0)
            raise
        self.t0 = self.began
        self.ended_early = ''

    def check_alive(self) -> str:
        """:return: '' while every process runs, else which one exited and how."""
        for process in self.watched:
            status = process.child.exited()
            if status is not None:
                return (f'{process.name} exited with status {status} after '
                        f'{time.monotonic() - self.t0:.1f} s; its output ends:\n'
                        f'{process.child.tail()}')
        return ''

    def wait_ready(self) -> float:
        """
        Wait until every classifier has published a frame (its diagnostics say so).

        :return: the start-up seconds.
        :raises RuntimeError: when a process exits first or the time runs out.
        """
        deadline = self.began + self.options.startup_timeout_s
        while True:
            latest = [self.monitor.latest(c.node) for c in self.classifiers]
            if all(s is not None and int(s[1].get('frames_published', 0)) > 0 for s in latest):
                self.t0 = time.monotonic()
                return self.t0 - self.began
            died = self.check_alive()
            if died:
                raise RuntimeError(f'during start-up: {died}')
            if time.monotonic() > deadline:
                waiting = [c.node for c, s in zip(self.classifiers, latest)
                           if s is None or int(s[1].get('frames_published', 0)) == 0]
                raise RuntimeError(f'no frame published by {", ".join(waiting)} within '
                                   f'{self.options.startup_timeout_s:.0f} s')
            time.sleep(0.1)

    def sample(self) -> None:
        """Take one sample of every process and every classifier's newest diagnostics."""
        now = time.monotonic()
        t = now - self.t0
        for process in self.watched:
            try:
                values = proc_sample(process.child.pid)
            except OSError:
                continue  # gone: check_alive says so
            values['t'] = t
            process.samples.append(values)
        for classifier in self.classifiers:
            latest = self.monitor.latest(classifier.node)
            if latest is not None:
                values = counters_sample(latest[1])
                values.update(t=t, age_s=now - latest[0])
                classifier.samples.append(values)

    def run(self) -> None:
        """Sample every period until the duration is over or a process exits."""
        ticks = int(self.options.duration_s / self.options.sample_s + 1e-9)
        for tick in range(ticks + 1):
            delay = self.t0 + tick * self.options.sample_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.ended_early = self.check_alive()
            if self.ended_early:
                return
            self.sample()
            if tick % max(1, int(30 / self.options.sample_s)) == 0 and tick:
                progress(f'{tick * self.options.sample_s:.0f} s of '
                         f'{self.options.duration_s:.0f} s')

    def close(self) -> None:
        """Stop every process and the monitor."""
        self.stopped = time.monotonic()
        stop_all(self.watched, self.options.stop_timeout_s)
        self.monitor.close()


def progress(text: str) -> None:
    """Say on stderr how far the run is."""
    print(f'soak_node: {text}', file=sys.stderr, flush=True)


def soak(options: Options, log_dir: Optional[str]) -> Dict[str, Any]:
    """
    Start, warm up, sample, stop; return everything measured.

    :raises RuntimeError: when the topology does not start.
    """
    with tempfile.TemporaryDirectory(prefix='soak_node_') as folder:
        run = Soak(options, folder)
        try:
            progress(f'domain {run.domain}; waiting for every classifier to publish')
            startup_s = run.wait_ready()
            progress(f'started in {startup_s:.1f} s; sampling every {options.sample_s:g} s '
                     f'for {options.duration_s:g} s (warm-up {options.warmup_s:g} s)')
            run.run()
        finally:
            run.close()
            if log_dir:
                os.makedirs(log_dir, exist_ok=True)
                for process in run.watched:
                    shutil.copy(process.child.log_path, log_dir)
        return report_of(run, startup_s)


# -- the numbers --------------------------------------------------------------------------


def slope_per_minute(samples: Sequence[Sample], key: str) -> float:
    """:return: the least-squares slope of ``key`` over ``t``, per minute (0 if undefined)."""
    if len(samples) < 2:
        return 0.0
    ts = [s['t'] / 60.0 for s in samples]
    ys = [s[key] for s in samples]
    mean_t, mean_y = statistics.fmean(ts), statistics.fmean(ys)
    spread = sum((t - mean_t) ** 2 for t in ts)
    return sum((t - mean_t) * (y - mean_y) for t, y in zip(ts, ys)) / spread if spread else 0.0


def after_warmup(samples: Sequence[Sample], warmup_s: float) -> List[Sample]:
    """:return: the samples from the end of the warm-up on (the first one is its end)."""
    return [s for s in samples if s['t'] >= warmup_s - 1e-6]


def edge_medians(samples: Sequence[Sample], key: str) -> Tuple[float, float]:
    """:return: the median of ``key`` over the first and over the last few samples."""
    window = max(1, min(5, len(samples) // 3))
    return (statistics.median(s[key] for s in samples[:window]),
            statistics.median(s[key] for s in samples[-window:]))


def process_summary(process: Watched, warmup_s: float) -> Dict[str, Any]:
    """:return: RSS, threads, fds and CPU of one process after the warm-up."""
    post = after_warmup(process.samples, warmup_s)
    if len(post) < 2:
        return {'samples_after_warmup': len(post)}
    rss_start, rss_end = edge_medians(post, 'rss_kib')
    threads = edge_medians(post, 'threads')
    fds = edge_medians(post, 'fds')
    seconds = post[-1]['t'] - post[0]['t']
    return {
        'samples_after_warmup': len(post),
        'rss_first_mib': process.samples[0]['rss_kib'] / 1024,
        'rss_warm_mib': rss_start / 1024, 'rss_end_mib': rss_end / 1024,
        'rss_growth_pct': 100.0 * (rss_end - rss_start) / rss_start,
        'rss_slope_mib_per_min': slope_per_minute(post, 'rss_kib') / 1024,
        'rss_max_mib': max(s['rss_kib'] for s in post) / 1024,
        'anon_slope_mib_per_min': slope_per_minute(post, 'anon_kib') / 1024,
        'shmem_slope_mib_per_min': slope_per_minute(post, 'shmem_kib') / 1024,
        'threads_warm': threads[0], 'threads_end': threads[1],
        'threads_max': int(max(s['threads'] for s in post)),
        'fds_warm': fds[0], 'fds_end': fds[1], 'fds_max': int(max(s['fds'] for s in post)),
        'cpu_pct': 100.0 * (post[-1]['cpu_s'] - post[0]['cpu_s']) / seconds if seconds else 0.0,
    }


def classifier_summary(classifier: Classifier, warmup_s: float) -> Dict[str, Any]:
    """:return: fps, counters, drops and backlog of one classifier after the warm-up."""
    post = after_warmup(classifier.samples, warmup_s)
    if len(post) < 2:
        return {'samples_after_warmup': len(post)}
    first, last = post[0], post[-1]
    seconds = last['t'] - first['t']
    window = {name: int(last[name] - first[name]) for name in COUNTERS}
    backlog_first, backlog_last = edge_medians(post, 'backlog')
    return {
        'samples_after_warmup': len(post),
        'fps_published': window['published'] / seconds if seconds else 0.0,
        'fps_received': window['received'] / seconds if seconds else 0.0,
        'fps_diagnostics_mean': statistics.fmean(s['fps'] for s in post),
        'window': window, 'total': {name: int(last[name]) for name in COUNTERS},
        'drop_pct': 100.0 * window['dropped'] / window['received'] if window['received'] else 0.0,
        'backlog_min': int(min(s['backlog'] for s in post)),
        'backlog_max': int(max(s['backlog'] for s in post)),
        'backlog_first_median': backlog_first, 'backlog_last_median': backlog_last,
        'backlog_slope_per_min': slope_per_minute(post, 'backlog'),
        'backlog_bound': classifier.backlog_bound,
        'status_age_end_s': last['age_s'],
    }


def stop_summary(process: Watched) -> Dict[str, Any]:
    """:return: how the process stopped: status, seconds, fatal output, its stop line."""
    fatal = FATAL.search(process.output)
    line = STOP_LINES[process.kind].search(process.output)
    frames = SOURCE_FRAMES.search(process.output)
    return {
        'exit_status': process.exit_status, 'stop_s': process.stop_s,
        'fatal_output': process.output[max(0, fatal.start() - 200):fatal.start() + 3000]
        if fatal else '',
        'stop_line': line.group(0).strip() if line else '',
        'source_frames': int(frames.group(1) or frames.group(2)) if frames else None,
        'stopped_serving': 'STOPPED SERVING' in process.output,
    }


def report_of(run: Soak, startup_s: float) -> Dict[str, Any]:
    """:return: the options, the samples, the summaries, as JSON-ready values."""
    options = run.options
    processes = []
    for process in run.watched:
        processes.append({'name': process.name, 'kind': process.kind, 'pid': process.child.pid,
                          'samples': process.samples,
                          **process_summary(process, options.warmup_s),
                          **stop_summary(process)})
    classifiers = [{'node': c.node, 'samples': c.samples,
                    **classifier_summary(c, options.warmup_s)} for c in run.classifiers]
    last_t = max((s['t'] for p in run.watched for s in p.samples), default=0.0)
    return {'options': dataclasses.asdict(options), 'domain': run.domain,
            'startup_s': startup_s, 'sampled_s': last_t, 'ended_early': run.ended_early,
            'uptime_s': run.stopped - run.began, 'processes': processes,
            'classifiers': classifiers}


# -- the verdict --------------------------------------------------------------------------


Check = Tuple[str, bool, str]


def process_checks(process: Dict[str, Any]) -> List[Check]:
    """:return: memory, threads, fds and clean-stop checks of one process."""
    name = process['name']
    if 'rss_growth_pct' not in process:
        return [(f'{name}: sampled after the warm-up', False,
                 f'{process["samples_after_warmup"]} samples')]
    fatal = process['fatal_output'].strip().splitlines()
    return [
        (f'{name}: RSS growth after warm-up < {RSS_GROWTH_LIMIT:g} %',
         process['rss_growth_pct'] < RSS_GROWTH_LIMIT,
         f'{process["rss_warm_mib"]:.1f} -> {process["rss_end_mib"]:.1f} MiB, '
         f'{process["rss_growth_pct"]:+.2f} %, slope {process["rss_slope_mib_per_min"]:+.3f} '
         'MiB/min'),
        (f'{name}: threads not growing', process['threads_end'] <= process['threads_warm'],
         f'{process["threads_warm"]:g} after warm-up, {process["threads_end"]:g} at the end '
         f'(medians), max {process["threads_max"]}'),
        (f'{name}: open fds not growing', process['fds_end'] <= process['fds_warm'],
         f'{process["fds_warm"]:g} after warm-up, {process["fds_end"]:g} at the end '
         f'(medians), max {process["fds_max"]}'),
        (f'{name}: exit status 0 on SIGINT', process['exit_status'] == 0 and
         process['stop_s'] is not None, f'status {process["exit_status"]}'
         + (f' after {process["stop_s"]:.1f} s' if process['stop_s'] is not None
            else ', killed')),
        (f'{name}: no traceback or fatal error in its output', not fatal,
         fatal[0] if fatal else ''),
        (f'{name}: stop report logged', bool(process['stop_line'])
         and not process['stopped_serving'], process['stop_line'] or 'missing'),
    ]


def classifier_checks(classifier: Dict[str, Any], options: Options) -> List[Check]:
    """:return: the backlog and keeps-serving checks of one classifier."""
    node = classifier['node']
    if 'backlog_max' not in classifier:
        return [(f'{node}: diagnostics sampled after the warm-up', False,
                 f'{classifier["samples_after_warmup"]} samples')]
    bound = classifier['backlog_bound']
    fresh = 2.0 * options.sample_s + 3.0
    return [
        (f'{node}: backlog bounded (0..{bound}) and not rising',
         0 <= classifier['backlog_min'] and classifier['backlog_max'] <= bound
         and classifier['backlog_last_median'] <= classifier['backlog_first_median'] + 1,
         f'min {classifier["backlog_min"]}, max {classifier["backlog_max"]}, median first '
         f'{classifier["backlog_first_median"]:g} last {classifier["backlog_last_median"]:g}'),
        (f'{node}: kept publishing (frames and diagnostics)',
         classifier['window']['published'] > 0 and classifier['status_age_end_s'] < fresh,
         f'{classifier["window"]["published"]} frames after warm-up, last status '
         f'{classifier["status_age_end_s"]:.1f} s old'),
    ]


def evaluate(report: Dict[str, Any], options: Options) -> List[Check]:
    """:return: (check, passed, numbers) for every acceptance check."""
    checks: List[Check] = [
        ('ran the whole duration', not report['ended_early'],
         report['ended_early'].splitlines()[0] if report['ended_early']
         else f'{report["sampled_s"]:.0f} s sampled')]
    for process in report['processes']:
        checks += process_checks(process)
    for classifier in report['classifiers']:
        checks += classifier_checks(classifier, options)
    return checks


# -- the report ---------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """:return: the rows under their headers, first column left, the others right aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = []
    for line in [list(headers), ['-' * w for w in widths], *rows]:
        lines.append('  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths))))
    return '\n'.join(lines)


def process_rows(report: Dict[str, Any]) -> List[List[str]]:
    """:return: one row per process: RSS, growth, slope, threads, fds, CPU, exit."""
    rows = []
    for p in report['processes']:
        if 'rss_growth_pct' not in p:
            rows.append([p['name'], str(p['pid'])] + ['-'] * 10)
            continue
        rows.append([
            p['name'], str(p['pid']), f'{p["rss_first_mib"]:.1f}', f'{p["rss_warm_mib"]:.1f}',
            f'{p["rss_end_mib"]:.1f}', f'{p["rss_growth_pct"]:+.2f}',
            f'{p["rss_slope_mib_per_min"]:+.3f}', f'{p["anon_slope_mib_per_min"]:+.3f}',
            f'{p["shmem_slope_mib_per_min"]:+.3f}',
            f'{p["threads_warm"]:g}/{p["threads_max"]}/{p["threads_end"]:g}',
            f'{p["fds_warm"]:g}/{p["fds_max"]}/{p["fds_end"]:g}', f'{p["cpu_pct"]:.0f}'])
    return rows


def classifier_rows(report: Dict[str, Any]) -> List[List[str]]:
    """:return: one row per classifier: fps, counters after warm-up, drops, backlog."""
    rows = []
    for c in report['classifiers']:
        if 'window' not in c:
            rows.append([c['node']] + ['-'] * (len(classifier_headers()) - 1))
            continue
        counts = []
        for name in COUNTERS:
            counts.append(str(c['window'][name]))
            if name == 'dropped':
                counts.append(f'{c["drop_pct"]:.0f}')
        rows.append([c['node'], f'{c["fps_published"]:.1f}', f'{c["fps_diagnostics_mean"]:.1f}',
                     f'{c["fps_received"]:.1f}', *counts,
                     f'{c["backlog_min"]}..{c["backlog_max"]}'])
    return rows


def classifier_headers() -> List[str]:
    """:return: the classifier table's columns: fps, every counter (and drop %), backlog."""
    counters = []
    for name in COUNTERS:
        counters += [name, 'drop %'] if name == 'dropped' else [name]
    return ['node', 'fps', 'diag fps', 'in fps', *counters, 'backlog']


def print_report(report: Dict[str, Any], checks: Sequence[Check]) -> None:
    """Print the run, the process table, the classifier table and the checks."""
    options = report['options']
    topology = ('multi_accel (source + classifiers in one process)' if options['in_process']
                else f'image_source + {options["nodes"]} classifier processes')
    print(f'soak_node: {topology}, {options["rate"]:g} Hz, domain {report["domain"]}, '
          f'{"large-image Fast DDS profile" if options["profile"] else "Fast DDS defaults"}; '
          f'start-up {report["startup_s"]:.1f} s, sampled {report["sampled_s"]:.0f} s every '
          f'{options["sample_s"]:g} s, warm-up {options["warmup_s"]:g} s excluded')
    print('processes (RSS MiB: first sample / after warm-up / end, medians of a few samples; '
          'MiB/min: slope of RSS, of its private part and of its shared part (Fast DDS '
          'shared-memory segments); threads and fds: after warm-up / max / end; CPU % of a '
          'core after warm-up):')
    print(table(('process', 'pid', 'RSS first', 'RSS warm', 'RSS end', 'growth %',
                 'MiB/min', 'private', 'shared', 'threads', 'fds', 'CPU %'),
                process_rows(report)))
    print('classifiers after warm-up (fps: published per s, diagnostics mean, received per '
          f's; backlog = received - {" - ".join(OUTCOMES)}):')
    print(table(classifier_headers(), classifier_rows(report)))
    for p in report['processes']:
        if p['source_frames'] is not None:
            hz = p['source_frames'] / report['uptime_s']
            print(f'image source: {p["source_frames"]} frames published in '
                  f'{report["uptime_s"]:.0f} s from its start = {hz:.1f} Hz '
                  f'(asked {options["rate"]:g} Hz)')
    print('checks:')
    for name, passed, numbers in checks:
        print(f'  {"PASS" if passed else "FAIL"}  {name}' + (f': {numbers}' if numbers else ''))
    for p in report['processes']:
        if p['fatal_output']:
            print(f'{p["name"]} output around the first fatal line:\n{p["fatal_output"]}')


# -- command line -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(description=(__doc__ or '').strip().splitlines()[0])
    parser.add_argument('--duration', type=float, default=600.0,
                        help='seconds sampled once every classifier runs, warm-up included '
                             '(600)')
    parser.add_argument('--warmup', type=float, default=60.0,
                        help='first seconds left out of the growth checks (60)')
    parser.add_argument('--rate', type=float, default=100.0, help='image source Hz (100)')
    parser.add_argument('--sample', type=float, default=5.0, help='sample period, s (5)')
    parser.add_argument('--in-process', action='store_true',
                        help='multi_accel: the GPU/DLA0/DLA1 classifiers and the source in one '
                             'process')
    parser.add_argument('--nodes', type=int, default=3,
                        help='classifier processes without --in-process (3)')
    parser.add_argument('--no-profile', action='store_true',
                        help='Fast DDS defaults instead of config/fastdds_large_images.xml')
    parser.add_argument('--startup-timeout', type=float, default=120.0, metavar='S',
                        help='seconds until every classifier has published a frame (120)')
    parser.add_argument('--stop-timeout', type=float, default=10.0, metavar='S',
                        help='seconds each process may take to exit on SIGINT (10)')
    parser.add_argument('--json', metavar='FILE', help='also write the report to FILE')
    parser.add_argument('--log-dir', metavar='DIR', help="copy every process's output to DIR")
    return parser


def options_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Options:
    """:return: the run's options; exits through ``parser.error`` for impossible ones."""
    if args.sample <= 0 or args.warmup < 0 or args.rate <= 0:
        parser.error('--sample and --rate must be > 0, --warmup >= 0')
    if args.duration < args.warmup + 2 * args.sample:
        parser.error(f'--duration {args.duration:g} leaves fewer than two samples after the '
                     f'warm-up ({args.warmup:g} s, a sample every {args.sample:g} s)')
    if not 1 <= args.nodes <= 26:
        parser.error(f'--nodes {args.nodes}: use 1..26')
    return Options(duration_s=args.duration, warmup_s=args.warmup, rate=args.rate,
                   sample_s=args.sample, in_process=args.in_process, nodes=args.nodes,
                   profile=not args.no_profile, startup_timeout_s=args.startup_timeout,
                   stop_timeout_s=args.stop_timeout)


def main() -> None:
    """Soak the topology; print the report; exit 1 when a check fails."""
    parser = build_parser()
    args = parser.parse_args()
    options = options_from(parser, args)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # clean-up still runs
    try:
        report = soak(options, args.log_dir)
    except RuntimeError as e:
        print(f'soak_node: {e}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print('soak_node: interrupted; every child process was stopped', file=sys.stderr)
        sys.exit(130)
    checks = evaluate(report, options)
    print_report(report, checks)
    passed = all(ok for _, ok, _ in checks)
    print(f'result: {"PASS" if passed else "FAIL"} (exit {0 if passed else 1})')
    report['checks'] = [{'check': n, 'passed': ok, 'numbers': v} for n, ok, v in checks]
    report['passed'] = passed
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
    sys.exit(0 if passed else 1)


if __name__ == '__main__':
    main()
