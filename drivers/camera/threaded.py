"""The capture thread behind every camera: ``ThreadedCamera`` over one ``FrameGrabber``.

A thread grabs frames, stamps them with the clock (``gate.clock.Clock``; real time unless
told) and keeps them in a bounded queue. Live sources (devices and streams) drop the OLDEST
frame when the queue is full, so ``read`` always returns fresh pictures, and count the drops.
Recorded sources (files, sequences) block the grabber instead, so no frame is lost, unless
``live=True`` or a pacing ``fps`` is asked for. A stream that stops delivering is reopened
until ``reconnect_timeout_s`` passes without success; then the camera is gone. A finite
source that ends makes ``read`` raise ``DeviceGoneError`` ("end of stream") once its queued
frames are read; so does any read after ``close()``.

Grabbers for addresses are in ``drivers.camera.opencv`` and ``drivers.camera.synthetic``,
chosen by ``drivers.camera.registry``; ``camera_from_frames`` wraps pictures from Python.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from gate.clock import Clock, SystemClock
from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError
from gate.interfaces import Frame
from gate.types import ImageBGR

log = logging.getLogger(__name__)


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
        clock: Clock | None = None,
        buffer_size: int = 1,
        drop_oldest: bool | None = None,
        fps: float | None = None,
        reconnect_timeout_s: float = 5.0,
    ) -> None:
        if buffer_size < 1:
            raise DeviceError(f"camera buffer_size must be >= 1, got {buffer_size}")
        self._grabber = grabber
        self._clock: Clock = clock if clock is not None else SystemClock()
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
            self._queue.clear()  # closed means gone: not even a queued frame is read after it
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
            if not self._drop_oldest:
                while len(self._queue) >= self._buffer_size and not self._stop:
                    self._cond.wait(0.1)
            if self._stop:
                return  # grabbed while closing: close() emptied the queue for good
            if len(self._queue) >= self._buffer_size:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(frame)
            self._cond.notify_all()

    def _finish(self, reason: str) -> None:
        with self._cond:
            if self._gone_reason is None:
                self._gone_reason = reason
            self._cond.notify_all()
        log.info("camera %s: %s", self.description, reason)


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


def camera_from_frames(
    frames: Iterable[ImageBGR] | Callable[[], Iterator[ImageBGR]],
    *,
    clock: Clock | None = None,
    live: bool = False,
    fps: float | None = None,
    buffer_size: int = 1,
) -> ThreadedCamera:
    """An in-process camera over pictures from Python (no OpenCV decode)."""
    grabber = IterableGrabber(frames, live=live, description="in-process frames")
    return ThreadedCamera(grabber, clock=clock, buffer_size=buffer_size, drop_oldest=live, fps=fps)
