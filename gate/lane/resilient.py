"""Parts that come back after a failure without a restart of the kiosk.

``ResilientBiometrics``: a kiosk whose model file is corrupted at start-up must not crash or
open doors. It starts, keeps the doors locked, and refers every traveller (``ModelError`` ->
REFER_DEVICE, fail-safe) while it retries loading the pack before each traveller. Once the
pack is repaired, the next traveller is served normally.

``ReopeningCamera``: the camera driver reconnects by itself for a few seconds; past that it
reports the source gone (``DeviceGoneError``) and stays gone. The current traveller is
referred (the capture fails, the lane fails safe), and the next read, for the next
traveller, opens the source afresh. Its ``probe`` (the idle lane asking the camera for a
frame, ``gate.lane.service``) keeps the frame it read for the next ``read`` for a moment:
the probe made just before a transaction starts would otherwise take the frame the
capture is about to read, and the capture would wait a whole frame period for the next.
While a capture watching the approach reads every frame, a read that succeeded less than
``ANSWERED_S`` ago answers the probe: it reads nothing, and takes no frame from the watch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from threading import Event

from gate.clock import Clock
from gate.errors import DeviceError, DeviceGoneError, GateError, ModelError
from gate.interfaces import Camera, Frame
from gate.lane.challenge import ChallengeCheck, ChallengeOutcome
from gate.lane.ports import Biometrics, ChallengeWatcher
from gate.transaction import CaptureOutcome
from gate.types import FloatArray, ImageBGR

log = logging.getLogger(__name__)

HELD_S = 0.1  # a probed frame is handed to a read that comes within this (a few frames)
ANSWERED_S = 0.25  # a frame read this recently shows the camera answers


class ResilientBiometrics:
    """Wraps a loader of the real biometrics; raises ``ModelError`` while it cannot load."""

    def __init__(self, load: Callable[[], Biometrics]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._inner: Biometrics | None = None
        self.last_error: str = ""
        self.ready()

    def ready(self) -> bool:
        """Try to load the biometrics if they are not loaded yet; True when usable."""
        with self._lock:
            if self._inner is None:
                try:
                    self._inner = self._load()
                    self.last_error = ""
                except GateError as exc:
                    self.last_error = str(exc)
                    log.error("face models unusable, referring every traveller: %s", exc)
            return self._inner is not None

    def _get(self) -> Biometrics:
        if not self.ready() or self._inner is None:
            raise ModelError(f"face models unusable: {self.last_error}")
        return self._inner

    @property
    def pack_id(self) -> str:
        return self._get().pack_id

    def threshold(self, fmr: str) -> float:
        return self._get().threshold(fmr)

    def enrol(self, photo: ImageBGR) -> FloatArray:
        return self._get().enrol(photo)

    def capture(
        self, camera: Camera, clock: Clock, deadline_s: float, scanned: Event | None = None
    ) -> CaptureOutcome:
        if scanned is not None and not scanned.is_set() and self._inner is None:
            # A watch of the idle lane does not load the pack (nor log its failure again
            # every second): the traveller's scan does, as it always did.
            raise ModelError(f"face models unusable: {self.last_error}")
        return self._get().capture(camera, clock, deadline_s, scanned)

    def distance(self, reference: FloatArray, probes: Sequence[FloatArray]) -> float:
        return self._get().distance(reference, probes)

    def challenge_actions(self) -> tuple[str, ...]:
        inner = self._inner
        return inner.challenge_actions() if isinstance(inner, ChallengeWatcher) else ()

    def watch_challenge(
        self, camera: Camera, clock: Clock, check: ChallengeCheck, deadline_s: float
    ) -> ChallengeOutcome:
        inner = self._get()
        if not isinstance(inner, ChallengeWatcher):
            raise ModelError("these biometrics cannot check a challenge")
        return inner.watch_challenge(camera, clock, check, deadline_s)


@dataclass(frozen=True)
class ReopeningStats:
    """How often the source was opened, and the current source's own frame counters
    (``None`` when no source is open or it keeps none)."""

    opened: int
    frames_captured: int | None = None
    frames_dropped: int | None = None
    frames_delivered: int | None = None
    reconnects: int | None = None


class ReopeningCamera:
    """A camera that opens its source again after the stream was lost for good."""

    def __init__(self, open_source: Callable[[], Camera], description: str = "camera") -> None:
        self._open = open_source
        self.description = description
        self._lock = threading.Lock()
        self._camera: Camera | None = None
        self.reopened = 0
        self.down_since: float | None = None  # Unix time the source was lost (None: up)
        self._held: tuple[float, Frame] | None = None  # the probe's frame, when it was read
        self._answered_at = -float("inf")  # when the last read gave a frame

    @property
    def stats(self) -> ReopeningStats:
        with self._lock:
            camera = self._camera
        # Sources from drivers.camera keep counters (``stats``); other cameras may not.
        inner = getattr(camera, "stats", None)
        if inner is None:
            return ReopeningStats(self.reopened)
        return ReopeningStats(
            self.reopened,
            int(inner.frames_captured),
            int(inner.frames_dropped),
            int(inner.frames_delivered),
            int(inner.reconnects),
        )

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

    def probe(self, timeout: float) -> None:
        """Read a frame to see that the camera answers, and keep it for the next ``read``
        if that comes within ``HELD_S`` (nothing to read if a frame came just now)."""
        if time.monotonic() - self._answered_at <= ANSWERED_S:
            return
        frame = self.read(timeout)
        with self._lock:
            self._held = (time.monotonic(), frame)

    def read(self, timeout: float) -> Frame:
        with self._lock:
            held, self._held = self._held, None
        if held is not None and time.monotonic() - held[0] <= HELD_S:
            return held[1]
        try:
            camera = self._current()
        except DeviceError as exc:
            self._went_down(f"cannot open: {exc}")
            raise
        try:
            frame = camera.read(timeout)
        except DeviceGoneError:
            self._went_down("source gone; it is opened again for the next read")
            self._drop(camera)
            raise
        if self.down_since is not None:  # one line per change of state, not per read
            log.warning("%s: back", self.description)
            self.down_since = None
        self._answered_at = time.monotonic()
        return frame

    def _went_down(self, why: str) -> None:
        if self.down_since is None:
            self.down_since = time.time()
            log.warning("%s: %s", self.description, why)

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
