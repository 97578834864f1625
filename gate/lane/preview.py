"""The camera as the capture stage reads it, also shown to observers (the officer's live
view), once a lane is asked to (``Lane.show_previews``, done by the console's reporter; a
lane without a console reads its camera directly, nothing added per frame). Every frame the
capture reads is passed on unchanged, and at most a few a second are emitted as
``preview`` events, with the main face's box and quality when the face side reports them
for that frame (``note_faces``). The event carries the frame itself (no copy, no encoding
in the lane's thread); an observer that ships it encodes it on its own thread."""

from __future__ import annotations

import time

from gate.interfaces import Camera, Frame
from gate.lane.capture_ahead import Scan
from gate.lane.events import EventBus
from gate.types import ImageBGR

PREVIEW_INTERVAL_S = 0.2  # real seconds between preview events
Box = tuple[float, float, float, float]


class PreviewCamera:
    def __init__(self, camera: Camera, bus: EventBus, tid: str | Scan) -> None:
        """``tid``: the transaction, or the ``Scan`` of a capture that began before it (its
        frames before the scan are no transaction's, and are not shown)."""
        self.camera = camera
        self.bus = bus
        self.tid = tid
        self._last = 0.0
        self._pending: ImageBGR | None = None  # chosen for a preview, faces not yet known

    def read(self, timeout: float) -> Frame:
        if self._pending is not None:  # nobody reported its faces: show it without
            self._emit(self._pending, None, None)
        frame = self.camera.read(timeout)
        now = time.monotonic()
        image = getattr(frame, "image", None)  # a camera that gave no picture: nothing to show
        if image is not None and now - self._last >= PREVIEW_INTERVAL_S:
            self._last = now
            self._pending = image
        return frame

    def wants(self, image: ImageBGR) -> bool:
        """Whether ``image`` is the frame waiting to be previewed (worth measuring)."""
        return image is self._pending

    def note_faces(self, image: ImageBGR, box: Box | None, quality: float | None) -> None:
        if image is self._pending:
            self._emit(image, box, quality)

    def _emit(self, image: ImageBGR, box: Box | None, quality: float | None) -> None:
        self._pending = None
        tid = self.tid if isinstance(self.tid, str) else self.tid.tid
        if tid is not None:
            self.bus.emit("preview", tid, "", image=image, face_box=box, quality=quality)

    def close(self) -> None:
        """The lane's camera stays open: it belongs to the lane, not to one capture."""
