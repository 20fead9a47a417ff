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
What C libraries print on the process's stderr during a call, caught as text.

libjpeg prints ``Corrupt JPEG data: ...`` and libpng ``libpng warning: ...`` straight
to file descriptor 2 for every damaged image OpenCV decodes, around any log throttle.
:func:`decoder_messages` points descriptor 2 at a temporary file for the length of a
``with`` block and hands the decoder's lines to the caller; anything else written
there meanwhile (another thread's log line) goes on to the real stderr when the block
ends. Blocks may overlap across threads: the descriptor is redirected while any block
is open, and each block reports what was caught while it was the last one open.
"""

import contextlib
import os
import sys
import tempfile
import threading
from typing import IO, Iterator, List, Optional

#: Line starts of libjpeg's and libpng's messages (libjpeg-turbo's JWRN_* texts, and
#: JERR_* texts OpenCV lets through before giving up).
DECODER_PREFIXES = ('Corrupt JPEG data', 'Premature end of JPEG file', 'Invalid JPEG',
                    'Invalid SOS parameters', 'Inconsistent progression sequence',
                    'Not a JPEG file', 'Unsupported marker', 'Bogus', 'Huffman table',
                    'Warning: ', 'libpng ')

_lock = threading.Lock()
_open_blocks = 0
_generation = 0  # advanced by restore(): blocks opened before it report nothing
_saved_fd = -1
_sink: Optional[IO[bytes]] = None


@contextlib.contextmanager
def decoder_messages() -> Iterator[List[str]]:
    """
    Catch decoder messages printed on stderr inside the block.

    :return: (as the ``with`` target) a list that holds the decoder lines once the
        block has ended.
    """
    lines: List[str] = []
    generation = _open()
    try:
        yield lines
    finally:
        lines.extend(_close(generation))


def restore() -> None:
    """
    Give descriptor 2 back to the real stderr now, passing on what was caught.

    For a process that ends while a block is still open (a decode it stopped
    waiting for): its last log lines must reach the terminal. Blocks open now
    report nothing when they end.
    """
    global _open_blocks, _generation
    with _lock:
        if _open_blocks == 0:
            return
        _open_blocks = 0
        _generation += 1
        text = _swap_back()
    _write_stderr(text)


def _open() -> int:
    global _open_blocks, _saved_fd, _sink
    with _lock:
        if _open_blocks == 0:
            if _sink is None:
                _sink = tempfile.TemporaryFile()
            sys.stderr.flush()
            _saved_fd = os.dup(2)
            os.dup2(_sink.fileno(), 2)
        _open_blocks += 1
        return _generation


def _close(generation: int) -> List[str]:
    global _open_blocks
    with _lock:
        if generation != _generation:
            return []  # restore() ended the redirection meanwhile
        _open_blocks -= 1
        if _open_blocks > 0:
            return []
        text = _swap_back()
    decoder: List[str] = []
    other: List[str] = []
    for line in text.splitlines(keepends=True):
        (decoder if line.startswith(DECODER_PREFIXES) else other).append(line)
    _write_stderr(''.join(other))
    return [line.rstrip() for line in decoder]


def _swap_back() -> str:
    """Point descriptor 2 at the real stderr again; :return: what the sink caught."""
    global _saved_fd
    assert _sink is not None
    sys.stderr.flush()
    os.dup2(_saved_fd, 2)
    os.close(_saved_fd)
    _saved_fd = -1
    _sink.seek(0)
    text = _sink.read().decode('utf-8', errors='replace')
    _sink.seek(0)
    _sink.truncate()
    return text


def _write_stderr(text: str) -> None:
    data = text.encode('utf-8')
    while data:
        data = data[os.write(2, data):]
