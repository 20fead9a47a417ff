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


"""Command-line tools: classify_image, dla_check, dla_zoo, trt_engine_info, multi_accel."""

import signal
import sys
import threading
from typing import Any, Callable, List

#: Signals that stop a command: Ctrl-C, and what systemd, docker stop and ros2 launch send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_interruptibly(name: str, run: Callable[[], int]) -> int:
    """
    Run a command that SIGINT and SIGTERM end with one line instead of a traceback.

    Also where a shell started the command in the background with SIGINT ignored.
    A signal is handled between Python statements: a long call into a library (a
    TensorRT engine build) finishes first.

    :param name: the command, for the line on stderr.
    :param run: the command; returns its exit status.
    :return: the status of ``run``, or 128 + the signal number when stopped.
    """
    caught: List[int] = []

    def stop(number: int, frame: Any) -> None:
        caught.append(number)
        raise KeyboardInterrupt(signal.Signals(number).name)
    previous = {}
    if threading.current_thread() is threading.main_thread():  # where Python allows handlers
        previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        return run()
    except KeyboardInterrupt:
        number = caught[-1] if caught else signal.SIGINT
        print(f'{name}: stopped by {signal.Signals(number).name}', file=sys.stderr)
        return 128 + int(number)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
