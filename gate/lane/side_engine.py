"""A second face engine for a kiosk lane in real time (``egate run``): the chip photo's.

The capture holds the lane's face engine from its first frame to its last embedding
(``gate.lane.adapters.EngineBiometrics``: the engine is not thread-safe, and a capture
must not be paused mid-window). With only that engine, the traveller waits after the
capture for the chip photo's enrolment. ``SideEngine`` is the same pack opened a second
time, on one thread (the capture keeps the other cores): the lane's thread enrols the chip
photo on it as soon as the chip is read, while the capture runs. Same pack, same models,
same numbers: nothing is decided on less.

Measured and left out: embedding the best shots on it while the capture window is still
open. On the 2-core machine that also runs the emulators, that work took the CPU from the
chip read and the capture (the chip read 150 -> 580 ms) and the traveller waited longer.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from gate.errors import FaceError
from gate.types import FloatArray, ImageBGR

if TYPE_CHECKING:
    from models.engine import FaceEngine


class SideEngine:
    """One engine, one enrolment at a time."""

    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.lock = threading.Lock()

    def enrol(self, photo: ImageBGR, min_face: int) -> FloatArray:
        """The largest face of the chip photo, embedded (in the caller's thread)."""
        with self.lock:
            face = self.engine.embed_one(photo, policy="largest", min_face=min_face)
        if face.embedding is None:
            raise FaceError("the engine gave no embedding for the chip photo")
        return np.asarray(face.embedding, dtype=np.float32)
