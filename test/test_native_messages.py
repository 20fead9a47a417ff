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


"""Decoder messages on stderr: caught for the caller, other lines passed on."""

import os
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from dla_infer_ros import image_conversion as ic
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.native_messages import decoder_messages

cv2 = pytest.importorskip('cv2', reason='OpenCV is not installed')


def _damaged_jpeg() -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    jpeg: bytes = cv2.imencode('.jpg', pixels)[1].tobytes()
    return jpeg[:len(jpeg) // 2] + bytes([0xFF, 0xD9])


def test_libjpeg_lines_are_caught_and_others_passed_on(
        capfd: pytest.CaptureFixture[str]) -> None:
    with decoder_messages() as caught:
        os.write(2, b'[INFO] [0.0] [other_node]: a line of another thread\n')
        image = cv2.imdecode(np.frombuffer(_damaged_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (96, 128, 3)
    assert caught and all(line.startswith('Corrupt JPEG data') for line in caught), caught
    err = capfd.readouterr().err
    assert 'Corrupt JPEG' not in err and 'a line of another thread' in err, err


def test_without_a_block_libjpeg_prints_as_before(capfd: pytest.CaptureFixture[str]) -> None:
    cv2.imdecode(np.frombuffer(_damaged_jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert 'Corrupt JPEG data' in capfd.readouterr().err


def test_compressed_to_array_hands_over_the_messages(capfd: pytest.CaptureFixture[str]) -> None:
    messages: list = []
    image, _ = ic.compressed_to_array(SimpleNamespace(format='jpeg', data=_damaged_jpeg()),
                                      messages=messages)
    assert image.shape == (96, 128, 3) and messages
    assert 'JPEG' not in capfd.readouterr().err
    jpeg = cv2.imencode('.jpg', np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    cut = jpeg[:jpeg.index(b'\xff\xda') + 20]  # libjpeg gives up (quietly, in OpenCV)
    with pytest.raises(DlaInferError, match='not an image OpenCV can read'):
        ic.compressed_to_array(SimpleNamespace(format='jpeg', data=cut), messages=messages)


def test_overlapping_blocks_in_threads_restore_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    caught: list = []
    barrier = threading.Barrier(4)

    def decode() -> None:
        barrier.wait()
        for _ in range(20):
            with decoder_messages() as lines:
                cv2.imdecode(np.frombuffer(_damaged_jpeg(), np.uint8), cv2.IMREAD_COLOR)
            caught.extend(lines)
    threads = [threading.Thread(target=decode) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(caught) >= 80  # every decode's line reaches some block (the last one open)
    os.write(2, b'after\n')
    err = capfd.readouterr().err
    assert err == 'after\n', err  # stderr is the real one again, nothing leaked
