"""The camera as the capture stage reads it, also shown to observers (the officer's live
view): every frame the capture reads is passed on unchanged, and at most a few a second are
emitted as ``preview`` events. The event carries the frame itself (no copy, no encoding in
the lane's thread); an observer that wants to ship it encodes it on its own thread."""

from __future__ import annotations

import time

from gate.interfaces import Camera, Frame
from gate.lane.events import EventBus

PREVIEW_INTERVAL_S = 0.2  # real seconds between preview events


class PreviewCamera:
    def __init__(self, camera: Camera, bus: EventBus, tid: str) -> None:
        self.camera = camera
        self.bus = bus
        self.tid = tid
        self._last = 0.0

    def read(self, timeout: float) -> Frame:
        frame = self.camera.read(timeout)
        now = time.monotonic()
        if now - self._last >= PREVIEW_INTERVAL_S:
            self._last = now
            self.bus.emit("preview", self.tid, "", image=frame.image)
        return frame

    def close(self) -> None:
        """The lane's camera stays open: it belongs to the lane, not to one capture."""
