"""The simulated world around the gate: the camera's view, the document tray, the card slot.

``SceneFeed`` is what the lane's camera sees (served as MJPEG over HTTP and read back through
OpenCV, or written to a video file): the current traveller's approach sequence, and an empty
lane between travellers. ``SimDocuments`` is the document tray the runner lays passports on.
``CardSlot`` presents a virtual passport's chip to the reader: through pcscd and vpcd, or in
process.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, overload

import numpy as np

from gate.errors import AuditError
from gate.interfaces import Camera, ChipTransport, Frame
from gate.lane import OfficerAction
from gate.outcome import Transaction
from gate.transaction import PresentedDocument
from gate.turnstile import Turnstile
from gate.types import ImageBGR

if TYPE_CHECKING:
    from drivers.turnstile.emulator import EmulatorHandle

KEEPALIVE_S = 0.3  # a picture at least this often, or the camera's stream reader gives up


def empty_lane(size: tuple[int, int] = (640, 480)) -> ImageBGR:
    """A plain grey lane with a little texture, so the camera stream has real content."""
    width, height = size
    rng = np.random.default_rng(0)
    image = np.full((height, width, 3), 118, np.uint8)
    noise = rng.integers(-6, 7, size=(height, width, 1), dtype=np.int16)
    out: ImageBGR = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


class RenderedOnDemand(Sequence[ImageBGR]):
    """A scene's ``count`` pictures, each taken from ``images`` (a renderer that draws them
    in order) when first asked for: the gate decides after about a dozen of a traveller's 30
    frames, and the rest are never drawn. The same pictures as ``list(images)``."""

    def __init__(self, images: Iterator[ImageBGR], count: int) -> None:
        self._images = images
        self._count = count
        self._done: list[ImageBGR] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> ImageBGR: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ImageBGR]: ...

    def __getitem__(self, index: int | slice) -> ImageBGR | Sequence[ImageBGR]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"frame {index} of a scene of {self._count}")
        with self._lock:
            while len(self._done) <= index:
                self._done.append(next(self._images))
            return self._done[index]


class SceneFeed:
    """An endless picture source whose content the runner switches per traveller.

    After a traveller's approach sequence ends, the second half plays back and forth, so a
    live traveller keeps moving (a frozen picture would look like a photo to liveness).

    ``lockstep`` (the simulator's): a traveller's frame n is only handed out once the gate
    has read n frames since the traveller appeared (``consumed`` counts them, see
    ``LockstepCamera``). The camera never runs ahead of the face engine, so the gate sees
    the same sequence of pictures at any ``--speed`` and on any machine; only the wall clock
    changes. Without it (a kiosk reading the stream by itself) the scene plays at the
    stream's pace.
    """

    def __init__(self, size: tuple[int, int] = (640, 480), lockstep: bool = False) -> None:
        self._lock = threading.Condition()
        self._frames: Sequence[ImageBGR] = ()
        self._generation = 0
        self._background = empty_lane(size)
        self._lockstep = lockstep
        self._consumed = 0  # frames the gate has read since the last ``show``
        self._closed = False

    def show(self, frames: Sequence[ImageBGR]) -> None:
        with self._lock:
            self._frames = frames if isinstance(frames, RenderedOnDemand) else tuple(frames)
            self._generation += 1
            self._consumed = 0
            self._lock.notify_all()

    def clear(self) -> None:
        self.show(())

    def consumed(self) -> None:
        """The gate has read one more frame."""
        with self._lock:
            self._consumed += 1
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _wait_turn(self, served: int, generation: int) -> str:
        """Wait until the gate has read ``served`` frames of this scene: "go"; "stale" when
        the scene changed or the feed closed meanwhile; "repeat" after ``KEEPALIVE_S``
        without a read (the gate is busy elsewhere: the last picture is sent again, so
        the stream stays alive, and the scene does not move on)."""
        deadline = time.monotonic() + KEEPALIVE_S
        with self._lock:
            while self._lockstep and self._consumed < served:
                if self._generation != generation or self._closed:
                    return "stale"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "repeat"
                self._lock.wait(remaining)
            return "go" if self._generation == generation and not self._closed else "stale"

    @staticmethod
    def playback_order(count: int) -> Iterator[int]:
        """Frame indices as the feed plays a scene of ``count`` frames: the approach once,
        then its second half back and forth for ever, so the traveller never freezes."""
        yield from range(count)
        half = count // 2
        loop = list(range(count - 2, half - 1, -1)) + list(range(half + 1, count))
        while loop:
            yield from loop

    def __call__(self) -> Iterator[ImageBGR]:
        while True:
            with self._lock:
                frames, generation = self._frames, self._generation
            if not frames:
                yield self._background
                continue
            served, shown = 0, 0
            for index in self.playback_order(len(frames)):
                turn = self._wait_turn(served, generation)
                while turn == "repeat":  # keep the stream alive with the frame last shown
                    yield frames[shown]
                    turn = self._wait_turn(served, generation)
                if turn == "stale":
                    break
                yield frames[index]
                served, shown = served + 1, index
            with self._lock:
                if self._closed:
                    return


class LockstepCamera:
    """The lane's camera in simulation: each frame read is reported to the ``SceneFeed``."""

    def __init__(self, camera: Camera, feed: SceneFeed) -> None:
        self._camera = camera
        self._feed = feed

    @property
    def description(self) -> str:
        return str(getattr(self._camera, "description", "camera"))

    @property
    def stats(self) -> Any:
        """The wrapped camera's counters (``bench throughput`` reports them)."""
        return getattr(self._camera, "stats", None)

    def read(self, timeout: float) -> Frame:
        frame = self._camera.read(timeout)
        self._feed.consumed()
        return frame

    def close(self) -> None:
        self._camera.close()


class SimDocuments:
    """The document tray: ``lay`` a document, the gate's ``wait_document`` takes it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: collections.deque[PresentedDocument] = collections.deque()

    @property
    def ended(self) -> bool:
        return False  # the runner may always lay another document

    def lay(self, document: PresentedDocument) -> None:
        with self._cond:
            self._queue.append(document)
            self._cond.notify_all()

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            return self._queue.popleft() if self._queue else None


class CardSlot(Protocol):
    """Presents one virtual card at a time to the reader."""

    def insert(self, card: Any) -> ChipTransport: ...

    def remove(self) -> None: ...

    def close(self) -> None: ...


class InProcessSlot:
    """The chip answers APDUs by direct calls (``--no-pcsc``)."""

    def __init__(self) -> None:
        self._transport: ChipTransport | None = None

    def insert(self, card: Any) -> ChipTransport:
        from drivers.chip.inprocess import InProcessTransport

        self._transport = InProcessTransport(card)
        return self._transport

    def remove(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def close(self) -> None:
        self.remove()


def settle(emulator: EmulatorHandle, turnstile: Turnstile) -> None:
    """Let the lane empty (walkers out, doors closed) before the next traveller: up to 3 s
    for the emulated turnstile to be idle, then drop the events the last one left."""
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        with emulator.device.locked() as lane:
            if not lane.busy:
                break
        time.sleep(0.02)
    while turnstile.next_event(0.0) is not None:
        pass


class UnavailableAudit:
    """The audit sink when the log cannot be opened: every record fails, as on a full disk,
    so the lane refers each traveller (``AUDIT_FAILED``) instead of the run stopping."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def record_decision(self, transaction: Transaction) -> None:
        raise AuditError(self.reason)

    def commit(self, transaction: Transaction) -> None:
        raise AuditError(self.reason)

    def record_officer(self, action: OfficerAction, at: float) -> None:
        raise AuditError(self.reason)
