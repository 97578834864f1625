"""The device and model interfaces the gate is written against.

Each is a ``typing.Protocol``: drivers and models implement them structurally. Owners of the
concrete implementations may add methods, but the lane uses only what is here.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gate.types import Box, Detection, Face, FloatArray, ImageBGR, Landmarks5

Timings = MutableMapping[str, float]


@dataclass(frozen=True)
class Frame:
    """One camera frame: the picture, when it was taken (gate clock, seconds), its number."""

    image: ImageBGR
    timestamp: float
    index: int


@runtime_checkable
class Camera(Protocol):
    """A frame source. ``read`` returns the newest frame not yet returned.

    Raises ``DeviceTimeoutError`` when no frame arrives within ``timeout`` seconds and
    ``DeviceGoneError`` when the source is closed for good.
    """

    def read(self, timeout: float) -> Frame: ...

    def close(self) -> None: ...


@runtime_checkable
class FaceDetector(Protocol):
    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]: ...


@runtime_checkable
class LandmarkModel(Protocol):
    def landmarks(self, image: ImageBGR, box: Box) -> Landmarks5: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps aligned face chips (uint8 BGR, the pack's chip size) to embeddings (n, d)."""

    embedding_size: int

    def embed(self, chips: Sequence[ImageBGR]) -> FloatArray: ...


@runtime_checkable
class ChipTransport(Protocol):
    """Carries command APDUs to a contactless chip and returns the response APDU (with SW)."""

    def connect(self) -> bytes:
        """Power the card and return its ATR."""
        ...

    def transmit(self, apdu: bytes) -> bytes: ...

    def close(self) -> None: ...


class CaptureEngine(Protocol):
    """What the capture pipeline uses of a face engine (``models.engine.FaceEngine``).

    Detect-then-track is part of it: ``track`` follows a face in a small region around its
    last box, ``can_track`` says whether that works at all (an engine that cannot track
    answers False and its ``track`` gives None: the pipeline then detects on whole frames).
    A wrapper around an engine forwards every member here, tracking included.
    """

    @property
    def landmark_layout(self) -> str:
        """The convention of the engine's 5 points (``gate.capture.quality.LAYOUTS``)."""
        ...

    @property
    def can_track(self) -> bool: ...

    def analyze(
        self, image: ImageBGR, *, min_face: int = 40, timings: Timings | None = None
    ) -> list[Face]:
        """All faces of a whole frame with their 5 points, largest first."""
        ...

    def track(
        self,
        image: ImageBGR,
        previous: Face,
        *,
        min_face: int = 40,
        timings: Timings | None = None,
    ) -> Face | None:
        """The face of ``previous`` in a new frame, or None (detect on the whole frame)."""
        ...

    def embed(
        self, image: ImageBGR, faces: Sequence[Face], *, timings: Timings | None = None
    ) -> FloatArray:
        """Embeddings (n, d) of the given faces of one image."""
        ...
