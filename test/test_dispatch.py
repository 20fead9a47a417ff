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

"""The dispatcher core: load balancing by measured service time, in-order release, drops."""

import heapq
import random
from typing import Dict, Hashable, List, Optional, Tuple

import pytest

from dla_infer_ros.dispatch import Dispatcher, LoadBalancer, ReorderBuffer
from dla_infer_ros.errors import DlaInferError


def simulate(service_times: Dict[str, float], frame_interval: float, frames: int,
             lose: Optional[Dict[str, int]] = None, **kwargs: float) -> Tuple[
                 Dispatcher[int], List[int], float]:
    """
    Run a dispatcher against simulated FIFO accelerators, on simulated time.

    :param service_times: seconds each accelerator needs per frame.
    :param frame_interval: seconds between camera frames.
    :param lose: every Nth frame an accelerator never answers, by name.
    :return: the dispatcher, the frame numbers released in order, the time of the last event.
    """
    dispatcher: Dispatcher[int] = Dispatcher(list(service_times), **kwargs)  # type: ignore
    events: List[Tuple[float, int, str, Hashable]] = []  # (time, tiebreak, target, key)
    busy_until = dict.fromkeys(service_times, 0.0)
    sent = dict.fromkeys(service_times, 0)
    released: List[int] = []
    tiebreak = 0
    now = 0.0
    for frame in range(frames):
        now = frame * frame_interval
        while events and events[0][0] <= now:
            done_at, _, target, key = heapq.heappop(events)
            released += [r for _, r in dispatcher.complete(target, key, int(key), done_at)]
        released += [r for _, r in dispatcher.expire(now)]
        target, out = dispatcher.submit(frame, now)
        released += [r for _, r in out]
        if target is None:
            continue
        sent[target] += 1
        finish = max(now, busy_until[target]) + service_times[target]
        busy_until[target] = finish
        if lose and target in lose and sent[target] % lose[target] == 0:
            continue
        tiebreak += 1
        heapq.heappush(events, (finish, tiebreak, target, frame))
    while events:
        now, _, target, key = heapq.heappop(events)
        released += [r for _, r in dispatcher.complete(target, key, int(key), now)]
    released += [r for _, r in dispatcher.expire(now + 1000.0)]
    return dispatcher, released, now


class TestLoadBalancer:

    def test_slow_and_fast_backend_get_shares_proportional_to_throughput(self) -> None:
        # 1 s and 3 s per frame: throughputs 1 and 1/3 fps, so shares 3/4 and 1/4,
        # with frames coming faster (4 fps) than both together can serve.
        dispatcher, released, _ = simulate({'slow': 3.0, 'fast': 1.0}, 0.25, 2000, timeout=20.0)
        sent = dispatcher.stats.per_target
        fast_share = sent['fast'] / (sent['fast'] + sent['slow'])
        assert fast_share == pytest.approx(0.75, abs=0.02)
        assert dispatcher.balancer.service_time('fast') == pytest.approx(1.0)
        assert dispatcher.balancer.service_time('slow') == pytest.approx(3.0)

    def test_aggregate_throughput_is_the_sum_of_the_accelerators(self) -> None:
        # GPU 10 ms, two DLA cores 30 ms each: 100 + 33 + 33 = 167 frames/s in all.
        dispatcher, released, end = simulate(
            {'gpu': 0.010, 'dla0': 0.030, 'dla1': 0.030}, 0.002, 5000)
        throughput = len(released) / end
        assert throughput == pytest.approx(1 / 0.010 + 2 / 0.030, rel=0.03)
        assert dispatcher.buffer.stats.dropped == 0

    def test_camera_slower_than_the_fastest_accelerator_uses_only_it(self) -> None:
        dispatcher, released, _ = simulate({'slow': 3.0, 'fast': 1.0}, 1.5, 200, timeout=20.0)
        # Frame 0 goes to the first target, before anything is measured, and frame 2 too
        # (a first result is a warm-up, not a measurement); then only to 'fast', which
        # finishes every frame before the next comes.
        assert dispatcher.stats.per_target == {'slow': 2, 'fast': 198}
        assert released == list(range(200))

    def test_unmeasured_targets_are_tried_before_loading_one_twice(self) -> None:
        balancer = LoadBalancer(['a', 'b', 'c'], max_in_flight=2)
        chosen = []
        for key in range(3):
            target = balancer.choose()
            assert target is not None
            balancer.sent(target, key, 0.0)
            chosen.append(target)
        assert chosen == ['a', 'b', 'c']

    def test_equal_accelerators_share_a_quiet_stream(self) -> None:
        # A frame every 5 s, 1 s each: any one could take every frame; they take turns.
        dispatcher, released, _ = simulate({'dla0': 1.0, 'dla1': 1.0, 'cpu': 1.05}, 5.0, 30)
        assert dispatcher.stats.per_target == {'dla0': 10, 'dla1': 10, 'cpu': 10}
        assert released == list(range(30))

    def test_a_slow_measurement_of_an_equal_accelerator_is_renewed(self) -> None:
        # Both serve a frame in 15 ms; b was measured once at 30 ms (the graph starting).
        balancer = LoadBalancer(['a', 'b'], max_in_flight=2)
        for key, (target, took) in enumerate([('a', 0.5), ('b', 0.5), ('a', 0.015),
                                             ('b', 0.030)]):
            balancer.sent(target, key, float(key))
            balancer.done(target, key, key + took)
        chosen = []
        for frame in range(100):  # 5 Hz: either one could take every frame
            now = 10.0 + frame * 0.2
            target = balancer.choose(now=now)
            assert target is not None
            balancer.sent(target, 100 + frame, now)
            balancer.done(target, 100 + frame, now + 0.015)
            chosen.append(target)
        assert 'b' in chosen[:10]  # re-measured within the probe interval
        assert chosen[50:].count('b') >= 20, chosen  # then tied again: they take turns
        # a four times slower accelerator is not probed: the quiet stream stays on the fast one
        slow = LoadBalancer(['gpu', 'dla'], max_in_flight=2)
        for key, (target, took) in enumerate([('gpu', 0.5), ('dla', 0.5), ('gpu', 0.012),
                                             ('dla', 0.048)]):
            slow.sent(target, key, float(key))
            slow.done(target, key, key + took)
        assert {slow.choose(now=10.0 + i) for i in range(10)} == {'gpu'}

    def test_only_available_accelerators_are_chosen(self) -> None:
        balancer = LoadBalancer(['a', 'b'], max_in_flight=1)
        assert balancer.choose(available=['b']) == 'b'
        assert balancer.choose(available=[]) is None
        balancer.sent('b', 1, 0.0)
        assert balancer.choose(available=['b']) is None  # full
        assert balancer.choose() == 'a'

    def test_full_targets_are_not_chosen(self) -> None:
        balancer = LoadBalancer(['a'], max_in_flight=2)
        balancer.sent('a', 1, 0.0)
        balancer.sent('a', 2, 0.0)
        assert balancer.choose() is None
        assert balancer.forget(1) == 'a'
        assert balancer.choose() == 'a'

    def test_service_time_counts_from_the_previous_result_when_queued(self) -> None:
        balancer = LoadBalancer(['a'], max_in_flight=2, smoothing=1.0)
        balancer.sent('a', 1, 0.0)
        balancer.sent('a', 2, 0.0)
        assert balancer.done('a', 1, 2.0) == pytest.approx(2.0)
        assert balancer.service_time('a') is None  # a first result is the warm-up
        assert balancer.done('a', 2, 4.0) == pytest.approx(2.0)  # not 4: it waited for frame 1
        assert balancer.service_time('a') == pytest.approx(2.0)
        assert balancer.done('a', 3, 5.0) is None  # never sent
        assert balancer.completed('a') == 2

    @pytest.mark.parametrize('kwargs, message', [
        ({'targets': []}, 'at least one target'),
        ({'targets': ['a', 'a']}, 'distinct'),
        ({'targets': ['a'], 'max_in_flight': 0}, 'max_in_flight=0'),
        ({'targets': ['a'], 'smoothing': 0.0}, 'smoothing=0.0'),
    ])
    def test_rejects_bad_settings(self, kwargs: Dict[str, object], message: str) -> None:
        with pytest.raises(DlaInferError, match=message):
            LoadBalancer(**kwargs)  # type: ignore[arg-type]


class TestReorderBuffer:

    def test_releases_in_frame_order_whatever_the_completion_order(self) -> None:
        buffer: ReorderBuffer[str] = ReorderBuffer(window=8, timeout=10.0)
        for key in range(4):
            buffer.add(key, 0.0)
        assert buffer.complete(2, 'r2', 1.0) == ([], [])
        assert buffer.complete(1, 'r1', 1.0) == ([], [])
        released, dropped = buffer.complete(0, 'r0', 1.0)
        assert released == [(0, 'r0'), (1, 'r1'), (2, 'r2')] and dropped == []
        assert buffer.complete(3, 'r3', 1.0) == ([(3, 'r3')], [])
        assert len(buffer) == 0

    def test_a_full_window_drops_the_oldest_unfinished_frame(self) -> None:
        buffer: ReorderBuffer[str] = ReorderBuffer(window=3, timeout=10.0)
        for key in range(3):
            buffer.add(key, 0.0)
        buffer.complete(1, 'r1', 0.5)
        released, dropped = buffer.add(3, 1.0)
        assert dropped == [0] and released == [(1, 'r1')]
        assert buffer.stats.dropped == 1 and len(buffer) == 2

    def test_timeout_drops_and_a_late_result_is_not_released(self) -> None:
        buffer: ReorderBuffer[str] = ReorderBuffer(window=8, timeout=1.0)
        buffer.add('a', 0.0)
        buffer.add('b', 0.5)
        buffer.complete('b', 'rb', 0.6)
        assert buffer.expire(0.9) == ([], [])
        assert buffer.expire(1.0) == ([('b', 'rb')], ['a'])
        assert buffer.complete('a', 'ra', 1.1) == ([], [])
        assert (buffer.stats.dropped, buffer.stats.late, buffer.stats.released) == (1, 1, 1)

    def test_a_key_cannot_wait_twice(self) -> None:
        buffer: ReorderBuffer[str] = ReorderBuffer(window=2, timeout=1.0)
        buffer.add('a', 0.0)
        with pytest.raises(DlaInferError, match='already waiting'):
            buffer.add('a', 0.1)

    def test_never_reorders_and_never_exceeds_its_window(self) -> None:
        rng = random.Random(6)
        window = 5
        buffer: ReorderBuffer[int] = ReorderBuffer(window=window, timeout=3.0)
        pending: List[int] = []
        out: List[int] = []
        dropped: List[int] = []
        for step in range(3000):
            now = step * 0.1
            if rng.random() < 0.55:
                released, lost = buffer.add(step, now)
                pending.append(step)
            elif pending:
                key = pending.pop(rng.randrange(len(pending)))
                released, lost = buffer.complete(key, key, now)
            else:
                released, lost = buffer.expire(now)
            out += [r for _, r in released]
            dropped += lost
            assert len(buffer) <= window
        assert out == sorted(out) and len(set(out)) == len(out)
        assert not set(out) & set(dropped)
        assert buffer.stats.dropped == len(dropped) > 0
        assert buffer.stats.released == len(out) > 0

    @pytest.mark.parametrize('window, timeout, message', [
        (0, 1.0, 'window=0'), (1, 0.0, 'timeout=0.0')])
    def test_rejects_bad_settings(self, window: int, timeout: float, message: str) -> None:
        with pytest.raises(DlaInferError, match=message):
            ReorderBuffer(window, timeout)


class TestDispatcher:

    def test_lost_results_count_as_drops_and_free_the_accelerator(self) -> None:
        # 'b' never answers every 5th frame it gets; order holds and 'b' keeps getting work.
        dispatcher, released, _ = simulate({'a': 1.0, 'b': 1.0}, 0.5, 400,
                                           lose={'b': 5}, timeout=4.0)
        lost = dispatcher.stats.per_target['b'] // 5
        assert dispatcher.buffer.stats.dropped == lost > 0
        assert released == sorted(released)
        assert len(released) == sum(dispatcher.stats.per_target.values()) - lost
        assert dispatcher.balancer.in_flight('b') == 0

    def test_frames_arriving_when_everything_is_full_are_skipped(self) -> None:
        dispatcher: Dispatcher[str] = Dispatcher(['a'], window=4, max_in_flight=1)
        assert dispatcher.submit(1, 0.0) == ('a', [])
        assert dispatcher.submit(2, 0.1) == (None, [])
        assert dispatcher.complete('a', 1, 'r1', 0.2) == [(1, 'r1')]
        assert dispatcher.submit(1, 0.3) == ('a', [])
        assert dispatcher.submit(1, 0.4) == (None, [])  # same frame again
        assert (dispatcher.stats.skipped, dispatcher.stats.duplicates) == (1, 1)

    def test_frames_sharing_a_tag_are_told_apart_by_arrival(self) -> None:
        # An unstamped camera: every frame carries the same tag back.
        dispatcher: Dispatcher[str] = Dispatcher(['a', 'b'], window=8, max_in_flight=2)
        assert dispatcher.submit('x', 0.0, unique=False) == ('a', [])
        assert dispatcher.submit('x', 0.1, unique=False) == ('b', [])  # the equal one's turn
        assert dispatcher.submit('x', 0.2, unique=False) == ('a', [])
        assert dispatcher.complete('b', 'x', 'second', 0.3) == []  # the first is not back
        assert dispatcher.complete('a', 'x', 'first', 0.4) == [('x', 'first'), ('x', 'second')]
        assert dispatcher.complete('a', 'x', 'third', 0.5) == [('x', 'third')]
        assert dispatcher.complete('a', 'x', 'extra', 0.6) == []  # nothing in flight: late
        assert (dispatcher.stats.duplicates, dispatcher.buffer.stats.late) == (0, 1)

    def test_unstamped_stream_is_merged_whole(self) -> None:
        dispatcher: Dispatcher[int] = Dispatcher(['a', 'b', 'c'], window=16, max_in_flight=2,
                                                 timeout=10.0)
        merged, in_flight = [], []
        for frame in range(500):
            target, out = dispatcher.submit(0, float(frame), unique=False)
            merged += [r for _, r in out]
            assert target is not None
            in_flight.append((target, frame))
            if len(in_flight) == 3:  # every accelerator answers its frames in order
                for done, number in in_flight:
                    merged += [r for _, r in dispatcher.complete(done, 0, number, frame + 0.5)]
                in_flight = []
        for done, number in in_flight:
            merged += [r for _, r in dispatcher.complete(done, 0, number, 500.0)]
        assert merged == list(range(500)) and dispatcher.buffer.stats.dropped == 0

    def test_window_must_hold_every_frame_in_flight(self) -> None:
        with pytest.raises(DlaInferError, match='at least 6 frames'):
            Dispatcher(['a', 'b', 'c'], window=5, max_in_flight=2)
