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


"""The engine cache: file format checks, locking, and a real two-process race."""

import logging
import multiprocessing
import os
import time
from typing import Any, Dict, List, Tuple

import pytest

from dla_infer_ros.backends.tensorrt import engine_cache
from dla_infer_ros.backends.tensorrt.engine_cache import (CacheKey, decode_plan_file,
                                                          default_cache_dir, encode_plan_file,
                                                          EngineCache, PlanFileError)
from dla_infer_ros.errors import DlaInferError

KEY = CacheKey.of({'model_sha256': 'ab' * 32, 'tensorrt': '10.3.0', 'device': 'DLA0',
                   'batch': 1})


def test_key_is_order_independent_and_sensitive_to_every_field() -> None:
    same = CacheKey.of({'batch': 1, 'device': 'DLA0', 'tensorrt': '10.3.0',
                        'model_sha256': 'ab' * 32})
    assert same.digest == KEY.digest and len(KEY.digest) == 64
    for field, value in (('batch', 2), ('device', 'DLA1'), ('tensorrt', '10.7.0')):
        changed = CacheKey.of(dict(KEY.as_dict(), **{field: value}))
        assert changed.digest != KEY.digest


def test_round_trip_keeps_plan_and_meta() -> None:
    data = encode_plan_file(b'\x00plan\xff' * 100, KEY, {'placement': {'layers': [['a', 'G']]}})
    plan, header = decode_plan_file(data, KEY.digest)
    assert plan == b'\x00plan\xff' * 100
    assert header['meta'] == {'placement': {'layers': [['a', 'G']]}}
    assert header['fields'] == KEY.as_dict() and header['plan_size'] == 600


@pytest.mark.parametrize('mangle, message', [
    (lambda d: d[:40], 'truncated plan file (header cut short)'),
    (lambda d: d[:-1], 'truncated plan file (699 of 700 plan bytes)'),
    (lambda d: d + b'x', 'truncated plan file (701 of 700 plan bytes)'),
    (lambda d: d[:-1] + b'?', 'sha256 of the plan does not match'),
    (lambda d: b'PK\x03\x04' + d[4:], 'not a dla_infer_ros plan file'),
    (lambda d: b'', 'not a dla_infer_ros plan file'),
    (lambda d: d[:17] + b'\xff' + d[18:], 'unreadable plan file header'),
])
def test_damage_is_detected(mangle: Any, message: str) -> None:
    data = encode_plan_file(b'p' * 700, KEY, {})
    with pytest.raises(PlanFileError, match=message.replace('(', r'\(').replace(')', r'\)')):
        decode_plan_file(mangle(data), KEY.digest)


def test_a_file_for_another_key_is_refused() -> None:
    other = CacheKey.of(dict(KEY.as_dict(), device='GPU'))
    with pytest.raises(PlanFileError, match='built for key'):
        decode_plan_file(encode_plan_file(b'p', other, {}), KEY.digest)
    plan, _ = decode_plan_file(encode_plan_file(b'p', other, {}))  # any key accepted
    assert plan == b'p'


def test_default_directory(monkeypatch: Any) -> None:
    monkeypatch.delenv('XDG_CACHE_HOME', raising=False)
    monkeypatch.setenv('HOME', '/home/robot')
    assert default_cache_dir() == '/home/robot/.cache/dla_infer_ros'
    monkeypatch.setenv('XDG_CACHE_HOME', '/var/cache')
    assert default_cache_dir() == '/var/cache/dla_infer_ros'
    assert EngineCache('').directory == '/var/cache/dla_infer_ros'


def test_get_or_build_builds_once_then_loads(tmp_path: Any) -> None:
    cache = EngineCache(str(tmp_path / 'engines'))
    calls = []

    def build() -> Tuple[bytes, Dict[str, Any]]:
        calls.append(1)
        return b'plan-bytes', {'n': len(calls)}
    first = cache.get_or_build(KEY, 'model.DLA0.fp16.b1', build)
    second = cache.get_or_build(KEY, 'model.DLA0.fp16.b1', build)
    assert (first.built, second.built) == (True, False)
    assert second.plan == b'plan-bytes' and second.meta == {'n': 1}
    assert os.path.basename(first.path) == f'model.DLA0.fp16.b1.{KEY.digest[:16]}.plan'
    forced = cache.get_or_build(KEY, 'model.DLA0.fp16.b1', build, force=True)
    assert forced.built and forced.meta == {'n': 2}
    leftovers = [n for n in os.listdir(cache.directory) if '.tmp.' in n]
    assert leftovers == []


def test_a_failed_build_leaves_no_file(tmp_path: Any) -> None:
    cache = EngineCache(str(tmp_path))

    def build() -> Tuple[bytes, Dict[str, Any]]:
        raise DlaInferError('build failed')
    with pytest.raises(DlaInferError, match='build failed'):
        cache.get_or_build(KEY, 'm', build)
    assert [n for n in os.listdir(str(tmp_path)) if not n.endswith('.lock')] == []


def test_discard_deletes_and_logs(tmp_path: Any, caplog: Any) -> None:
    cache = EngineCache(str(tmp_path), logging.getLogger('test.cache'))
    entry = cache.get_or_build(KEY, 'm', lambda: (b'p', {}))
    cache.discard(entry.path, 'TensorRT could not deserialize it')
    assert not os.path.exists(entry.path)
    assert 'deleting' in caplog.text and 'TensorRT could not deserialize it' in caplog.text


def warnings_of(caplog: Any) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def counting_builder() -> Tuple[List[int], Any]:
    """:return: (the calls so far, a builder returning b'plan' and the call number)."""
    calls: List[int] = []

    def build() -> Tuple[bytes, Dict[str, Any]]:
        calls.append(len(calls) + 1)
        return b'plan', {'n': len(calls)}
    return calls, build


def test_a_directory_that_cannot_be_created_builds_without_caching(
        tmp_path: Any, caplog: Any) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    cache = EngineCache(str(blocker / 'sub'), logging.getLogger('test.cache'))
    calls, build = counting_builder()
    first = cache.get_or_build(KEY, 'm', build)
    again = cache.get_or_build(KEY, 'm', build, force=True)  # e.g. TensorRT refused the plan
    assert (first.built, first.plan, again.built, calls) == (True, b'plan', True, [1, 2])
    assert not cache.writable and os.listdir(str(tmp_path)) == ['file']
    [warning] = warnings_of(caplog)
    assert warning.startswith(f'engine cache directory {blocker / "sub"} cannot store engines: '
                              'it cannot be created ([Errno 20] Not a directory')
    assert warning.endswith('the engine is used without being cached and will be built again '
                            'at the next start')


def test_a_read_only_directory_is_read_and_never_written(tmp_path: Any, caplog: Any,
                                                         monkeypatch: Any) -> None:
    directory = str(tmp_path / 'engines')
    stored = EngineCache(directory).get_or_build(KEY, 'm', lambda: (b'stored', {'n': 0}))
    before = sorted(os.listdir(directory))
    real_access = os.access

    def access(path: str, mode: int) -> bool:
        # root writes into any directory, so the permission check is what is taken away
        if path == directory and mode & os.W_OK:
            return False
        return real_access(path, mode)
    monkeypatch.setattr(os, 'access', access)
    cache = EngineCache(directory, logging.getLogger('test.cache'))
    calls, build = counting_builder()
    loaded = cache.get_or_build(KEY, 'm', build)
    assert (loaded.built, loaded.plan, loaded.path, calls) == (False, b'stored', stored.path, [])
    assert warnings_of(caplog) == []
    other = CacheKey.of(dict(KEY.as_dict(), batch=2))
    for _ in range(2):
        assert cache.get_or_build(other, 'm', build).built
    assert calls == [1, 2] and sorted(os.listdir(directory)) == before  # no plan, no lock
    assert warnings_of(caplog) == [
        f'engine cache directory {directory} cannot store engines: no write permission (or a '
        'read-only file system); the engine is used without being cached and will be built '
        'again at the next start']


def test_a_failed_write_keeps_the_built_plan(tmp_path: Any, caplog: Any,
                                             monkeypatch: Any) -> None:
    def refuse(path: str, data: bytes) -> None:
        raise PermissionError(13, 'Permission denied', path)
    monkeypatch.setattr(engine_cache, 'atomic_write', refuse)
    cache = EngineCache(str(tmp_path), logging.getLogger('test.cache'))
    calls, build = counting_builder()
    for _ in range(3):
        entry = cache.get_or_build(KEY, 'm', build)
        assert entry.built and entry.plan == b'plan'
    assert calls == [1, 2, 3] and not cache.writable
    [warning] = warnings_of(caplog)
    assert warning.startswith(f'engine cache directory {tmp_path} cannot store engines: '
                              f'm.{KEY.digest[:16]}.plan cannot be written ([Errno 13] '
                              'Permission denied')


def test_a_lock_file_that_cannot_be_created(tmp_path: Any, caplog: Any,
                                            monkeypatch: Any) -> None:
    EngineCache(str(tmp_path)).get_or_build(KEY, 'm', lambda: (b'stored', {}))

    def refuse(path: str, exclusive: bool) -> Any:
        raise PermissionError(13, 'Permission denied', path + '.lock')
    monkeypatch.setattr(engine_cache, 'file_lock', refuse)
    cache = EngineCache(str(tmp_path), logging.getLogger('test.cache'))
    calls, build = counting_builder()
    assert cache.get_or_build(KEY, 'm', build).plan == b'stored'
    assert cache.get_or_build(CacheKey.of({'other': 1}), 'm', build).built and calls == [1]
    [warning] = warnings_of(caplog)
    assert 'its lock file cannot be created ([Errno 13] Permission denied' in warning


def _race(directory: str, start_at: float, results: Any) -> None:
    """One process of the race: wait for the common start, then get_or_build."""
    cache = EngineCache(directory)

    def build() -> Tuple[bytes, Dict[str, Any]]:
        with open(os.path.join(directory, f'built-by-{os.getpid()}'), 'w'):
            pass
        time.sleep(0.5)  # long enough for the other process to arrive
        return b'P' * 100000, {'pid': os.getpid()}
    time.sleep(max(0.0, start_at - time.time()))
    entry = cache.get_or_build(KEY, 'race', build)
    results.put((os.getpid(), entry.built, entry.meta['pid'], len(entry.plan)))


def test_two_processes_racing_on_one_key_build_once(tmp_path: Any) -> None:
    context = multiprocessing.get_context('fork')
    results = context.Queue()
    start_at = time.time() + 0.5
    workers = [context.Process(target=_race, args=(str(tmp_path), start_at, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0]
    outcome = sorted(results.get(timeout=5) for _ in workers)
    builders = [n for n in os.listdir(str(tmp_path)) if n.startswith('built-by-')]
    assert len(builders) == 1
    builder_pid = int(builders[0].split('-')[-1])
    assert sorted(built for _, built, _, _ in outcome) == [False, True]
    assert all(meta_pid == builder_pid and size == 100000 for _, _, meta_pid, size in outcome)
