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
On-disk cache of serialized TensorRT engines (plans).

A plan is only valid for the TensorRT version, GPU, device (GPU or DLA core),
precision, batch and calibration it was built with, so each is part of the
:class:`CacheKey`; the file name carries the key's digest. Each file starts
with a small header of its own (magic, key, plan length, plan sha256), so a
truncated, corrupt or foreign file is detected before TensorRT sees it; such a
file is logged, deleted and rebuilt. Files are written to a temporary name and
renamed, under an ``fcntl`` lock, so two nodes never tear one file: the first
builds, the second waits and loads what the first wrote. Builds of different plans for
one device take turns too (``build_lock``): three nodes starting together on a Jetson
would otherwise build three engines at once, in one shared memory. A directory that
cannot be written (read-only, or not creatable) does not stop a node: valid
plans are still loaded from it, and a plan that must be built is used without
being stored, with one warning.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import struct
import threading
import time
from typing import Any, Callable, ContextManager, Dict, Iterator, Mapping, Optional, Tuple

from dla_infer_ros.errors import DlaInferError

MAGIC = b'DLAIRPLN'
FORMAT_VERSION = 1
#: magic, format version, header length
_PREFIX = struct.Struct('<8sII')
_MAX_HEADER = 1 << 24

PlanBuilder = Callable[[], Tuple[bytes, Dict[str, Any]]]


def default_cache_dir() -> str:
    """:return: ``$XDG_CACHE_HOME/dla_infer_ros``, by default ``~/.cache/dla_infer_ros``."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'dla_infer_ros')


def sha256_file(path: str) -> str:
    """:return: the hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: str, exclusive: bool,
              on_wait: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """
    Hold an ``fcntl`` lock on ``path + '.lock'`` for the ``with`` block.

    The lock file is left in place: removing it would let two processes lock
    two different files of the same name. ``flock`` locks belong to one open
    file, so threads of one process exclude each other as processes do.

    :param on_wait: called once before blocking, when another holder has the lock.
    """
    fd = os.open(path + '.lock', os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, mode)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    tmp = f'{path}.tmp.{os.getpid()}.{threading.get_ident()}'
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """Everything a plan depends on, as sorted text pairs."""

    fields: Tuple[Tuple[str, str], ...]

    @classmethod
    def of(cls, fields: Mapping[str, object]) -> 'CacheKey':
        """:return: a key from any values (turned into text)."""
        return cls(tuple(sorted((str(k), str(v)) for k, v in fields.items())))

    @property
    def digest(self) -> str:
        """:return: hex sha256 of the fields."""
        text = json.dumps(dict(self.fields), sort_keys=True, separators=(',', ':'))
        return hashlib.sha256(text.encode('utf-8')).hexdigest()

    def as_dict(self) -> Dict[str, str]:
        """:return: the fields as a dict."""
        return dict(self.fields)


@dataclasses.dataclass(frozen=True)
class CachedPlan:
    """A plan from the cache, with what was stored beside it."""

    plan: bytes
    meta: Dict[str, Any]
    path: str
    built: bool  # True when this call built it, False when it was loaded


class PlanFileError(DlaInferError):
    """A plan file that is truncated, corrupt, foreign or for another key."""


def encode_plan_file(plan: bytes, key: CacheKey, meta: Mapping[str, Any]) -> bytes:
    """:return: header + plan, as written to disk."""
    header = {
        'key': key.digest, 'fields': key.as_dict(), 'plan_size': len(plan),
        'plan_sha256': hashlib.sha256(plan).hexdigest(), 'created': time.time(),
        'meta': dict(meta),
    }
    header_bytes = json.dumps(header, sort_keys=True).encode('utf-8')
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes + plan


def decode_plan_file(data: bytes, expected_key: Optional[str] = None
                     ) -> Tuple[bytes, Dict[str, Any]]:
    """
    Check and split a plan file.

    :param data: the whole file.
    :param expected_key: the key digest the file must carry; None accepts any.
    :return: (plan, header).
    :raises PlanFileError: naming what is wrong with the file.
    """
    if len(data) < _PREFIX.size or data[:len(MAGIC)] != MAGIC:
        raise PlanFileError('not a dla_infer_ros plan file (no header)')
    _, version, header_len = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise PlanFileError(f'plan file format {version}, this version reads {FORMAT_VERSION}')
    if header_len > _MAX_HEADER or _PREFIX.size + header_len > len(data):
        raise PlanFileError('truncated plan file (header cut short)')
    try:
        header = json.loads(data[_PREFIX.size:_PREFIX.size + header_len].decode('utf-8'))
        plan_size = int(header['plan_size'])
        plan_sha = str(header['plan_sha256'])
        key = str(header['key'])
    except (ValueError, KeyError, TypeError) as e:
        raise PlanFileError(f'unreadable plan file header ({e})') from e
    plan = data[_PREFIX.size + header_len:]
    if expected_key is not None and key != expected_key:
        raise PlanFileError(f'plan file built for key {key[:16]}, expected {expected_key[:16]}')
    if len(plan) != plan_size:
        raise PlanFileError(f'truncated plan file ({len(plan)} of {plan_size} plan bytes)')
    if hashlib.sha256(plan).hexdigest() != plan_sha:
        raise PlanFileError('corrupt plan file (sha256 of the plan does not match)')
    return plan, header


class EngineCache:
    """A directory of plan files, safe to share between processes."""

    def __init__(self, directory: str = '', log: Optional[logging.Logger] = None) -> None:
        """
        Use a cache directory (created on first use).

        :param directory: where plans live; empty for :func:`default_cache_dir`.
        :param log: where cache events are reported.
        """
        self.directory = os.path.abspath(os.path.expanduser(directory or default_cache_dir()))
        self._log = log or logging.getLogger(__name__)
        self._unwritable: Optional[str] = None  # why nothing can be stored; None: not checked
        self._warned = False

    @property
    def writable(self) -> bool:
        """:return: whether files can be stored in the directory (created on first call)."""
        if self._unwritable is None:
            self._unwritable = self._check_directory()
        return not self._unwritable

    def plan_path(self, key: CacheKey, stem: str) -> str:
        """:return: the file for ``key``, e.g. ``resnet.DLA0.int8.b1.<digest16>.plan``."""
        return os.path.join(self.directory, f'{stem}.{key.digest[:16]}.plan')

    def get_or_build(self, key: CacheKey, stem: str, build: PlanBuilder,
                     force: bool = False, build_lock: str = '') -> CachedPlan:
        """
        Load the plan for ``key``, or build and store it.

        Where the directory cannot be written, a valid plan is still loaded from
        it, and a built plan is returned without being stored (one warning per cache).

        :param key: what the plan depends on.
        :param stem: readable start of the file name.
        :param build: returns (plan, meta) when there is nothing valid to load.
        :param force: build even when a valid plan exists (``force_rebuild``).
        :param build_lock: a name (e.g. ``cuda0``) whose builds take turns, across threads
            and processes using this directory; a load never waits for it.
        :raises DlaInferError: when ``build`` fails.
        """
        path = self.plan_path(key, stem)
        if not force:
            with self._lock(path, exclusive=False):
                found, _ = self._load(path, key)
            if found is not None:
                return found
        with self._lock(path, exclusive=True):
            if not force:
                found, problem = self._load(path, key)
                if found is not None:  # another process built it while this one waited
                    return found
                if problem:
                    self._remove(path, problem)
            with self._build_turn(build_lock, os.path.basename(path)):
                plan, meta = build()
            self._store(path, key, plan, meta)
            return CachedPlan(plan, meta, path, built=True)

    def _build_turn(self, name: str, what: str) -> ContextManager[Any]:
        """Wait for the builds of ``name`` before this one, saying so; nothing without a name."""
        if not name or not self.writable:
            return contextlib.nullcontext()
        lock_path = os.path.join(self.directory, f'build.{name}')

        def waiting() -> None:
            self._log.info(f'engine cache: waiting for another engine build on {name} to '
                           f'finish before building {what} (lock {lock_path}.lock)')
        held = contextlib.ExitStack()
        try:
            held.enter_context(file_lock(lock_path, True, waiting))
        except OSError as e:
            self._log.warning(f'engine cache: builds on {name} cannot take turns ({e})')
        return held

    def discard(self, path: str, reason: str) -> None:
        """Delete a plan that turned out unusable (e.g. TensorRT refused it)."""
        with self._lock(path, exclusive=True):
            self._remove(path, reason)

    def _check_directory(self) -> str:
        """:return: why files cannot be stored in the directory, or ''."""
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as e:
            return f'it cannot be created ({e})'
        if not os.access(self.directory, os.W_OK | os.X_OK):
            return 'no write permission (or a read-only file system)'
        return ''

    def _lock(self, path: str, exclusive: bool) -> ContextManager[Any]:
        """
        Lock ``path`` against other processes, where a lock file can be created.

        Without one (a read-only directory) nothing is written here, and reading
        needs no lock: writers replace plan files atomically.
        """
        if not self.writable:
            return contextlib.nullcontext()
        held = contextlib.ExitStack()
        try:
            held.enter_context(file_lock(path, exclusive))
        except OSError as e:
            self._cannot_store(f'its lock file cannot be created ({e})')
        return held

    def _load(self, path: str, key: CacheKey) -> Tuple[Optional[CachedPlan], str]:
        """:return: (plan or None, what is wrong with the file or '')."""
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None, ''
        except OSError as e:
            return None, f'cannot read it ({e})'
        try:
            plan, header = decode_plan_file(data, key.digest)
        except PlanFileError as e:
            return None, str(e)
        self._log.info(f'engine cache hit: {path}')
        return CachedPlan(plan, dict(header.get('meta', {})), path, built=False), ''

    def _store(self, path: str, key: CacheKey, plan: bytes, meta: Mapping[str, Any]) -> None:
        """Write a built plan, or say (once per cache) why it cannot be kept."""
        if self.writable:
            try:
                atomic_write(path, encode_plan_file(plan, key, meta))
            except OSError as e:
                self._cannot_store(f'{os.path.basename(path)} cannot be written ({e})')
            else:
                self._log.info(f'engine cache: wrote {path} ({len(plan)} bytes)')
                return
        if not self._warned:
            self._warned = True
            self._log.warning(f'engine cache directory {self.directory} cannot store engines: '
                              f'{self._unwritable}; the engine is used without being cached '
                              'and will be built again at the next start')

    def _remove(self, path: str, reason: str) -> None:
        self._log.warning(f'engine cache: deleting {path}: {reason}; it will be rebuilt')
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:  # a read-only directory: the rebuilt plan is not stored either
            self._cannot_store(f'{os.path.basename(path)} cannot be deleted ({e})')

    def _cannot_store(self, reason: str) -> None:
        """Stop writing to the directory, keeping the first reason found."""
        if not self._unwritable:
            self._unwritable = reason
