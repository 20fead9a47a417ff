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


"""A bounded hand-over of frames from subscription callbacks to the inference thread."""

import collections
import threading
from typing import Any, Deque, List, NamedTuple


class Frame(NamedTuple):
    """One received image message and when it arrived (monotonic ns)."""

    msg: Any
    compressed: bool
    received_ns: int


class FrameQueue:
    """
    Keeps the newest ``capacity`` frames; older ones are dropped and counted.

    With the default capacity of 1 the inference thread always works on the
    newest frame, which is what a robot wants from a camera.
    """

    def __init__(self, capacity: int) -> None:
        """:param capacity: frames kept at most."""
        self._frames: Deque[Frame] = collections.deque()
        self._capacity = capacity
        self._condition = threading.Condition()
        self._closed = False

    def put(self, frame: Frame) -> int:
        """
        Add a frame.

        :return: the number of older frames dropped to make room (0 or 1).
        """
        with self._condition:
            dropped = 0
            while len(self._frames) >= self._capacity:
                self._frames.popleft()
                dropped += 1
            self._frames.append(frame)
            self._condition.notify()
            return dropped

    def take(self, most: int, timeout: float) -> List[Frame]:
        """
        Wait for frames and take up to ``most`` of them, oldest first.

        :return: the frames, or an empty list on timeout or when closed.
        """
        with self._condition:
            if not self._frames and not self._closed:
                self._condition.wait(timeout)
            taken: List[Frame] = []
            while self._frames and len(taken) < most:
                taken.append(self._frames.popleft())
            return taken

    def clear(self) -> int:
        """:return: the number of frames dropped from the queue, which stays open."""
        with self._condition:
            left = len(self._frames)
            self._frames.clear()
            return left

    def close(self) -> int:
        """
        Wake the waiting thread for good.

        :return: the number of frames still queued, which will not be processed.
        """
        with self._condition:
            self._closed = True
            left = len(self._frames)
            self._frames.clear()
            self._condition.notify_all()
            return left

    @property
    def closed(self) -> bool:
        """:return: True after :meth:`close`."""
        return self._closed
