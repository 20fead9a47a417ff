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
``multi_accel``: the multi-accelerator topology in one process, then a report per node.

The same nodes, parameters and remappings as ``launch/multi_accel.launch.py``
(both come from :func:`dla_infer_ros.topology.build_topology`), created in
this process and served by one ``SingleThreadedExecutor``; for machines without
``ros2 launch``. One executor thread is enough and the right choice: every
callback only hands a frame over (each classifier infers in a thread of its
own), and rclpy's ``MultiThreadedExecutor`` busy-waits here: while a node's
mutually exclusive callback runs in its pool, the node's entities stay ready,
so its wait returns at once, over and over, and takes the CPU from the
inference threads and the image source. After ``--duration`` seconds (or
Ctrl-C) it prints, per classifier, the requested and the effective device,
frames per second, p50/p99 latency and the last top-1 result.
"""

import argparse
import importlib
import json
import signal
import sys
import threading
import time
from typing import Any, cast, Dict, List, Optional, Protocol, Sequence, Tuple

import rclpy
from rclpy.context import Context
from rclpy.exceptions import ParameterException
from rclpy.executors import SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.utilities import remove_ros_args

from dla_infer_ros.cli import STOP_SIGNALS
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.nodes.registry import CLASSIFIER, DISPATCHER, IMAGE_SOURCE, NODE_KINDS
from dla_infer_ros.nodes.spin import exit_process, serve, ServingNode
from dla_infer_ros.topology import (build_topology, default_config_path, NodeSpec,
                                    requested_overrides, TopologyOptions)


class ClassifierView(Protocol):
    """What the report reads of a classifier node."""

    def get_fully_qualified_name(self) -> str:
        """:return: the node's namespace and name."""

    def device_report(self) -> Any:
        """:return: the requested and the effective device (a ``DeviceReport``)."""

    def stats_snapshot(self) -> Dict[str, Any]:
        """:return: counters, fps and stage latencies."""

    def latest_results(self) -> Sequence[Tuple[int, str, float]]:
        """:return: the newest frame's results, best first."""

    def failure(self) -> str:
        """:return: why the node stopped serving, or ''."""


class ManagedView(Protocol):
    """A managed (lifecycle) node, as the runner drives it."""

    def transition(self, name: str) -> None:
        """Make lifecycle transition ``name``; :raises DlaInferError: when it fails."""


class CountingView(Protocol):
    """What the report reads of the dispatcher and the image source."""

    def stats_snapshot(self) -> Dict[str, Any]:
        """:return: the node's counters."""


#: The latency the report shows: image header stamp -> result published.
LATENCY_STAGE = 'end_to_end'
#: Columns of the classifier table.
COLUMNS = ('node', 'requested', 'effective', 'fps', 'p50 ms', 'p99 ms', 'frames in/out/drop',
           'last top-1')


def build_parser() -> argparse.ArgumentParser:
    """:return: the command-line parser."""
    parser = argparse.ArgumentParser(
        prog='multi_accel',
        description='Run one classifier per accelerator (GPU, DLA core 0, DLA core 1 by '
                    'default) in this process, as launch/multi_accel.launch.py does, and '
                    'print what each one really ran on and how fast. ROS arguments may '
                    'follow --ros-args.')
    parser.add_argument('--params-file', default=default_config_path('multi_accel.yaml'),
                        help='topology and parameters (default: %(default)s)')
    parser.add_argument('--model-path', default='',
                        help="model for every classifier (default: the file's model_path)")
    parser.add_argument('--image-topic', default='image', help='camera topic (default: image)')
    parser.add_argument('--use-dispatcher', action='store_true',
                        help='spread the camera frames over the classifiers and merge the '
                             'results in order on classification')
    parser.add_argument('--images', default='', metavar='PATH',
                        help='also publish this image file, folder or video on the camera '
                             'topic (an image_source node in this process)')
    parser.add_argument('--rate', type=float, default=None,
                        help="frames per second of --images (default: the file's rate)")
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME=VALUE',
                        help='set a parameter of every classifier, e.g. -p backend=onnxruntime '
                             '(repeatable; values read as YAML)')
    parser.add_argument('--duration', type=float, default=10.0,
                        help='seconds to run; 0 runs until Ctrl-C (default: 10)')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    return parser


def topology_options(args: argparse.Namespace) -> TopologyOptions:
    """:return: the topology options the command line asks for."""
    if args.rate is not None and not args.images:
        raise DlaInferError('--rate given without --images; it sets the rate of the images '
                            'published by this process')
    source_overrides: Dict[str, Any] = {}
    if args.images:
        source_overrides['source'] = args.images
    if args.rate is not None:
        source_overrides['rate'] = float(args.rate)
    return TopologyOptions(
        image_topic=args.image_topic, use_dispatcher=args.use_dispatcher,
        start_image_source=bool(args.images), model_path=args.model_path,
        classifier_overrides=requested_overrides(args.param, '--param'),
        image_source_overrides=source_overrides)


def create_node(spec: NodeSpec, context: Context) -> Node:
    """
    Create one node of the topology in this process.

    :return: the node, with the spec's name, namespace, parameters and remappings.
    :raises DlaInferError: when the node cannot start, or a parameter has the wrong type
        or is not one of the node's.
    """
    kind = NODE_KINDS[spec.executable]
    module = importlib.import_module(kind.module)
    node_class = getattr(module, kind.class_name)
    parameters = dict(spec.parameters)
    if kind.lifecycle:
        parameters['autostart'] = False  # start_managed() makes the transitions
    overrides = [Parameter(name, value=value) for name, value in parameters.items()]
    cli_args = ['--ros-args']
    for source, target in spec.remappings:
        cli_args += ['-r', f'{source}:={target}']
    try:
        node: Node = node_class(node_name=spec.name, namespace=spec.namespace or None,
                                parameter_overrides=overrides, cli_args=cli_args,
                                context=context)
    except ParameterException as e:
        raise DlaInferError(f'node {spec.name}: {e}') from e
    except DlaInferError as e:
        raise DlaInferError(f'node {spec.name}: {e}') from e
    return node


def start_managed(nodes: Sequence[Tuple[NodeSpec, Node]]) -> None:
    """
    Configure the managed nodes one after another, then activate them all.

    One model load (or engine build) at a time, as a lifecycle manager would, and no
    node serves before every one is ready.

    :raises DlaInferError: naming the node, when a transition fails.
    """
    managed = [(spec, cast(ManagedView, node)) for spec, node in nodes
               if NODE_KINDS[spec.executable].lifecycle]
    for transition in ('configure', 'activate'):
        for spec, node in managed:
            try:
                node.transition(transition)
            except DlaInferError as e:
                raise DlaInferError(f'node {spec.name}: {e}') from e


def spin_for(executor: SingleThreadedExecutor, nodes: Sequence[ServingNode],
             duration: float) -> float:
    """
    Serve until ``duration`` seconds pass (0: forever), a stop signal, shutdown or a failure.

    SIGINT and SIGTERM end the run (the report follows) within one executor wait
    (0.1 s), also where the shell that started this process in the background
    made it ignore SIGINT; this process's own context gets no handlers from rclpy.
    A classifier whose serving thread stopped ends the run too.

    :return: the seconds served.
    """
    start = time.monotonic()
    previous = {}
    if threading.current_thread() is threading.main_thread():  # where Python allows handlers
        previous = {number: signal.signal(number, _stop) for number in STOP_SIGNALS}
    try:
        serve(executor, nodes, duration)
    except KeyboardInterrupt:
        pass  # the report below is what the user stopped for
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return time.monotonic() - start


def _stop(number: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(number).name)


def classifier_row(node: ClassifierView, seconds: float) -> Dict[str, Any]:
    """:return: one report row: devices, fps, latency percentiles, counters, last top-1."""
    report = node.device_report()
    snapshot = node.stats_snapshot()
    counters = snapshot['counters']
    latency = snapshot['stages'].get(LATENCY_STAGE, {})
    last = node.latest_results()
    published = int(counters.get('published', 0))
    return {
        'node': node.get_fully_qualified_name(), 'requested': report.requested,
        'effective': report.effective, 'fallback_reason': report.fallback_reason,
        'backend': report.backend,
        'fps': published / seconds if seconds > 0 else 0.0,
        'p50_ms': latency.get('p50'), 'p99_ms': latency.get('p99'),
        'received': int(counters.get('received', 0)), 'published': published,
        'dropped': int(counters.get('dropped', 0)),
        'top1': {'label': last[0][1], 'score': float(last[0][2])} if last else None,
        'failure': node.failure(),
    }


def collect_report(nodes: Sequence[Tuple[NodeSpec, Any]], seconds: float) -> Dict[str, Any]:
    """:return: ``{'seconds', 'classifiers': [row...], 'dispatcher', 'image_source'}``."""
    report: Dict[str, Any] = {'seconds': seconds, 'classifiers': [], 'dispatcher': None,
                              'image_source': None}
    for spec, node in nodes:
        if spec.executable == CLASSIFIER.executable:
            report['classifiers'].append(classifier_row(cast(ClassifierView, node), seconds))
        elif spec.executable == DISPATCHER.executable:
            report['dispatcher'] = cast(CountingView, node).stats_snapshot()
        elif spec.executable == IMAGE_SOURCE.executable:
            report['image_source'] = cast(CountingView, node).stats_snapshot()
    return report


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """:return: the rows under their headers, columns padded to the widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
             for line in [headers, *rows]]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def format_report(report: Dict[str, Any]) -> str:
    """:return: the report as text tables."""
    rows = []
    for row in report['classifiers']:
        top1 = row['top1']
        rows.append([row['node'], row['requested'], row['effective'], f'{row["fps"]:.1f}',
                     _number(row['p50_ms']), _number(row['p99_ms']),
                     f'{row["received"]}/{row["published"]}/{row["dropped"]}',
                     f'{top1["label"]} {top1["score"]:.2f}' if top1 else '-'])
    text = [f'{len(rows)} classifier nodes, {report["seconds"]:.1f} s; latency = image '
            'stamp -> result published', format_table(COLUMNS, rows)]
    for row in report['classifiers']:
        if row['failure']:
            text.append(f'{row["node"]}: STOPPED SERVING: {row["failure"]}')
        if row['fallback_reason']:
            text.append(f'{row["node"]}: {row["requested"]} requested -> {row["effective"]} '
                        f'({row["fallback_reason"]})')
    if report['dispatcher'] is not None:
        text.append(_dispatcher_text(report['dispatcher'], report['seconds']))
    if report['image_source'] is not None:
        text.append(f'image source: {report["image_source"]["published"]} frames published')
    return '\n'.join(text)


def _dispatcher_text(stats: Dict[str, Any], seconds: float) -> str:
    merged = stats['released'] / seconds if seconds > 0 else 0.0
    rows = [[name, str(t['sent']), str(t['completed']), _number(t['service_ms'])]
            for name, t in stats['targets'].items()]
    return (f'dispatcher: {stats["received"]} frames in, {stats["released"]} merged in order '
            f'({merged:.1f} fps), {stats["dropped"]} dropped, {stats["skipped"]} skipped '
            f'(all targets busy), {stats["late"]} late\n'
            + format_table(('target', 'sent', 'answered', 'service ms'), rows))


def _number(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.1f}'


def parse_command_line(argv: List[str], context: Context) -> argparse.Namespace:
    """
    Read the runner's options, then initialise ``context`` with the ROS arguments.

    :param argv: the full argument list, program name first.
    :return: the runner's options.
    :raises DlaInferError: for a negative ``--duration``, or ROS
        arguments rcl refuses (a malformed ``--params-file`` after ``--ros-args``).
    """
    try:
        args = build_parser().parse_args(remove_ros_args(argv)[1:])
        if args.duration < 0:
            raise DlaInferError(f'--duration {args.duration} given; use 0 or more')
        rclpy.init(args=argv, context=context)
    except rclpy_implementation.RCLError as e:
        raise DlaInferError(f'the ROS arguments are not valid: {e}') from e
    return args


def run(argv: Optional[List[str]] = None) -> int:
    """
    Run the command.

    :param argv: the full argument list, program name first (default: ``sys.argv``);
        arguments after ``--ros-args`` go to ROS.
    :return: 0 after the report; 1 after it when a classifier stopped serving (and so
        ended the run); 2 when the topology cannot start (message on stderr).
    """
    argv = list(sys.argv if argv is None else argv)
    context = Context()
    try:
        args = parse_command_line(argv, context)
    except DlaInferError as e:
        print(f'multi_accel: {e}', file=sys.stderr)
        return 2
    nodes: List[Tuple[NodeSpec, Node]] = []
    executor: Optional[SingleThreadedExecutor] = None
    try:
        specs = build_topology(args.params_file, topology_options(args))
        for spec in specs:
            nodes.append((spec, create_node(spec, context)))
        start_managed(nodes)
        executor = SingleThreadedExecutor(context=context)
        for _, node in nodes:
            executor.add_node(node)
        seconds = spin_for(executor, [cast(ServingNode, n) for _, n in nodes], args.duration)
        report = collect_report(nodes, seconds)
    except DlaInferError as e:
        print(f'multi_accel: {e}', file=sys.stderr)
        return 2
    finally:
        _tear_down(executor, nodes, context)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 1 if any(row['failure'] for row in report['classifiers']) else 0


def _tear_down(executor: Optional[SingleThreadedExecutor],
               nodes: Sequence[Tuple[NodeSpec, Node]], context: Context) -> None:
    if executor is not None:
        executor.shutdown()
    for _, node in reversed(nodes):
        node.destroy_node()
    context.try_shutdown()


def main() -> None:
    """Console-script entry point."""
    exit_process(run())


if __name__ == '__main__':
    main()
