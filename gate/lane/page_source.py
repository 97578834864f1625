"""A page reader built from a camera (``reader.mrz_source = "camera:ADDRESS"``, a document
camera or a UVC webcam over the tray, opened through the camera registry as ``[camera]``).

The source watches the tray and hands a page to the lane once the picture is still and sharp
(a passport laid down, the hand gone); the lane then reads its MRZ by OCR and opens the chip
(``gate.lane.document_stage``). A page handed over is not handed over again while it lies
there: the tray must change (the page taken away or another laid down) first. An empty tray
is not sharp (no edges), a moving hand is not still.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from gate.errors import DeviceTimeoutError
from gate.interfaces import Camera, ChipTransport
from gate.transaction import PresentedDocument
from gate.types import ImageBGR

log = logging.getLogger("gate.lane")

WORK_WIDTH = 320  # the tray is judged on a small grey copy of each frame
SHARP = 40.0  # variance of the Laplacian: a printed page is far above, an empty tray below
STILL = 2.0  # mean absolute grey difference between two frames of a page lying still
CHANGED = 12.0  # from the page handed over: another page, or the tray empty again
STILL_FRAMES = 3  # frames in a row that must be still and sharp


class PageCameraDocuments:
    """A ``DocumentSource`` of pages seen by ``camera``; each page's chip is reached through
    ``transport`` (the chip reader's connector, called once a page is handed over)."""

    def __init__(self, camera: Camera, transport: Callable[[], ChipTransport]) -> None:
        self.camera = camera
        self._transport = transport
        self._previous: np.ndarray | None = None
        self._still = 0
        self._handed: np.ndarray | None = None  # the page handed over, while it lies there

    @property
    def ended(self) -> bool:
        return False  # a camera never ends: it is reopened when lost

    def close(self) -> None:
        self.camera.close()

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = self.camera.read(left)
            except DeviceTimeoutError:  # no frame in all that time: the lane polls again
                return None
            if self._settled(frame.image):
                return PresentedDocument("", self._transport(), "page", page=frame.image)
        return None

    def _settled(self, image: ImageBGR) -> bool:
        """Whether ``image`` is the still, sharp page to hand over now."""
        small = _grey(image)
        previous, self._previous = self._previous, small
        if self._handed is not None:  # the last page still lies there: wait for a change
            if _difference(small, self._handed) < CHANGED and sharpness(small) >= SHARP:
                return False
            self._handed = None
        still = previous is not None and _difference(small, previous) <= STILL
        self._still = self._still + 1 if still and sharpness(small) >= SHARP else 0
        if self._still < STILL_FRAMES:
            return False
        self._still, self._handed = 0, small
        return True


def _grey(image: ImageBGR) -> np.ndarray:
    import cv2

    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape[:2]
    if width > WORK_WIDTH:
        size = (WORK_WIDTH, max(1, round(height * WORK_WIDTH / width)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return np.asarray(grey, dtype=np.float32)


def sharpness(grey: np.ndarray) -> float:
    """The variance of the Laplacian of a grey picture (edges: text, lines, a face)."""
    import cv2

    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.mean(np.abs(a - b)))
