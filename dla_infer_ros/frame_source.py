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
Frames from an image file, a folder of images or a video, without ROS.

The image source node publishes what :class:`FrameSource` reads. Still images
are read and converted once, at opening; video frames are decoded one at a
time into buffers reused frame after frame. OpenCV is imported when a source
is opened.
"""

import os
from types import ModuleType
from typing import Any, List, Optional

import numpy as np

from dla_infer_ros import _optional
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.image_conversion import read_image_file

#: File name endings read as still images when a folder is given.
IMAGE_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.pgm', '.png', '.pnm', '.ppm', '.tif', '.tiff',
                    '.webp')
#: Encodings a source can produce, with the OpenCV conversion from BGR (None: as read).
ENCODINGS = {'bgr8': None, 'rgb8': 'COLOR_BGR2RGB', 'bgra8': 'COLOR_BGR2BGRA',
             'rgba8': 'COLOR_BGR2RGBA', 'mono8': 'COLOR_BGR2GRAY', 'mono16': 'COLOR_BGR2GRAY'}


class FrameSource:
    """The frames of one file, folder or video, in order, optionally looping."""

    def __init__(self, path: str, encoding: str = 'bgr8', loop: bool = True) -> None:
        """
        Open the source and read its still images.

        :param path: an image file, a folder of images, or a video file.
        :param encoding: one of :data:`ENCODINGS`.
        :param loop: start again after the last frame.
        :raises DlaInferError: for an unknown encoding, a missing path, a folder
            without images, or a file OpenCV reads neither as image nor as video.
        """
        if encoding not in ENCODINGS:
            raise DlaInferError(f'encoding={encoding!r} requested; supported: '
                                f'{", ".join(ENCODINGS)}')
        if not path:
            raise DlaInferError('no image source given: set it to an image file, a folder of '
                                'images or a video file')
        if not os.path.exists(path):
            raise DlaInferError(f'image source {path!r} does not exist')
        self.path = path
        self.encoding = encoding
        self.loop = loop
        self._cv2 = _cv2()
        self._stills: List[np.ndarray] = []
        self._capture: Any = None
        self._bgr: Optional[np.ndarray] = None  # video decoding buffers, reused
        self._converted: Optional[np.ndarray] = None
        self._wide: Optional[np.ndarray] = None
        self._next = 0
        if os.path.isdir(path):
            self.kind = 'folder'
            self._stills = [self._convert(image) for image in self._read_folder(path)]
        else:
            image = read_image_file(path)
            if image is not None:
                self.kind = 'image'
                self._stills = [self._convert(image)]
            else:
                self.kind = 'video'
                self._capture = self._open_video(path)

    @property
    def frame_index(self) -> int:
        """:return: the position in the source of the frame :meth:`read` gave last."""
        return self._next - 1

    @property
    def still_frames(self) -> List[np.ndarray]:
        """:return: the converted still images (empty for a video)."""
        return self._stills

    def read(self) -> Optional[np.ndarray]:
        """
        Give the next frame in :attr:`encoding`.

        :return: height x width x channels (height x width for mono), or None after the
            last frame when not looping. A video frame's array is reused by the
            next call; copy what must outlive it.
        """
        if self._capture is not None:
            frame = self._read_video()
            if frame is not None:
                self._next += 1
            return frame
        if self._next >= len(self._stills):
            if not self.loop:
                return None
            self._next = 0
        frame = self._stills[self._next]
        self._next += 1
        return frame

    def close(self) -> None:
        """Release the video; safe to call more than once."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _read_folder(self, path: str) -> List[np.ndarray]:
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS))
        images = []
        for name in names:
            image = read_image_file(os.path.join(path, name))
            if image is None:
                raise DlaInferError(f'{os.path.join(path, name)}: not a readable image file')
            images.append(image)
        if not images:
            raise DlaInferError(f'image source folder {path!r} holds no images (looked for '
                                f'{", ".join(IMAGE_EXTENSIONS)})')
        return images

    def _open_video(self, path: str) -> Any:
        capture = self._cv2.VideoCapture(path)
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            capture.release()
            raise DlaInferError(f'image source {path!r} is neither an image nor a video that '
                                'OpenCV can read')
        capture.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
        self._bgr = first
        return capture

    def _read_video(self) -> Optional[np.ndarray]:
        ok, frame = self._capture.read(self._bgr)
        if not ok:
            if not self.loop:
                return None
            self._capture.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            self._next = 0
            ok, frame = self._capture.read(self._bgr)
            if not ok:
                raise DlaInferError(f'image source {self.path!r}: cannot rewind the video')
        self._bgr = frame
        return self._convert(frame, reuse=True)

    def _convert(self, bgr: np.ndarray, reuse: bool = False) -> np.ndarray:
        """Convert an OpenCV BGR image into :attr:`encoding`, into kept buffers if ``reuse``."""
        code = ENCODINGS[self.encoding]
        if code is None:
            return bgr
        converted: np.ndarray = self._cv2.cvtColor(bgr, getattr(self._cv2, code),
                                                   dst=self._converted if reuse else None)
        if reuse:
            self._converted = converted
        if self.encoding != 'mono16':
            return converted
        wide = self._wide if reuse else None
        if wide is None or wide.shape != converted.shape:
            wide = np.empty(converted.shape, dtype=np.uint16)
        np.multiply(converted, np.uint16(257), out=wide)  # 0..255 -> 0..65535
        if reuse:
            self._wide = wide
        return wide


def _cv2() -> ModuleType:
    return _optional.require('cv2', 'reading images and videos for the image source')
