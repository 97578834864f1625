"""The document tray seen by a camera (issue 22): the simulator's page reader as a kiosk built
from commodity parts has it. Each traveller's rendered data page is laid on a grey tray and
served as an MJPEG stream (``drivers.camera.mjpeg_server``); the lane reads it through the
camera registry like any ``reader.mrz_source = "camera:URL"`` (``gate.lane``'s
``PageCameraDocuments``: a still, sharp page is handed over, its MRZ read by OCR).

The tray is emptied as soon as the page is handed over (the traveller takes the passport
back once the chip is read), so the next traveller's page is a change on the tray.
"""

from __future__ import annotations

import threading

import numpy as np

from gate.clock import Clock
from gate.interfaces import ChipTransport
from gate.lane import PageCameraDocuments
from gate.simulate.lane import SceneFeed
from gate.transaction import PresentedDocument
from gate.types import ImageBGR

TRAY_SIZE = (1280, 960)  # the document camera's picture (width, height)
PAGE_FILL = 0.85  # how much of the picture's width or height the page takes at most


def on_tray(page: ImageBGR, size: tuple[int, int] = TRAY_SIZE) -> ImageBGR:
    """``page`` laid in the middle of the camera's picture of the (grey) tray."""
    import cv2

    from gate.simulate.lane import empty_lane

    width, height = size
    tray = empty_lane(size)
    scale = min(PAGE_FILL * width / page.shape[1], PAGE_FILL * height / page.shape[0], 1.0)
    if scale < 1.0:
        page = np.asarray(
            cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
    h, w = page.shape[:2]
    top, left = (height - h) // 2, (width - w) // 2
    tray[top : top + h, left : left + w] = page
    return np.ascontiguousarray(tray)


class PageCameraTray:
    """The runner's document tray (``lay``) and the lane's document source (``wait_document``)
    with a camera between them. ``close`` stops the stream and the camera."""

    def __init__(self, clock: Clock, fps: float = 15.0) -> None:
        from drivers.camera.mjpeg_server import MjpegServer
        from drivers.camera.registry import open_camera

        self._lock = threading.Lock()
        self._transport: ChipTransport | None = None
        self._feed = SceneFeed(TRAY_SIZE)
        self._server = MjpegServer(self._feed, fps=fps)
        self.url = self._server.url
        camera = open_camera(self.url, clock=clock, live=True)
        self._pages = PageCameraDocuments(camera, self._current)

    @property
    def ended(self) -> bool:
        return False

    def _current(self) -> ChipTransport:
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is None:  # pragma: no cover - a page is only shown with its card
            from gate.errors import DeviceGoneError

            raise DeviceGoneError("no card in the slot under the page")
        return transport

    def lay(self, document: PresentedDocument) -> None:
        """Show the document's page on the tray; its chip answers once the page is read."""
        if document.page is None:
            raise ValueError("the camera's tray needs the document's page image")
        with self._lock:
            self._transport = document.transport
        self._feed.show([on_tray(document.page)])

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        document = self._pages.wait_document(timeout)
        if document is not None:
            self._feed.clear()  # the passport taken back: the tray is empty again
        return document

    def close(self) -> None:
        self._pages.close()
        self._server.close()
        self._feed.close()
