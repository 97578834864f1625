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
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from gate.interfaces import ChipTransport
from gate.transaction import PresentedDocument
from gate.types import ImageBGR


def empty_lane(size: tuple[int, int] = (640, 480)) -> ImageBGR:
    """A plain grey lane with a little texture, so the camera stream has real content."""
    width, height = size
    rng = np.random.default_rng(0)
    image = np.full((height, width, 3), 118, np.uint8)
    noise = rng.integers(-6, 7, size=(height, width, 1), dtype=np.int16)
    out: ImageBGR = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


class SceneFeed:
    """An endless picture source whose content the runner switches per traveller.

    After a traveller's approach sequence ends, the second half plays back and forth, so a
    live traveller keeps moving (a frozen picture would look like a photo to liveness).
    """

    def __init__(self, size: tuple[int, int] = (640, 480)) -> None:
        self._lock = threading.Lock()
        self._frames: Sequence[ImageBGR] = ()
        self._generation = 0
        self._background = empty_lane(size)

    def show(self, frames: Sequence[ImageBGR]) -> None:
        with self._lock:
            self._frames = tuple(frames)
            self._generation += 1

    def clear(self) -> None:
        self.show(())

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
            for index in self.playback_order(len(frames)):
                with self._lock:
                    if self._generation != generation:
                        break
                yield frames[index]


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
