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
The node's own cost per frame: camera -> classifier node -> subscriber, three processes.

Real rclpy over Fast DDS on this host. A camera process publishes the test
photo ``chelsea_cat.jpg`` resized to 640x480 bgr8 (reliable, ``header.stamp``
= now at send time); the classifier node runs with its default parameters
except ``cpu_threads`` = 1, as ``python -m dla_infer_ros.nodes.classifier_node``
with ``PYTHONPATH`` pointing at the tree under test; a listener process
receives the classifications and the node's ``/diagnostics``, measures
stamp -> result latency and reads the node process's CPU time from
``/proc/<pid>/stat`` over the measurement window (after a warm-up). The raw
backend loop (``backend.infer()`` on a preprocessed input, as ``dla_bench``
runs it, same ONNX Runtime thread count) is measured first, in this process.

Rows of the table:

1. host stages p50 (convert + preprocess + postprocess, the node's diagnostics), at 30 Hz;
2. in-node overhead p50 at 30 Hz: ``in_node`` p50 - ``inference`` p50;
3. stamp -> result latency p50/p99, measured by the subscriber;
4. node CPU time per frame (all threads), and that minus the raw backend's CPU per inference;
5. saturated throughput: camera at 1.5x the raw loop's fps, node fps / raw fps, with
   ``config/fastdds_large_images.xml`` in every process;
6. the same with Fast DDS defaults;
7. 1920x1080 bgr8 at 30 Hz: host stages p50;
8. ``multi_accel --images test/data --rate 30``: three nodes in one process against each
   node alone (a copy of the tree's ``config/multi_accel.yaml`` with one classifier), also
   with ``--use-dispatcher``.

``--tree PATH`` (repeatable) measures another checkout of this package side by
side, e.g. ``git worktree add /tmp/base 56ce9e0``: its node and ``multi_accel``
run from it; camera, listener and raw loop stay this tree's. Columns are
interleaved per scenario so that the machine's load drifts over all of them.
Usage: ``python tools/bench_node.py [--short] [--rows 1-4,8] [--duration S]
[--json FILE] [--tree PATH ...]``. Exit status 1 when a node never answers.
"""

import argparse
import collections
import contextlib
import ctypes
import dataclasses
import datetime
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.abspath(__file__)
PHOTOS = os.path.join(ROOT, 'test', 'data')
PHOTO = os.path.join(PHOTOS, 'chelsea_cat.jpg')
PROFILE = os.path.join(ROOT, 'config', 'fastdds_large_images.xml')
NODE_MODULE = 'dla_infer_ros.nodes.classifier_node'
MULTI_MODULE = 'dla_infer_ros.cli.multi_accel'
#: The node's parameters that differ from its defaults: one ONNX Runtime thread, as the raw loop.
NODE_PARAMETERS = {'cpu_threads': 1}
HOST_STAGES = ('convert', 'preprocess', 'postprocess')
SATURATION = 1.5
ROWS = (1, 2, 3, 4, 5, 6, 7, 8)
MULTI_RATE = 30.0

Cell = Any  # float, str or None
Row = Tuple[str, List[Cell]]


class BenchError(Exception):
    """A run that cannot give its numbers (a node that never answered, a child that died)."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One camera -> node -> listener run."""

    width: int
    height: int
    rate: Optional[float]  # None: SATURATION x the raw loop's fps
    profile: bool          # FASTDDS_DEFAULT_PROFILES_FILE = PROFILE in every process


SCENARIOS = {
    'vga30': Scenario(640, 480, 30.0, True),
    'vga_saturated': Scenario(640, 480, None, True),
    'vga_saturated_defaults': Scenario(640, 480, None, False),
    'fullhd30': Scenario(1920, 1080, 30.0, True),
}
#: What each row needs: scenarios, 'raw' (the backend loop), 'multi' (multi_accel runs).
NEEDS = {1: ('vga30',), 2: ('vga30',), 3: ('vga30',), 4: ('raw', 'vga30'),
         5: ('raw', 'vga_saturated'), 6: ('raw', 'vga_saturated_defaults'),
         7: ('fullhd30',), 8: ('multi',)}


@dataclasses.dataclass(frozen=True)
class Tree:
    """A checkout of this package whose node is measured."""

    path: str
    label: str


@dataclasses.dataclass(frozen=True)
class Timing:
    """How long each phase lasts."""

    warmup_s: float
    duration_s: float
    idle_s: float
    answer_timeout_s: float
    multi_duration_s: float


# -- child processes ---------------------------------------------------------------------


def _die_with_parent() -> None:
    # A benchmark killed outright must not leave a camera publishing 900 KB frames forever.
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the explicit clean-up below still runs


class Child:
    """A child process whose stdout and stderr go to a log file."""

    def __init__(self, name: str, command: List[str], env: Dict[str, str], cwd: str,
                 folder: str) -> None:
        """Start ``command``."""
        self.name = name
        self.log_path = os.path.join(folder, re.sub(r'\W+', '_', name) + '.log')
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log,
                                            stderr=subprocess.STDOUT,
                                            preexec_fn=_die_with_parent)

    @property
    def pid(self) -> int:
        """:return: the process id."""
        return self.process.pid

    def exited(self) -> Optional[int]:
        """:return: the exit status, None while it runs."""
        return self.process.poll()

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGINT, then SIGKILL after ``grace_s``; waits for the end either way."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()

    def output(self) -> str:
        """:return: everything the child printed so far."""
        with open(self.log_path, encoding='utf-8', errors='replace') as log:
            return log.read()

    def tail(self, lines: int = 25) -> str:
        """:return: the last lines it printed, indented."""
        text = self.output().rstrip().splitlines()[-lines:]
        return '\n'.join('    ' + line for line in text) or '    (nothing)'


class Children:
    """Children started in a ``with`` block; all are stopped when it ends, even on errors."""

    def __init__(self, folder: str) -> None:
        """:param folder: where the children's logs go."""
        self.folder = folder
        self.started: List[Child] = []

    def start(self, name: str, command: List[str], env: Dict[str, str], cwd: str) -> Child:
        """:return: the started child."""
        child = Child(name, command, env, cwd, self.folder)
        self.started.append(child)
        return child

    def stop_all(self) -> None:
        """Stop every child, the last started first."""
        for child in reversed(self.started):
            child.stop()

    def __enter__(self) -> 'Children':
        """Enter the block."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop every child."""
        self.stop_all()


class BackgroundNode:
    """An rclpy node of this process (rclpy's signal handlers left out) spun in a daemon thread."""

    def __init__(self, name: str, namespace: str = '') -> None:
        """Initialise rclpy, create the node; :meth:`start` spins it."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        self._rclpy = rclpy
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(name, namespace=namespace or None)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)

    def start(self) -> None:
        """Spin the node's callbacks in the background (after creating its subscriptions)."""
        self._thread.start()

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # the context went away while closing: nothing left to receive
            if self._rclpy.ok():
                raise

    def close(self) -> None:
        """Stop spinning, destroy the node, shut rclpy down."""
        self._executor.shutdown()
        self.node.destroy_node()
        self._rclpy.try_shutdown()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)


def child_env(tree_path: str, domain: int, profile: bool) -> Dict[str, str]:
    """:return: the environment of a child: this domain, loopback discovery, the tree first."""
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(domain)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if env.get('ROS_DISTRO') == 'humble':
        env['ROS_LOCALHOST_ONLY'] = '1'  # Humble has no ROS_AUTOMATIC_DISCOVERY_RANGE
    env['PYTHONPATH'] = os.pathsep.join(p for p in (tree_path, env.get('PYTHONPATH', '')) if p)
    env['PYTHONUNBUFFERED'] = '1'
    if profile:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = PROFILE
    else:
        env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    return env


def wait_for(condition: Callable[[], bool], watched: Sequence[Child], timeout_s: float,
             what: str, node: Child) -> None:
    """
    Wait until ``condition()`` holds.

    :raises BenchError: when a watched child exits first or ``timeout_s`` passes; the
        message carries the end of the node's output.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        for child in watched:
            status = child.exited()
            if status is not None:
                raise BenchError(f'{child.name} exited with status {status} while waiting '
                                 f'for {what}; its output ends:\n{child.tail()}'
                                 + ('' if child is node else f'\nnode output:\n{node.tail()}'))
        if time.monotonic() > deadline:
            raise BenchError(f'no {what} after {timeout_s:.0f} s; node output ends:\n'
                             f'{node.tail()}')
        time.sleep(0.1)


def read_json(path: str) -> Dict[str, Any]:
    """:return: the JSON object in ``path``, empty if the file is missing."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding='utf-8') as f:
        result: Dict[str, Any] = json.load(f)
    return result


def self_command(role: str, *args: object) -> List[str]:
    """:return: the command running this script in ``role`` (camera or listener)."""
    return [sys.executable, SCRIPT, '--role', role, *[str(a) for a in args]]


# -- one camera -> node -> listener run ---------------------------------------------------


def node_command(namespace: str) -> List[str]:
    """:return: the classifier node's command line, in ``namespace``."""
    command = [sys.executable, '-m', NODE_MODULE, '--ros-args', '-r', f'__ns:={namespace}']
    for name, value in NODE_PARAMETERS.items():
        command += ['-p', f'{name}:={value}']
    return command


def run_scenario(tree: Tree, scenario: Scenario, rate: float, timing: Timing) -> Dict[str, Any]:
    """
    Start the node, the listener and the camera; return what the listener measured.

    :raises BenchError: when the node never answers or a child dies.
    """
    namespace = f'/bench_node_{os.getpid()}_{random.randrange(1 << 24)}'
    env = child_env(tree.path, random.randint(1, 101), scenario.profile)
    with tempfile.TemporaryDirectory(prefix='bench_node_') as folder, \
            Children(folder) as children:
        node = children.start('classifier node', node_command(namespace), env, tree.path)
        ready, result_path = os.path.join(folder, 'ready'), os.path.join(folder, 'result.json')
        listener = children.start('listener', self_command(
            'listener', '--namespace', namespace, '--node-pid', node.pid,
            '--warmup', timing.warmup_s, '--duration', timing.duration_s,
            '--idle', timing.idle_s, '--timeout', timing.answer_timeout_s,
            '--ready', ready, '--out', result_path), env, ROOT)
        wait_for(lambda: os.path.exists(ready) or listener.exited() is not None, [node],
                 timing.answer_timeout_s + 30, 'diagnostics from the node', node)
        camera_path = os.path.join(folder, 'camera.json')
        if listener.exited() is None:
            camera = children.start('camera', self_command(
                'camera', '--namespace', namespace, '--rate', rate, '--width', scenario.width,
                '--height', scenario.height, '--out', camera_path, '--lifetime',
                timing.answer_timeout_s + timing.warmup_s + timing.duration_s + 60), env, ROOT)
            wait_for(lambda: listener.exited() is not None, [node, camera],
                     timing.answer_timeout_s + timing.warmup_s + timing.duration_s + 30,
                     'the end of the measurement', node)
        result = read_json(result_path)
        if 'error' in result or not result:
            raise BenchError(f'the classifier node of {tree.label} never answered: '
                             f'{result.get("error", "the listener wrote no result")}\n'
                             f'node output ends:\n{node.tail()}\n'
                             f'listener output ends:\n{listener.tail()}')
        children.stop_all()
        result['camera'] = read_json(camera_path)
        result['node_exit_status'] = node.exited()
    return result


# -- the raw backend loop -----------------------------------------------------------------


def photo_frame(width: int, height: int) -> Any:
    """:return: the test photo resized to ``width`` x ``height``, bgr8."""
    import cv2
    image = cv2.imread(PHOTO, cv2.IMREAD_COLOR)
    if image is None:
        raise BenchError(f'{PHOTO}: cannot read the test photo')
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def measure_raw_loop(timing: Timing) -> Dict[str, Any]:
    """
    Time ``backend.infer()`` in a loop, as ``dla_bench`` does, with the node's backend options.

    :return: fps, latency p50, thread CPU ms per inference, the effective device.
    """
    from dla_infer_ros.benchmark import BenchOptions, Device, DeviceRun
    from dla_infer_ros.model_contract import resolve_model
    options = BenchOptions(backend='auto', cpu_threads=NODE_PARAMETERS['cpu_threads'],
                           warmup_s=timing.warmup_s, duration_s=timing.duration_s)
    run = DeviceRun(Device('gpu'), resolve_model(''), options)
    try:
        run.prepare(photo_frame(640, 480))
        series = run.measure()
        report = run.classifier.describe()
    finally:
        run.close()
    queries = len(series.latency_ms)
    latencies = sorted(series.latency_ms)
    return {'fps': queries / series.seconds, 'queries': queries,
            'p50_ms': latencies[len(latencies) // 2],
            'cpu_ms_per_inference': series.cpu_seconds * 1e3 / queries,
            'backend': report.backend, 'effective_device': report.effective}


# -- multi_accel --------------------------------------------------------------------------


def _yaml() -> Any:
    import yaml  # type: ignore[import-untyped, unused-ignore]
    return yaml


def topology_sections(tree: Tree) -> Dict[str, Any]:
    """:return: the sections of the tree's ``config/multi_accel.yaml``."""
    with open(os.path.join(tree.path, 'config', 'multi_accel.yaml'), encoding='utf-8') as f:
        sections: Dict[str, Any] = _yaml().safe_load(f)
    return sections


def single_node_params(tree: Tree, node_key: str, folder: str) -> str:
    """:return: a copy of the tree's ``multi_accel.yaml`` with only ``node_key`` as classifier."""
    sections = topology_sections(tree)
    kept = {key: body for key, body in sections.items()
            if key == node_key or '*' in key or key in ('dispatcher', 'image_source')}
    path = os.path.join(folder, f'{node_key}.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        _yaml().safe_dump(kept, f)
    return path


def classifier_keys(tree: Tree) -> List[str]:
    """:return: the classifier sections of the tree's ``multi_accel.yaml``."""
    return [key for key in topology_sections(tree)
            if '*' not in key and key not in ('dispatcher', 'image_source')]


def run_multi_accel(tree: Tree, params_file: str, dispatcher: bool,
                    timing: Timing) -> Dict[str, Any]:
    """
    Run ``multi_accel --images test/data --rate 30 --json`` from the tree.

    :return: its JSON report.
    :raises BenchError: when it fails or no classifier published anything.
    """
    command = [sys.executable, '-m', MULTI_MODULE, '--params-file', params_file,
               '--images', PHOTOS, '--rate', str(MULTI_RATE),
               '--duration', str(timing.multi_duration_s), '--json']
    if dispatcher:
        command.append('--use-dispatcher')
    env = child_env(tree.path, random.randint(1, 101), True)
    with tempfile.TemporaryDirectory(prefix='bench_multi_') as folder, \
            Children(folder) as children:
        child = children.start('multi_accel', command, env, tree.path)
        wait_for(lambda: child.exited() is not None, [], timing.multi_duration_s + 120,
                 'the end of multi_accel', child)
        output = child.output()
        status = child.exited()
    match = re.search(r'^\{$', output, re.MULTILINE)
    if status != 0 or match is None:
        raise BenchError(f'multi_accel of {tree.label} ended with status {status}; its output '
                         f'ends:\n{output[-3000:]}')
    end = output.rindex('\n}') + 2
    report: Dict[str, Any] = json.loads(output[match.start():end])
    if not any(row['published'] > 0 for row in report['classifiers']):
        raise BenchError(f'multi_accel of {tree.label}: no classifier answered a frame:\n'
                         f'{output[-3000:]}')
    return report


def measure_multi(tree: Tree, dispatcher: bool, alone: str, timing: Timing,
                  progress: Callable[[str], None]) -> Dict[str, Any]:
    """:return: ``{'together': report, 'alone': {node key: report}}``."""
    progress(f'multi_accel{" --use-dispatcher" if dispatcher else ""}, 3 nodes, {tree.label}')
    result: Dict[str, Any] = {'together': run_multi_accel(
        tree, os.path.join(tree.path, 'config', 'multi_accel.yaml'), dispatcher, timing),
        'alone': {}}
    keys = classifier_keys(tree)
    with tempfile.TemporaryDirectory(prefix='bench_params_') as folder:
        for key in keys if alone == 'all' else keys[:1]:
            progress(f'multi_accel{" --use-dispatcher" if dispatcher else ""}, {key} alone, '
                     f'{tree.label}')
            result['alone'][key] = run_multi_accel(
                tree, single_node_params(tree, key, folder), dispatcher, timing)
    return result


# -- the camera process -------------------------------------------------------------------


def stop_flag() -> List[bool]:
    """:return: a flag that SIGINT and SIGTERM set (rclpy's own handlers are off)."""
    flag = [False]

    def handle(signum: int, frame: object) -> None:
        flag[0] = True
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return flag


def run_camera(args: argparse.Namespace) -> None:
    """Publish the photo at ``--rate`` until stopped; write how many frames went out."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image
    stop = stop_flag()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('bench_camera', namespace=args.namespace)
    sent, began, ended = 0, time.monotonic(), time.monotonic()
    try:
        publisher = node.create_publisher(
            Image, 'image', QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        msg = Image(height=args.height, width=args.width, encoding='bgr8', step=args.width * 3,
                    data=photo_frame(args.width, args.height).tobytes())
        msg.header.frame_id = 'camera'
        deadline = time.monotonic() + args.lifetime
        while publisher.get_subscription_count() == 0 and not stop[0] \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        period, began = 1.0 / args.rate, time.monotonic()
        due = began
        while not stop[0] and time.monotonic() < deadline:
            msg.header.stamp = node.get_clock().now().to_msg()
            publisher.publish(msg)
            sent += 1
            due += period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -period:
                due = time.monotonic()  # fell behind: no burst to catch up
        ended = time.monotonic()
    finally:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump({'sent': sent, 'seconds': ended - began,
                       'hz': sent / (ended - began) if ended > began else 0.0}, f)
        node.destroy_node()
        rclpy.try_shutdown()


# -- the listener process -----------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """:return: user + system CPU seconds of process ``pid``, all its threads."""
    with open(f'/proc/{pid}/stat', encoding='ascii') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class Listener:
    """Receives the node's classifications and diagnostics; keeps what the window needs."""

    def __init__(self, node: Any, namespace: str) -> None:
        """Subscribe to ``classification``, ``label_info`` and ``/diagnostics``."""
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from vision_msgs.msg import Classification, LabelInfo
        self.node = node
        self.status_name = f'{namespace.rstrip("/")}/classifier: classifier'
        #: (monotonic receive time, stamp -> receive ms, top-1 label)
        self.answers: List[Tuple[float, float, str]] = []
        self.diagnostics: Optional[Tuple[float, Dict[str, str]]] = None
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        #: class_id -> name, from label_info (class_id is the class index as text; a tree
        #: that publishes the name instead needs no lookup)
        self.names: Dict[str, str] = {}
        node.create_subscription(Classification, 'classification', self.on_result, reliable)
        node.create_subscription(LabelInfo, 'label_info', self.on_label_info, QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
            reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, 10)

    def on_label_info(self, msg: Any) -> None:
        """Keep the class names."""
        self.names = {str(entry.class_id): entry.class_name for entry in msg.class_map}

    def on_result(self, msg: Any) -> None:
        """Record the latency of one classification."""
        now_ns = self.node.get_clock().now().nanoseconds
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        label = msg.results[0].class_id if msg.results else ''
        label = self.names.get(label, label)
        self.answers.append((time.monotonic(), (now_ns - stamp_ns) / 1e6, label))

    def on_diagnostics(self, msg: Any) -> None:
        """Keep the node's newest status values."""
        for status in msg.status:
            if status.name == self.status_name:
                self.diagnostics = (time.monotonic(),
                                    {kv.key: kv.value for kv in status.values})


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """:return: the ``fraction`` quantile of ``values`` (linear), None if empty."""
    if not values:
        return None
    import numpy as np
    return float(np.percentile(np.asarray(values), fraction * 100))


def counter_delta(before: Dict[str, str], after: Dict[str, str], name: str) -> Optional[int]:
    """:return: how much the node's ``frames_<name>`` grew between two statuses."""
    key = f'frames_{name}'
    if key not in after:
        return None
    return int(after[key]) - int(before.get(key, '0'))


def listen(args: argparse.Namespace, listener: Listener, spin: Callable[[float], None],
           cpu: Callable[[], float]) -> Dict[str, Any]:
    """
    Wait for the node, measure its idle CPU, then the answers over the window.

    The window starts and ends when a diagnostics status of the node arrives, so that
    the node's counters, the CPU time and the answers cover the same time.

    :return: the measurement (see :func:`window_result`).
    :raises BenchError: when the node does not publish diagnostics or classifications.
    """
    spin_until(spin, lambda: listener.diagnostics is not None, args.timeout,
               f'the node published no /diagnostics within {args.timeout:.0f} s')
    idle_cpu, idle_began = cpu(), time.monotonic()
    spin_until(spin, lambda: False, args.idle, '')
    idle = (cpu() - idle_cpu) / (time.monotonic() - idle_began)
    with open(args.ready, 'w', encoding='utf-8'):
        pass  # the camera starts now
    ready = time.monotonic()
    spin_until(spin, lambda: bool(listener.answers), args.timeout,
               f'no classification within {args.timeout:.0f} s of the camera starting')
    first = listener.answers[0][0] - ready
    spin_until(spin, lambda: False, args.warmup, '')
    began, before = next_status(listener, spin, time.monotonic())
    cpu_before = cpu()
    spin_until(spin, lambda: False, args.duration, '')
    ended, after = next_status(listener, spin, began + args.duration)
    cpu_used = cpu() - cpu_before
    result = window_result(listener, began, ended, cpu_used, before, after)
    result.update(idle_cpu_percent=100.0 * idle, first_answer_s=first)
    return result


def next_status(listener: Listener, spin: Callable[[float], None],
                after: float) -> Tuple[float, Dict[str, str]]:
    """
    Wait for the node's next diagnostics status arriving after ``after``.

    :return: its arrival time and values.
    :raises BenchError: when none comes within 10 s.
    """
    def arrived() -> bool:
        return listener.diagnostics is not None and listener.diagnostics[0] > after
    spin_until(spin, arrived, 10.0, 'the node stopped publishing /diagnostics')
    assert listener.diagnostics is not None
    return listener.diagnostics


def window_result(listener: Listener, began: float, ended: float, cpu_used: float,
                  before: Dict[str, str], after: Dict[str, str]) -> Dict[str, Any]:
    """:return: answers, fps, latency, CPU per frame and the node's diagnostics of the window."""
    inside = [a for a in listener.answers if began <= a[0] < ended]
    latencies = [a[1] for a in inside]
    labels = collections.Counter(a[2] for a in inside)
    seconds = ended - began
    return {
        'answered': len(inside), 'answered_total': len(listener.answers),
        'window_s': seconds, 'fps': len(inside) / seconds,
        'latency_p50_ms': percentile(latencies, 0.5),
        'latency_p99_ms': percentile(latencies, 0.99),
        'cpu_s': cpu_used, 'cpu_percent': 100.0 * cpu_used / seconds,
        'cpu_ms_per_frame': cpu_used * 1e3 / len(inside) if inside else None,
        'received': counter_delta(before, after, 'received'),
        'published': counter_delta(before, after, 'published'),
        'dropped': counter_delta(before, after, 'dropped'),
        'top1': labels.most_common(1)[0][0] if labels else None,
        'diagnostics': after,
    }


def spin_until(spin: Callable[[float], None], condition: Callable[[], bool], seconds: float,
               failure: str) -> None:
    """
    Spin until ``condition()`` holds or ``seconds`` pass.

    :raises BenchError: with ``failure`` when the time runs out (unless ``failure`` is empty).
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            if failure:
                raise BenchError(failure)
            return
        spin(min(0.02, max(0.0, deadline - time.monotonic())))


def run_listener(args: argparse.Namespace) -> None:
    """Measure one window and write the result (or the error) as JSON to ``--out``."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    stop = stop_flag()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('bench_listener', namespace=args.namespace)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin(timeout_s: float) -> None:
        if stop[0]:
            raise BenchError('interrupted')
        executor.spin_once(timeout_sec=timeout_s)
    try:
        result = listen(args, Listener(node, args.namespace), spin,
                        lambda: process_cpu_seconds(args.node_pid))
    except (BenchError, OSError) as e:  # OSError: the node's /proc entry is gone
        result = {'error': str(e)}
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(result, f)


# -- the table ----------------------------------------------------------------------------


def stage_p50(result: Dict[str, Any], stage: str) -> Optional[float]:
    """:return: the node's diagnostics p50 of ``stage`` in ms, None if missing."""
    value = result.get('diagnostics', {}).get(f'{stage} p50 ms')
    return None if value is None else float(value)


def host_sum(result: Dict[str, Any]) -> Optional[float]:
    """:return: convert + preprocess + postprocess p50, None if one is missing."""
    values = [stage_p50(result, stage) for stage in HOST_STAGES]
    return None if any(v is None for v in values) else float(sum(v for v in values if v))


def difference(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """:return: ``a - b``, None if either is missing."""
    return None if a is None or b is None else a - b


def host_rows(number: str, what: str, results: List[Dict[str, Any]]) -> List[Row]:
    """:return: the host-stage rows (sum, then each stage) of one scenario."""
    rows: List[Row] = [(f'{number} host stages p50 ms, {what}', [host_sum(r) for r in results])]
    rows += [(f'    {stage} p50 ms', [stage_p50(r, stage) for r in results])
             for stage in HOST_STAGES]
    rows.append(('    (inference p50 ms)', [stage_p50(r, 'inference') for r in results]))
    return rows


def latency_cpu_rows(results: List[Dict[str, Any]], raw: Dict[str, Any]) -> Dict[int, List[Row]]:
    """:return: rows 2, 3 and 4 of the 30 Hz VGA run."""
    raw_cpu = raw.get('cpu_ms_per_inference')
    return {
        2: [('2 in-node overhead p50 ms (in_node - inference)',
             [difference(stage_p50(r, 'in_node'), stage_p50(r, 'inference')) for r in results])],
        3: [('3 stamp->result p50 ms (subscriber)', [r['latency_p50_ms'] for r in results]),
            ('3 stamp->result p99 ms (subscriber)', [r['latency_p99_ms'] for r in results]),
            ('    node end_to_end p50 ms (diagnostics)',
             [stage_p50(r, 'end_to_end') for r in results]),
            ('    answered / dropped by node in window',
             [f'{r["answered"]}/{r["dropped"]}' for r in results])],
        4: [('4 node CPU ms/frame (all threads)', [r['cpu_ms_per_frame'] for r in results]),
            ('4 node CPU ms/frame - raw backend CPU ms/inf',
             [difference(r['cpu_ms_per_frame'], raw_cpu) for r in results]),
            ('    raw backend CPU ms/inference (this tree)', [raw_cpu for _ in results]),
            ('    node CPU % of a core at 30 Hz', [r['cpu_percent'] for r in results]),
            ('    node CPU % of a core, idle', [r['idle_cpu_percent'] for r in results])],
    }


def saturated_rows(number: int, what: str, results: List[Dict[str, Any]],
                   raw: Dict[str, Any]) -> List[Row]:
    """:return: row 5 or 6: node fps / raw fps, with the numbers behind it."""
    fps = raw['fps']
    return [
        (f'{number} saturated node fps / raw fps, {what}', [r['fps'] / fps for r in results]),
        ('    node fps', [r['fps'] for r in results]),
        ('    raw loop fps (this tree)', [fps for _ in results]),
        ('    camera Hz sent', [r['camera'].get('hz') for r in results]),
        ('    received / dropped by node in window',
         [f'{r["received"]}/{r["dropped"]}' for r in results]),
        ('    stamp->result p50 ms', [r['latency_p50_ms'] for r in results]),
    ]


def fps_sum(report: Dict[str, Any]) -> float:
    """:return: the frames per second published by every classifier of a report, summed."""
    return float(sum(row['fps'] for row in report['classifiers']))


def multi_rows(label: str, results: List[Dict[str, Any]]) -> List[Row]:
    """:return: row 8 (or its dispatcher variant): together against alone, per node."""
    together = [fps_sum(r['together']) for r in results]
    measured = [[fps_sum(a) for a in r['alone'].values()] for r in results]
    counts = [len(r['together']['classifiers']) for r in results]
    alone = [sum(m) * n / len(m) for m, n in zip(measured, counts)]  # unmeasured: as the mean
    estimated = any(len(m) < n for m, n in zip(measured, counts))
    rows: List[Row] = [
        (f'{label} together / sum alone (fps)', [t / a for t, a in zip(together, alone)]),
        ('    fps, 3 nodes together (sum)', together),
        ('    fps, each alone (sum' + (', unmeasured = mean of measured' if estimated else '')
         + ')', alone)]
    if results[0]['together'].get('dispatcher'):
        rows.append(('    merged in order fps, together',
                     [r['together']['dispatcher']['released'] / r['together']['seconds']
                      for r in results]))
    for index, row in enumerate(results[0]['together']['classifiers']):
        rows += node_rows(index, row['node'], results)
    return rows


def node_rows(index: int, name: str, results: List[Dict[str, Any]]) -> List[Row]:
    """:return: one classifier's fps, frames and latency, together and alone."""
    def together(r: Dict[str, Any]) -> Dict[str, Any]:
        rows: List[Dict[str, Any]] = r['together']['classifiers']
        return rows[index]

    def alone(r: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        report = r['alone'].get(name.lstrip('/'))
        return None if report is None else dict(report['classifiers'][0])

    def latency(row: Optional[Dict[str, Any]]) -> Optional[str]:
        if row is None or row['p50_ms'] is None:
            return None
        return f'{row["p50_ms"]:.1f}/{row["p99_ms"]:.1f}'
    return [
        (f'    {name} fps together', [together(r)['fps'] for r in results]),
        (f'    {name} fps alone', [(alone(r) or {}).get('fps') for r in results]),
        (f'    {name} frames in/out/drop together',
         [f'{together(r)["received"]}/{together(r)["published"]}/{together(r)["dropped"]}'
          for r in results]),
        (f'    {name} p50/p99 ms together', [latency(together(r)) for r in results]),
        (f'    {name} p50/p99 ms alone', [latency(alone(r)) for r in results]),
    ]


def format_cell(value: Cell) -> str:
    """:return: a number with two decimals (one above 100), a string as is, '-' for None."""
    if value is None:
        return '-'
    if isinstance(value, (int, float)):
        return f'{value:.1f}' if abs(value) >= 100 else f'{value:.2f}'
    return str(value)


def format_table(rows: Sequence[Row], trees: Sequence[Tree]) -> str:
    """:return: the rows with a column per tree and a ratio this tree / other per other tree."""
    headers = ['row', *[t.label for t in trees],
               *[f'{trees[0].label}/{t.label}' for t in trees[1:]]]
    lines = []
    for label, cells in rows:
        ratios = []
        for other in cells[1:]:
            numeric = all(isinstance(c, (int, float)) for c in (cells[0], other))
            ratios.append(cells[0] / other if numeric and other else None)
        lines.append([label, *[format_cell(c) for c in cells], *[format_cell(r) for r in ratios]])
    widths = [max(len(line[i]) for line in [headers, *lines]) for i in range(len(headers))]
    text = ['  '.join(h.ljust(w) if i == 0 else h.rjust(w)
                      for i, (h, w) in enumerate(zip(headers, widths)))]
    text.append('  '.join('-' * w for w in widths))
    for line in lines:
        text.append('  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                              for i, (c, w) in enumerate(zip(line, widths))))
    return '\n'.join(text)


def build_rows(rows: Sequence[int], results: Dict[str, Any], trees: Sequence[Tree]) -> List[Row]:
    """:return: the table rows asked for, from everything measured."""
    def per_tree(key: str) -> List[Dict[str, Any]]:
        return [results['trees'][t.label][key] for t in trees]
    raw = results.get('raw', {})
    table: List[Row] = []
    for number in rows:
        if number == 1:
            table += host_rows('1', '640x480 at 30 Hz', per_tree('vga30'))
        elif number in (2, 3, 4):
            table += latency_cpu_rows(per_tree('vga30'), raw)[number]
        elif number == 5:
            table += saturated_rows(5, 'Fast DDS profile', per_tree('vga_saturated'), raw)
        elif number == 6:
            table += saturated_rows(6, 'Fast DDS defaults', per_tree('vga_saturated_defaults'),
                                    raw)
        elif number == 7:
            table += host_rows('7', '1920x1080 at 30 Hz', per_tree('fullhd30'))
        else:
            table += multi_rows('8 multi_accel 30 Hz', per_tree('multi'))
            if 'multi_dispatcher' in results['trees'][trees[0].label]:
                table += multi_rows('8 multi_accel --use-dispatcher',
                                    per_tree('multi_dispatcher'))
    return table


# -- the run ------------------------------------------------------------------------------


def parse_rows(text: str) -> List[int]:
    """:return: the rows of ``1-4,8`` style text."""
    rows: List[int] = []
    for part in text.split(','):
        first, _, last = part.strip().partition('-')
        try:
            rows += list(range(int(first), int(last or first) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError(f'rows {text!r}: use numbers such as 1-4,8')
    if not rows or any(r not in ROWS for r in rows):
        raise argparse.ArgumentTypeError(f'rows {text!r}: rows are {ROWS[0]}..{ROWS[-1]}')
    return sorted(set(rows))


def tree_label(path: str) -> str:
    """:return: the short commit of a checkout, ``*`` when its package folder has changes."""
    def git(*args: str) -> str:
        done = subprocess.run(['git', '-C', path, *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ''
    commit = git('rev-parse', '--short', 'HEAD') or os.path.basename(path.rstrip('/'))
    return commit + ('*' if git('status', '--porcelain', '--', 'dla_infer_ros') else '')


def make_trees(paths: Sequence[str]) -> List[Tree]:
    """:return: this tree, then the ``--tree`` checkouts, each with a unique label."""
    trees: List[Tree] = []
    for path in [ROOT, *paths]:
        path = os.path.abspath(path)
        if not os.path.isfile(os.path.join(path, 'dla_infer_ros', '__init__.py')):
            raise BenchError(f'--tree {path}: not a checkout of dla_infer_ros '
                             '(no dla_infer_ros/__init__.py)')
        label = tree_label(path)
        while label in [t.label for t in trees]:
            label += "'"
        trees.append(Tree(path, label))
    return trees


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(description=(__doc__ or '').strip().splitlines()[0])
    parser.add_argument('--short', action='store_true',
                        help='a few seconds per row, VGA only (no row 7), one node alone in '
                             'row 8 and no dispatcher variant: for CI, no thresholds')
    parser.add_argument('--rows', type=parse_rows, default=None,
                        help='rows to measure, e.g. 1-4,8 (default: all; --short: all but 7)')
    parser.add_argument('--duration', type=float, default=None,
                        help='seconds measured per run (default 10, --short 2); also '
                             "multi_accel's --duration")
    parser.add_argument('--warmup', type=float, default=None,
                        help='seconds of warm-up before each window (default 2, --short 1)')
    parser.add_argument('--json', metavar='FILE', help='also write every number to FILE')
    parser.add_argument('--tree', action='append', default=[], metavar='PATH',
                        help='another checkout of this package, measured side by side '
                             '(repeatable)')
    parser.add_argument('--answer-timeout', type=float, default=60.0, metavar='S',
                        help='seconds a node may take to start and to answer (default 60)')
    parser.add_argument('--no-dispatcher', action='store_true',
                        help='row 8 without its --use-dispatcher variant')
    parser.add_argument('--role', choices=('camera', 'listener'), help=argparse.SUPPRESS)
    for name, kind in (('namespace', str), ('node-pid', int), ('rate', float), ('width', int),
                       ('height', int), ('lifetime', float), ('idle', float),
                       ('timeout', float), ('ready', str), ('out', str)):
        parser.add_argument(f'--{name}', type=kind, help=argparse.SUPPRESS)
    return parser


def timing_for(args: argparse.Namespace) -> Timing:
    """:return: the phase lengths that ``--short``, ``--duration`` and ``--warmup`` ask for."""
    duration = args.duration if args.duration is not None else (2.0 if args.short else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.short else 2.0)
    if duration <= 0 or warmup < 0:
        raise BenchError(f'--duration {duration} and --warmup {warmup}: use > 0 and >= 0')
    return Timing(warmup_s=warmup, duration_s=duration, idle_s=0.5 if args.short else 2.0,
                  answer_timeout_s=args.answer_timeout, multi_duration_s=duration)


def measure(rows: Sequence[int], trees: Sequence[Tree], args: argparse.Namespace,
            timing: Timing) -> Dict[str, Any]:
    """:return: everything the rows need: the raw loop, then each scenario for each tree."""
    def progress(text: str) -> None:
        print(f'bench_node: {text}', file=sys.stderr, flush=True)
    needs = {need for row in rows for need in NEEDS[row]}
    results: Dict[str, Any] = {'trees': {t.label: {} for t in trees}}
    if 'raw' in needs:
        progress('raw backend loop (this tree)')
        results['raw'] = measure_raw_loop(timing)
    for name, scenario in SCENARIOS.items():
        if name not in needs:
            continue
        rate = scenario.rate or SATURATION * results['raw']['fps']
        for tree in trees:
            progress(f'{name}: {scenario.width}x{scenario.height} at {rate:.1f} Hz, '
                     f'{"profile" if scenario.profile else "Fast DDS defaults"}, {tree.label}')
            results['trees'][tree.label][name] = run_scenario(tree, scenario, rate, timing)
    if 'multi' in needs:
        alone = 'first' if args.short else 'all'
        for dispatcher in (False, True):
            if dispatcher and (args.short or args.no_dispatcher):
                continue
            for tree in trees:
                results['trees'][tree.label]['multi_dispatcher' if dispatcher else 'multi'] = \
                    measure_multi(tree, dispatcher, alone, timing, progress)
    return results


def header(trees: Sequence[Tree], results: Dict[str, Any], timing: Timing) -> str:
    """:return: the lines above the table: when, what, which trees."""
    lines = [f'bench_node {datetime.datetime.now().isoformat(timespec="seconds")}, '
             f'{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; warm-up '
             f'{timing.warmup_s:g} s, window {timing.duration_s:g} s; node parameters: '
             + ', '.join(f'{k}={v}' for k, v in NODE_PARAMETERS.items())]
    lines += [f'  {t.label}: {t.path}' for t in trees]
    raw = results.get('raw')
    if raw:
        lines.append(f'  raw loop: {raw["backend"]} on {raw["effective_device"]}, '
                     f'{raw["fps"]:.1f} fps, p50 {raw["p50_ms"]:.2f} ms')
    vga = results['trees'][trees[0].label].get('vga30')
    if vga:
        lines.append(f'  top-1 at 30 Hz: {vga["top1"]}')
    return '\n'.join(lines)


def run_benchmark(args: argparse.Namespace) -> int:
    """Measure, print the table, write the JSON; :return: the exit status."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # clean-up still runs
    try:
        timing = timing_for(args)
        trees = make_trees(args.tree)
        rows = args.rows or [r for r in ROWS if not (args.short and r == 7)]
        results = measure(rows, trees, args, timing)
    except BenchError as e:
        print(f'bench_node: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('bench_node: interrupted; every child process was stopped', file=sys.stderr)
        return 130
    table = build_rows(rows, results, trees)
    print(header(trees, results, timing))
    print(format_table(table, trees))
    if args.json:
        results.update(rows=rows, table=[[label, *cells] for label, cells in table],
                       columns=[dataclasses.asdict(t) for t in trees],
                       timing=dataclasses.asdict(timing))
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=1)
    return 0


@contextlib.contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        pass  # `bench_node.py | head`


def main() -> None:
    """Run the benchmark, or one of its child roles."""
    args = build_parser().parse_args()
    if args.role == 'camera':
        run_camera(args)
    elif args.role == 'listener':
        run_listener(args)
    else:
        with _quiet_broken_pipe():
            sys.exit(run_benchmark(args))


if __name__ == '__main__':
    main()
