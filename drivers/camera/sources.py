"""Camera sources chosen by one address string, read by a capture thread.

``open_camera(address)`` understands:

* ``"0"``, ``"1"`` ... : an OpenCV device index; ``/dev/videoN``: a device path;
* ``http://``, ``https://``, ``rtsp://``, ``rtsps://``: a network stream (MJPEG over HTTP, RTSP);
* a path containing ``%`` (``frames/%04d.jpg``): an image sequence read by OpenCV;
* a directory: the images in it, in name order;
* any other existing file: a video file.

Every source runs behind a ``ThreadedCamera``: a thread grabs frames, stamps them with the
clock and keeps them in a bounded queue. Live sources (devices and streams) drop the OLDEST
frame when the queue is full, so ``read`` always returns fresh pictures, and count the drops.
Recorded sources (files, sequences) block the grabber instead, so no frame is lost, unless
``live=True`` or a pacing ``fps`` is asked for. A stream that stops delivering is reopened
until ``reconnect_timeout_s`` passes without success; then the camera is gone.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError
from gate.interfaces import Frame
from gate.types import ImageBGR

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("http://", "https://", "rtsp://", "rtsps://")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
# How long OpenCV's FFmpeg backend may wait to open or read a network stream. Without these
# a dead server can block a read for the FFmpeg default of 30 s.
STREAM_OPEN_TIMEOUT_MS = 3000
STREAM_READ_TIMEOUT_MS = 2000


class NowClock(Protocol):
    """The part of ``gate.clock.Clock`` a camera needs: a monotonic ``now()`` in seconds."""

    def now(self) -> float: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()


class FrameGrabber(Protocol):
    """One kind of source, driven by the capture thread (never by two threads at once)."""

    description: str
    live: bool  # True: pictures happen in real time (device, stream); False: recorded
    reconnectable: bool

    def open(self) -> None:
        """Open the source; raise ``DeviceError`` naming it when that fails."""
        ...

    def grab(self) -> ImageBGR | None:
        """The next picture, or None when the source ended or failed."""
        ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class CameraStats:
    frames_captured: int
    frames_dropped: int
    frames_delivered: int
    reconnects: int


class ThreadedCamera:
    """A ``gate.interfaces.Camera`` fed by a grabber thread through a bounded queue."""

    def __init__(
        self,
        grabber: FrameGrabber,
        *,
        clock: NowClock | None = None,
        buffer_size: int = 1,
        drop_oldest: bool | None = None,
        fps: float | None = None,
        reconnect_timeout_s: float = 5.0,
    ) -> None:
        if buffer_size < 1:
            raise DeviceError(f"camera buffer_size must be >= 1, got {buffer_size}")
        self._grabber = grabber
        self._clock: NowClock = clock if clock is not None else MonotonicClock()
        self._buffer_size = buffer_size
        self._drop_oldest = grabber.live if drop_oldest is None else drop_oldest
        self._period = 1.0 / fps if fps else 0.0
        self._reconnect_timeout_s = reconnect_timeout_s
        self._queue: collections.deque[Frame] = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._gone_reason: str | None = None
        self._captured = 0
        self._dropped = 0
        self._delivered = 0
        self._reconnects = 0
        grabber.open()  # fail now, in the caller's thread, when the source cannot be opened
        self._thread = threading.Thread(
            target=self._run, name=f"camera {grabber.description}", daemon=True
        )
        self._thread.start()

    @property
    def description(self) -> str:
        return self._grabber.description

    @property
    def stats(self) -> CameraStats:
        with self._cond:
            return CameraStats(self._captured, self._dropped, self._delivered, self._reconnects)

    def read(self, timeout: float) -> Frame:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._queue:
                if self._gone_reason is not None:
                    raise DeviceGoneError(f"camera {self.description}: {self._gone_reason}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeviceTimeoutError(
                        f"camera {self.description}: no frame within {timeout:.3g} s"
                    )
                self._cond.wait(remaining)
            frame = self._queue.popleft()
            self._delivered += 1
            self._cond.notify_all()  # a blocking (lossless) grabber may go on
            return frame

    def close(self) -> None:
        with self._cond:
            self._stop = True
            if self._gone_reason is None:
                self._gone_reason = "closed"
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> ThreadedCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the capture thread ---------------------------------------------------------------

    def _run(self) -> None:
        index = 0
        opened = True
        lost_since: float | None = None
        backoff = 0.05
        next_due = time.monotonic()
        try:
            while not self._stopping():
                if not opened:
                    opened = self._try_reopen()
                    if opened:
                        # lost_since stays set until a frame arrives: a server that accepts
                        # and then drops every connection must still end in "gone".
                        backoff = 0.05
                        with self._cond:
                            self._reconnects += 1
                        log.info("camera %s: reconnected", self.description)
                        continue
                    if lost_since is None:
                        lost_since = time.monotonic()
                    if time.monotonic() - lost_since > self._reconnect_timeout_s:
                        self._finish(
                            f"stream lost and not back within {self._reconnect_timeout_s:g} s"
                        )
                        return
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 0.5)
                    continue
                if self._period:
                    delay = next_due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    next_due = max(next_due + self._period, time.monotonic() - self._period)
                image = self._grab()
                if image is None:
                    self._grabber.release()
                    if not self._grabber.reconnectable:
                        self._finish("end of stream")
                        return
                    log.warning("camera %s: stream dropped, reconnecting", self.description)
                    opened = False
                    if lost_since is None:
                        lost_since = time.monotonic()
                    continue
                lost_since = None
                self._push(Frame(image=image, timestamp=self._clock.now(), index=index))
                index += 1
        finally:
            self._grabber.release()

    def _grab(self) -> ImageBGR | None:
        try:
            return self._grabber.grab()
        except Exception:  # a backend failing mid-stream counts as a dropped stream
            log.exception("camera %s: grab failed", self.description)
            return None

    def _try_reopen(self) -> bool:
        try:
            self._grabber.open()
        except DeviceError:
            return False
        return True

    def _stopping(self) -> bool:
        with self._cond:
            return self._stop

    def _push(self, frame: Frame) -> None:
        with self._cond:
            self._captured += 1
            if self._drop_oldest:
                if len(self._queue) >= self._buffer_size:
                    self._queue.popleft()
                    self._dropped += 1
            else:
                while len(self._queue) >= self._buffer_size and not self._stop:
                    self._cond.wait(0.1)
                if self._stop:
                    return
            self._queue.append(frame)
            self._cond.notify_all()

    def _finish(self, reason: str) -> None:
        with self._cond:
            if self._gone_reason is None:
                self._gone_reason = reason
            self._cond.notify_all()
        log.info("camera %s: %s", self.description, reason)


# -- grabbers ------------------------------------------------------------------------------


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

    def __init__(self, target: int | str, *, live: bool, reconnectable: bool) -> None:
        self._target = target
        self.description = str(target)
        self.live = live
        self.reconnectable = reconnectable
        self._cap: Any = None

    def open(self) -> None:
        import cv2

        self.release()
        if isinstance(self._target, str) and self._target.startswith(STREAM_SCHEMES):
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


class DirectoryGrabber:
    """The image files of one folder, in name order, decoded with OpenCV."""

    live = False
    reconnectable = False

    def __init__(self, folder: Path) -> None:
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
        import cv2

        while self._next < len(self._files):
            path = self._files[self._next]
            self._next += 1
            image = _as_bgr(cv2.imread(str(path), cv2.IMREAD_COLOR))
            if image is not None:
                return image
            log.warning("camera %s: skipping unreadable image %s", self.description, path.name)
        return None

    def release(self) -> None:
        pass


class IterableGrabber:
    """Pictures from a Python iterable or a factory of iterators (synthetic scenes)."""

    reconnectable = False

    def __init__(
        self,
        frames: Iterable[ImageBGR] | Callable[[], Iterator[ImageBGR]],
        *,
        live: bool,
        description: str = "frames",
    ) -> None:
        self._source = frames
        self._iterator: Iterator[ImageBGR] | None = None
        self.live = live
        self.description = description

    def open(self) -> None:
        if self._iterator is None:
            self._iterator = iter(self._source() if callable(self._source) else self._source)

    def grab(self) -> ImageBGR | None:
        if self._iterator is None:
            return None
        return next(self._iterator, None)

    def release(self) -> None:
        pass


# -- the address registry ------------------------------------------------------------------


def parse_address(address: str) -> FrameGrabber:
    """The grabber for one address string (see the module docstring)."""
    text = address.strip()
    if not text:
        raise DeviceError("camera address is empty")
    if text.isdigit():
        return OpenCVGrabber(int(text), live=True, reconnectable=True)
    if text.startswith(STREAM_SCHEMES):
        return OpenCVGrabber(text, live=True, reconnectable=True)
    if text.startswith("/dev/"):
        return OpenCVGrabber(text, live=True, reconnectable=True)
    if "%" in text:
        if not Path(text).parent.is_dir():
            raise DeviceError(f"camera {text}: folder of the image sequence does not exist")
        return OpenCVGrabber(text, live=False, reconnectable=False)
    path = Path(text)
    if path.is_dir():
        return DirectoryGrabber(path)
    if path.is_file():
        return OpenCVGrabber(text, live=False, reconnectable=False)
    raise DeviceError(
        f"camera {text}: not a device index, /dev path, stream URL, sequence pattern, "
        "folder or existing file"
    )


def open_camera(
    address: str,
    *,
    clock: NowClock | None = None,
    buffer_size: int = 1,
    live: bool | None = None,
    fps: float | None = None,
    reconnect_timeout_s: float = 5.0,
) -> ThreadedCamera:
    """Open the camera named by ``address`` and start its capture thread.

    ``live`` overrides the queue policy (True: drop the oldest frame when full; False: keep
    every frame); ``fps`` paces a recorded source as if it were a camera (implies live).
    """
    grabber = parse_address(address)
    drop_oldest = live if live is not None else (True if fps else None)
    return ThreadedCamera(
        grabber,
        clock=clock,
        buffer_size=buffer_size,
        drop_oldest=drop_oldest,
        fps=fps,
        reconnect_timeout_s=reconnect_timeout_s,
    )


def camera_from_frames(
    frames: Iterable[ImageBGR] | Callable[[], Iterator[ImageBGR]],
    *,
    clock: NowClock | None = None,
    live: bool = False,
    fps: float | None = None,
    buffer_size: int = 1,
) -> ThreadedCamera:
    """An in-process camera over pictures from Python (no OpenCV decode)."""
    grabber = IterableGrabber(frames, live=live, description="in-process frames")
    return ThreadedCamera(grabber, clock=clock, buffer_size=buffer_size, drop_oldest=live, fps=fps)
