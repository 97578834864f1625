"""Biometrics that survive a broken model pack: refer while broken, recover when repaired.

A kiosk whose model file is corrupted at start-up must not crash or open doors: it starts,
keeps the doors locked, and refers every traveller (``ModelError`` -> REFER_DEVICE,
fail-safe) while it retries loading the pack before each traveller. Once the pack is
repaired, the next traveller is served normally.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from gate.clock import Clock
from gate.controller_ports import Biometrics, CaptureOutcome
from gate.errors import GateError, ModelError
from gate.interfaces import Camera
from gate.types import FloatArray, ImageBGR

log = logging.getLogger(__name__)


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

    def capture(self, camera: Camera, clock: Clock, deadline_s: float) -> CaptureOutcome:
        return self._get().capture(camera, clock, deadline_s)

    def distance(self, reference: FloatArray, probes: Sequence[FloatArray]) -> float:
        return self._get().distance(reference, probes)
