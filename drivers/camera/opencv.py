"""Camera sources OpenCV reads: devices, network streams, video files, image sequences, folders.

Each grabber is built from the target part of an address by ``drivers.camera.registry`` and
driven by the capture thread of ``drivers.camera.threaded.ThreadedCamera``; ``cv2`` is
imported when a source is opened.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from gate.errors import DeviceError, ImageError
from gate.images import load_image
from gate.types import ImageBGR

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
# How long OpenCV's FFmpeg backend may wait to open or read a network stream. Without these
# a dead server can block a read for the FFmpeg default of 30 s.
STREAM_OPEN_TIMEOUT_MS = 3000
STREAM_READ_TIMEOUT_MS = 2000


def _as_bgr(image: Any) -> ImageBGR | None:
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        return None
    if image.ndim == 2:
        import cv2

        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return np.asarray(image, dtype=np.uint8)


class OpenCVGrabber:
    """``cv2.VideoCapture`` on a device index, device path, file, sequence pattern or URL."""

    def __init__(
        self, target: int | str, *, live: bool, reconnectable: bool, stream: bool = False
    ) -> None:
        self._target = target
        self._stream = stream
        self.description = str(target)
        self.live = live
        self.reconnectable = reconnectable
        self._cap: Any = None

    def open(self) -> None:
        import cv2

        self.release()
        if self._stream:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                STREAM_OPEN_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                STREAM_READ_TIMEOUT_MS,
            ]
            cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(self._target)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(f"camera {self.description}: OpenCV cannot open it")
        self._cap = cap

    def grab(self) -> ImageBGR | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        return _as_bgr(image) if ok else None

    def release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class DeviceGrabber(OpenCVGrabber):
    """A camera device: an OpenCV index (``"0"``) or a device path (``/dev/video0``)."""

    def __init__(self, device: str) -> None:
        index_or_path: int | str = int(device) if device.isdigit() else device
        super().__init__(index_or_path, live=True, reconnectable=True)


class StreamGrabber(OpenCVGrabber):
    """A network stream (MJPEG over HTTP, RTSP) through FFmpeg, reopened when it drops."""

    def __init__(self, url: str) -> None:
        super().__init__(url, live=True, reconnectable=True, stream=True)


class VideoFileGrabber(OpenCVGrabber):
    """A video file, or an image sequence named by a ``%`` pattern (``frames/%04d.jpg``).

    ``realtime``: hand each frame out when its timestamp is due (the file's own pace, as a
    camera would: a reader slower than that loses frames); otherwise as fast as it decodes.
    None: not said, which ``open_camera(..., live=True)`` (``egate run``) takes as True.
    ``loop``: start again at the end instead of ending the stream.
    """

    def __init__(self, path: str, realtime: bool | None = None, loop: bool = False) -> None:
        super().__init__(path, live=bool(realtime), reconnectable=False)
        self.realtime = realtime
        self.loop = loop
        self._start = 0.0  # monotonic time of the first frame
        self._offset = 0.0  # seconds of the loops already played
        self._last = 0.0  # timestamp of the last frame handed out, seconds into this loop
        self._count = 0  # frames read in this loop

    def open(self) -> None:
        super().open()
        self._start = time.monotonic()
        self._offset = self._last = 0.0
        self._count = 0

    def grab(self) -> ImageBGR | None:
        image = super().grab()
        if image is None and self.loop and self._count > 0:
            offset = self._offset + self._last + self._period()
            super().open()  # from the start again (a GIF cannot seek)
            self._offset, self._last, self._count = offset, 0.0, 0
            image = super().grab()
        if image is None:
            return None
        stamp = self._stamp()
        self._count += 1
        self._last = stamp
        if self.realtime:
            delay = self._start + self._offset + stamp - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return image

    def _period(self) -> float:
        fps = float(self._cap.get(_prop("CAP_PROP_FPS"))) if self._cap is not None else 0.0
        return 1.0 / fps if 0 < fps < 1000 else 1.0 / 30.0

    def _stamp(self) -> float:
        """The frame's time in this loop, seconds: its timestamp where the file has ones that
        increase, else its number over the frame rate."""
        by_count = self._count * self._period()
        if self._cap is None:
            return by_count
        msec = float(self._cap.get(_prop("CAP_PROP_POS_MSEC")))
        if self._count == 0 or msec / 1000.0 > self._last:
            return msec / 1000.0 if msec > 0 or self._count == 0 else by_count
        return by_count


def _prop(name: str) -> int:
    import cv2

    return int(getattr(cv2, name))


class DirectoryGrabber:
    """The image files of one folder, in name order, decoded with OpenCV."""

    live = False
    reconnectable = False

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        self._folder = folder
        self.description = str(folder)
        self._files: list[Path] = []
        self._next = 0

    def open(self) -> None:
        self._files = sorted(
            p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self._files:
            raise DeviceError(f"camera {self.description}: no image files in the folder")
        self._next = 0

    def grab(self) -> ImageBGR | None:
        while self._next < len(self._files):
            path = self._files[self._next]
            self._next += 1
            try:
                return load_image(path)
            except ImageError as exc:
                log.warning("camera %s: skipping unreadable image: %s", self.description, exc)
        return None

    def release(self) -> None:
        pass
