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


"""The one ``main`` of every node, in the Humble form, and the loop that serves nodes."""

import inspect
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, cast, List, Mapping, Optional, Protocol, Sequence, Tuple

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.nodes.parameters import parameter_help

#: Seconds the executor waits at most; also how soon a stopped node or the end of a
#: timed run is noticed (a node that stops serving also wakes it at once).
WAIT_S = 0.1
#: Threads shutdown stopped waiting for (see :func:`abandon`).
_abandoned: List[threading.Thread] = []


class ServingNode(Protocol):
    """What :func:`spin_node` and the in-process runner read from a node of this package."""

    def failure(self) -> str:
        """:return: why the node stopped serving (it then wakes the executor), or ''."""

    def stop_report(self) -> str:
        """:return: one line of what the node did, logged when it stops."""

    def finished(self) -> bool:
        """:return: True once the node ended its work as asked (a lifecycle shutdown)."""


def abandon(thread: threading.Thread) -> None:
    """
    Record a node's thread that shutdown stopped waiting for (busy in a library call).

    :func:`exit_process` then ends the process without Python's finalization,
    which could abort inside that call (status -6) once the interpreter is gone.
    """
    _abandoned.append(thread)


def exit_process(status: int) -> None:
    """
    End the process with ``status``, at once if a thread of a node was abandoned.

    :raises SystemExit: with ``status``, where no thread was abandoned.
    """
    if any(thread.is_alive() for thread in _abandoned):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    raise SystemExit(status)


def serve(executor: Executor, nodes: Sequence[ServingNode], duration: float = 0.0) -> float:
    """
    Run ``executor`` until shutdown, ``duration`` seconds (0: no limit), a node's failure or end.

    :return: the seconds served.
    :raises KeyboardInterrupt: on Ctrl-C (or what the caller's signal handlers raise).
    """
    start = time.monotonic()
    deadline = start + duration if duration > 0 else float('inf')
    context = executor.context
    try:
        while (context.ok() and time.monotonic() < deadline
               and not any(node.failure() or node.finished() for node in nodes)):
            executor.spin_once(timeout_sec=WAIT_S)
    except ExternalShutdownException:
        pass
    except rclpy_implementation.RCLError:
        if context.ok():
            raise
        # A stop signal shut the context down while the executor built its wait set.
    return time.monotonic() - start


def ignore_stop_signals() -> None:
    """
    Let no further SIGINT or SIGTERM interrupt the tear-down that one of them started.

    ``ros2 run`` forwards Ctrl-C to a node that the terminal interrupted already: rclpy
    then shut the context down again while the node's publishers were being destroyed,
    which crashed the process now and then (SIGSEGV in ``Publisher.destroy``). The
    tear-down takes about a second at most (:data:`WAIT_S`, the node's own waits).
    """
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)


def spin_node(make_node: Callable[[], Node], name: str, args: Optional[List[str]] = None,
              parameters: Optional[Mapping[str, Tuple[Any, Any]]] = None) -> None:
    """
    Initialise rclpy, make the node, serve it until shutdown, clean up.

    ``-h`` or ``--help`` (before ``--ros-args``) prints the node's parameters and
    exits 0 without starting anything.

    A node that cannot start (:class:`DlaInferError`, a parameter of the wrong
    type or out of range, or ROS arguments rcl cannot read, such as a malformed
    ``--params-file``) logs one fatal line and the process exits with status 1;
    so does a node whose serving thread stopped (:meth:`ServingNode.failure`).
    Ctrl-C, SIGTERM and external shutdown end with the node's
    :meth:`ServingNode.stop_report` in the log and status 0 (:func:`exit_process`),
    as does a node shut down through its lifecycle (:meth:`ServingNode.finished`).

    :param make_node: builds the node (after ``rclpy.init``).
    :param name: logger name for the start-up failure.
    :param args: command-line arguments for ``rclpy.init``.
    :param parameters: the node's declarations, name -> (default, descriptor), for ``--help``.
    """
    try:
        own = remove_ros_args(list(sys.argv if args is None else args))[1:]
    except rclpy_implementation.RCLError:
        own = []  # ROS arguments rcl cannot read: rclpy.init() below says so
    if '-h' in own or '--help' in own:
        summary = (inspect.getdoc(make_node) or '').split('\n\n')[0]
        print(parameter_help(name, summary, parameters or {}))
        raise SystemExit(0)
    try:
        rclpy.init(args=args)
    except rclpy_implementation.RCLError as e:
        get_logger(name).fatal(f'cannot start: {e}')
        raise SystemExit(1)
    node: Optional[Node] = None
    executor: Optional[SingleThreadedExecutor] = None
    try:
        node = make_node()
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        serve(executor, [cast(ServingNode, node)])
    except KeyboardInterrupt:
        pass
    except (DlaInferError, ParameterException) as e:
        get_logger(name).fatal(f'cannot start: {e}')
        raise SystemExit(1)
    finally:
        ignore_stop_signals()
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    if node is None:
        return
    served = cast(ServingNode, node)
    node.get_logger().info(f'stopped; {served.stop_report()}')
    exit_process(1 if served.failure() else 0)
