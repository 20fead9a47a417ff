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
Spread one frame stream over several accelerators and merge the results in frame order.

Pure Python, no ROS: times are plain seconds passed in by the caller, so the
dispatcher node uses a monotonic clock and the tests a simulated one.

* :class:`LoadBalancer` sends each frame to the accelerator that would finish
  it first: the one with the least outstanding work, weighted by its measured
  service time (an exponential moving average). An accelerator never holds
  more than ``max_in_flight`` frames, so a frame arriving while every one is
  full is skipped at once instead of waiting in a queue that only adds
  latency. Under load every accelerator stays busy, and each gets a share of
  the frames proportional to its throughput. Accelerators within
  :data:`TIE_TOLERANCE` (and :data:`TIE_SLACK`) of the best take turns (the one sent a frame least
  recently first), so equal ones share a quiet stream instead of the first
  taking it all; only those the caller says are available (subscribed) are chosen.
* :class:`ReorderBuffer` releases results in frame order. It holds at most
  ``window`` frames; a frame whose result has not come when the window is full
  or when its ``timeout`` passes is dropped (counted), and a result arriving
  after that is discarded (counted as late), never released out of order.
* :class:`Dispatcher` ties the two together. Frames are identified by arrival;
  the caller's tag (the image's stamp and frame id) finds a result's frame among
  those in flight on the accelerator that answered, oldest first, so frames
  that share a tag (unstamped ones) are told apart.
"""

import collections
import dataclasses
from typing import (Collection, Counter, Deque, Dict, Generic, Hashable, List, Optional,
                    Sequence, Tuple, TypeVar)

from dla_infer_ros.errors import DlaInferError

ResultT = TypeVar('ResultT')

#: Service time assumed for an accelerator not measured yet, when none is (seconds).
#: Only the ratio between accelerators matters, so any positive value works.
DEFAULT_SERVICE_TIME = 1.0
#: Accelerators whose expected finish is within this fraction of the best, plus
#: :data:`TIE_SLACK`, are equal: they take turns. Far from the 4x between a GPU and a DLA
#: core, wide enough for the noise between two equal DLA cores or two nodes of one model
#: (whose service times, measured through DDS, vary by a millisecond or two).
TIE_TOLERANCE = 0.2
TIE_SLACK = 0.002  # seconds
#: An idle accelerator measured at most this many times slower than the best, not sent a
#: frame for :data:`PROBE_INTERVAL` seconds, takes the next one: a measurement taken while
#: the graph started (or the host was busy) is renewed instead of shutting an equal
#: accelerator out for good. A GPU four times faster than a DLA core keeps a quiet stream.
PROBE_FACTOR = 2.5
PROBE_INTERVAL = 1.0  # seconds


@dataclasses.dataclass
class _Target:
    """What the balancer knows of one accelerator."""

    name: str
    in_flight: 'collections.OrderedDict[Hashable, float]'  # frame key -> time sent
    service_time: Optional[float] = None  # moving average, seconds
    last_done: float = float('-inf')
    last_sent: float = float('-inf')
    completed: int = 0


class LoadBalancer:
    """Choose an accelerator per frame by least outstanding work, weighted by service time."""

    def __init__(self, targets: Sequence[str], max_in_flight: int = 2,
                 smoothing: float = 0.2) -> None:
        """
        Start with nothing measured and nothing in flight.

        :param targets: accelerator names, in order of preference for ties.
        :param max_in_flight: most frames one accelerator holds at once.
        :param smoothing: weight of the newest service time in the moving average, (0, 1].
        :raises DlaInferError: for no targets, duplicates or out-of-range values.
        """
        if not targets:
            raise DlaInferError('the dispatcher needs at least one target; got none')
        if len(set(targets)) != len(targets):
            raise DlaInferError(f'targets must be distinct; got {list(targets)}')
        if max_in_flight < 1:
            raise DlaInferError(f'max_in_flight={max_in_flight} requested; must be >= 1')
        if not 0.0 < smoothing <= 1.0:
            raise DlaInferError(f'smoothing={smoothing} requested; allowed (0, 1]')
        self._targets = [_Target(name, collections.OrderedDict()) for name in targets]
        self._by_name = {t.name: t for t in self._targets}
        self._owner: Dict[Hashable, _Target] = {}
        self.max_in_flight = max_in_flight
        self.smoothing = smoothing

    @property
    def targets(self) -> List[str]:
        """:return: the accelerator names."""
        return [t.name for t in self._targets]

    def choose(self, available: Optional[Collection[str]] = None,
               now: Optional[float] = None) -> Optional[str]:
        """
        Pick the accelerator that would finish one more frame first.

        Among those within :data:`TIE_TOLERANCE` of it, and those due a new measurement
        (:data:`PROBE_INTERVAL`), the one sent a frame least recently (then the first in
        order).

        :param available: the accelerators that may be chosen (default: all).
        :param now: the time (same clock as :meth:`sent`); without it nothing is probed.
        :return: its name, or None when every available accelerator is full.
        """
        finishes = [((len(t.in_flight) + 1) * self._service_time(t), t) for t in self._targets
                    if len(t.in_flight) < self.max_in_flight
                    and (available is None or t.name in available)]
        if not finishes:
            return None
        best_finish = min(finish for finish, _ in finishes)
        limit = best_finish * (1.0 + TIE_TOLERANCE) + TIE_SLACK
        tied = [t for finish, t in finishes if finish <= limit or (
            now is not None and not t.in_flight and now - t.last_sent >= PROBE_INTERVAL
            and finish <= best_finish * PROBE_FACTOR)]
        return min(tied, key=lambda t: t.last_sent).name

    def sent(self, target: str, key: Hashable, now: float) -> None:
        """Record that frame ``key`` went to ``target`` at ``now``."""
        state = self._by_name[target]
        state.in_flight[key] = now
        state.last_sent = now
        self._owner[key] = state

    def done(self, target: str, key: Hashable, now: float) -> Optional[float]:
        """
        Record a result and update the target's service time.

        The service time counts from when the accelerator could start the frame:
        the later of its sending and the previous result, as for a FIFO server. An
        accelerator's first result is not measured (its warm-up).

        :return: the measured service time, or None for a frame not in flight there.
        """
        state = self._by_name.get(target)
        if state is None or self._owner.get(key) is not state:
            return None
        sent_at = state.in_flight.pop(key)
        del self._owner[key]
        service = max(now - max(sent_at, state.last_done), 0.0)
        state.last_done = now
        state.completed += 1
        if state.completed == 1:
            return service  # the first result carries the warm-up (first run, allocation)
        if state.service_time is None:
            state.service_time = service
        else:
            state.service_time += self.smoothing * (service - state.service_time)
        return service

    def forget(self, key: Hashable) -> Optional[str]:
        """
        Stop waiting for ``key`` (dropped): it no longer counts as outstanding.

        :return: the target it was sent to, or None if it was not in flight.
        """
        state = self._owner.pop(key, None)
        if state is None:
            return None
        state.in_flight.pop(key, None)
        return state.name

    def in_flight(self, target: str) -> int:
        """:return: frames sent to ``target`` and not answered or forgotten."""
        return len(self._by_name[target].in_flight)

    def service_time(self, target: str) -> Optional[float]:
        """:return: the measured service time of ``target``, None before its first result."""
        return self._by_name[target].service_time

    def completed(self, target: str) -> int:
        """:return: results received from ``target``."""
        return self._by_name[target].completed

    def _service_time(self, target: _Target) -> float:
        """
        Use the measurement, or for an accelerator not measured yet the best one.

        So a new accelerator ties with the best and gets its turn: measured, it takes
        the share its speed earns.
        """
        if target.service_time is not None:
            return max(target.service_time, 1e-9)
        measured = [t.service_time for t in self._targets if t.service_time is not None]
        return max(min(measured), 1e-9) if measured else DEFAULT_SERVICE_TIME


@dataclasses.dataclass
class _Slot(Generic[ResultT]):
    key: Hashable
    deadline: float
    done: bool = False
    result: Optional[ResultT] = None


@dataclasses.dataclass
class ReorderStats:
    """Counters of a :class:`ReorderBuffer`."""

    added: int = 0
    released: int = 0
    dropped: int = 0
    late: int = 0


class ReorderBuffer(Generic[ResultT]):
    """Release results in the order their frames were added, within a bounded window."""

    def __init__(self, window: int, timeout: float) -> None:
        """
        Start empty.

        :param window: most frames held, waiting or done but not yet released.
        :param timeout: seconds a frame waits for its result before it is dropped.
        :raises DlaInferError: for a window below 1 or a timeout not above 0.
        """
        if window < 1:
            raise DlaInferError(f'window={window} requested; must be >= 1')
        if timeout <= 0.0:
            raise DlaInferError(f'timeout={timeout} requested; must be > 0 seconds')
        self.window = window
        self.timeout = timeout
        self.stats = ReorderStats()
        self._slots: Deque[_Slot[ResultT]] = collections.deque()
        self._by_key: Dict[Hashable, _Slot[ResultT]] = {}

    def __len__(self) -> int:
        """:return: frames held."""
        return len(self._slots)

    def __contains__(self, key: Hashable) -> bool:
        """:return: True while frame ``key`` is held."""
        return key in self._by_key

    def add(self, key: Hashable,
            now: float) -> Tuple[List[Tuple[Hashable, ResultT]], List[Hashable]]:
        """
        Append a frame; make room first by dropping the oldest if the window is full.

        :return: (results released, in order; keys dropped).
        :raises DlaInferError: when ``key`` is already held.
        """
        if key in self._by_key:
            raise DlaInferError(f'frame {key!r} is already waiting for its result')
        released: List[Tuple[Hashable, ResultT]] = []
        dropped: List[Hashable] = []
        while len(self._slots) >= self.window:
            dropped.append(self._drop_head())
            self._release_ready(released)
        slot: _Slot[ResultT] = _Slot(key, now + self.timeout)
        self._slots.append(slot)
        self._by_key[key] = slot
        self.stats.added += 1
        return released, dropped

    def complete(self, key: Hashable, result: ResultT,
                 now: float) -> Tuple[List[Tuple[Hashable, ResultT]], List[Hashable]]:
        """
        Store the result of ``key`` and release what is in order.

        A result for a frame no longer held (dropped, or never added) counts as late.

        :return: (results released, in order; keys dropped because they timed out).
        """
        slot = self._by_key.get(key)
        if slot is None or slot.done:
            self.stats.late += 1
            return [], []
        slot.done, slot.result = True, result
        return self.expire(now)

    def expire(self, now: float) -> Tuple[List[Tuple[Hashable, ResultT]], List[Hashable]]:
        """
        Release what is in order, dropping unfinished frames past their deadline.

        :return: (results released, in order; keys dropped).
        """
        released: List[Tuple[Hashable, ResultT]] = []
        dropped: List[Hashable] = []
        self._release_ready(released)
        while self._slots and not self._slots[0].done and self._slots[0].deadline <= now:
            dropped.append(self._drop_head())
            self._release_ready(released)
        return released, dropped

    def _release_ready(self, released: List[Tuple[Hashable, ResultT]]) -> None:
        while self._slots and self._slots[0].done:
            slot = self._slots.popleft()
            del self._by_key[slot.key]
            self.stats.released += 1
            released.append((slot.key, slot.result))  # type: ignore[arg-type]

    def _drop_head(self) -> Hashable:
        slot = self._slots.popleft()
        del self._by_key[slot.key]
        self.stats.dropped += 1
        return slot.key


@dataclasses.dataclass
class DispatchStats:
    """Counters of a :class:`Dispatcher`; ``per_target`` maps name -> frames sent."""

    received: int = 0
    skipped: int = 0
    duplicates: int = 0
    per_target: Dict[str, int] = dataclasses.field(default_factory=dict)


class Dispatcher(Generic[ResultT]):
    """Send frames to targets (:class:`LoadBalancer`); merge results (:class:`ReorderBuffer`)."""

    def __init__(self, targets: Sequence[str], window: int = 16, timeout: float = 1.0,
                 max_in_flight: int = 2, smoothing: float = 0.2) -> None:
        """
        See :class:`LoadBalancer` and :class:`ReorderBuffer` for the arguments.

        :raises DlaInferError: also when ``window`` cannot hold every frame in flight
            (``len(targets) * max_in_flight``), which would drop frames still running.
        """
        if window < len(targets) * max_in_flight:
            raise DlaInferError(
                f'window={window} requested with {len(targets)} targets x max_in_flight='
                f'{max_in_flight}; the window must hold at least '
                f'{len(targets) * max_in_flight} frames')
        self.balancer = LoadBalancer(targets, max_in_flight, smoothing)
        self.buffer: ReorderBuffer[ResultT] = ReorderBuffer(window, timeout)
        self.stats = DispatchStats(per_target=dict.fromkeys(targets, 0))
        self._arrivals = 0  # frame numbers, by arrival
        self._tags: Dict[Hashable, Tuple[str, Hashable]] = {}  # frame -> (target, tag)
        self._waiting: Dict[Tuple[str, Hashable], Deque[Hashable]] = {}  # oldest first
        self._held: Counter[Hashable] = collections.Counter()  # tags of frames held

    def submit(self, tag: Hashable, now: float, unique: bool = True,
               available: Optional[Collection[str]] = None,
               ) -> Tuple[Optional[str], List[Tuple[Hashable, ResultT]]]:
        """
        Take a new frame.

        :param tag: what the frame's result will carry back (stamp and frame id).
        :param unique: the tag names one frame, so a frame with a tag already held is
            a duplicate (skipped); False for tags frames share (an unstamped camera).
        :param available: the accelerators that may take it (default: all).
        :return: (the accelerator to send it to, or None to skip it because every
            available accelerator is full or it is a duplicate; (tag, result) released,
            in frame order).
        """
        self.stats.received += 1
        if unique and self._held[tag]:
            self.stats.duplicates += 1
            return None, []
        target = self.balancer.choose(available, now)
        if target is None:
            self.stats.skipped += 1
            return None, []
        frame, self._arrivals = self._arrivals, self._arrivals + 1
        released, dropped = self.buffer.add(frame, now)
        self._forget(dropped)
        self._tags[frame] = (target, tag)
        self._held[tag] += 1
        self._waiting.setdefault((target, tag), collections.deque()).append(frame)
        self.balancer.sent(target, frame, now)
        self.stats.per_target[target] += 1
        return target, self._untag(released)

    def complete(self, target: str, tag: Hashable, result: ResultT,
                 now: float) -> List[Tuple[Hashable, ResultT]]:
        """
        Take a result from ``target``: the oldest frame in flight there with this tag.

        A result that matches no frame in flight there (dropped, or never sent) counts
        as late.

        :return: (tag, result) released, in frame order.
        """
        waiting = self._waiting.get((target, tag))
        if not waiting:
            self.buffer.stats.late += 1
            return self.expire(now)
        frame = waiting.popleft()
        if not waiting:
            del self._waiting[(target, tag)]
        self.balancer.done(target, frame, now)
        released, dropped = self.buffer.complete(frame, result, now)
        self._forget(dropped)
        return self._untag(released)

    def expire(self, now: float) -> List[Tuple[Hashable, ResultT]]:
        """
        Drop frames past their timeout; call it periodically.

        :return: (tag, result) released, in frame order.
        """
        released, dropped = self.buffer.expire(now)
        self._forget(dropped)
        return self._untag(released)

    def _untag(self, released: List[Tuple[Hashable, ResultT]]) -> List[Tuple[Hashable, ResultT]]:
        return [(self._release_tag(frame), result) for frame, result in released]

    def _release_tag(self, frame: Hashable) -> Hashable:
        _, tag = self._tags.pop(frame)
        self._held[tag] -= 1
        if not self._held[tag]:
            del self._held[tag]
        return tag

    def _forget(self, dropped: List[Hashable]) -> None:
        for frame in dropped:
            self.balancer.forget(frame)
            target, tag = self._tags[frame]
            waiting = self._waiting.get((target, tag))
            if waiting is not None and frame in waiting:
                waiting.remove(frame)
                if not waiting:
                    del self._waiting[(target, tag)]
            self._release_tag(frame)
