"""A camera that comes back: re-opens its source after the stream was lost for good.

The camera driver reconnects by itself for a few seconds; past that it reports the source
gone (``DeviceGoneError``) and stays gone. A kiosk must not need a restart for that: the
current traveller is referred (the capture fails, the gate fails safe), and the next read,
for the next traveller, opens the source afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gate.errors import DeviceError, DeviceGoneError
from gate.interfaces import Camera, Frame

log = logging.getLogger(__name__)


class ReopeningCamera:
    def __init__(self, open_source: Callable[[], Camera], description: str = "camera") -> None:
        self._open = open_source
        self.description = description
        self._lock = threading.Lock()
        self._camera: Camera | None = None
        self.reopened = 0

    def _current(self) -> Camera:
        with self._lock:
            if self._camera is None:
                try:
                    self._camera = self._open()
                except DeviceError:
                    raise
                except Exception as exc:  # an opener that is not ours: translate
                    raise DeviceGoneError(f"{self.description}: cannot open: {exc}") from exc
                self.reopened += 1
            return self._camera

    def read(self, timeout: float) -> Frame:
        camera = self._current()
        try:
            return camera.read(timeout)
        except DeviceGoneError:
            log.warning(
                "%s: source gone; it will be opened again for the next read", self.description
            )
            self._drop(camera)
            raise

    def _drop(self, camera: Camera) -> None:
        with self._lock:
            if self._camera is camera:
                self._camera = None
        try:
            camera.close()
        except Exception:
            log.debug("closing a lost camera failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()
