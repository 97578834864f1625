"""The device and model interfaces the gate is written against.

Each is a ``typing.Protocol``: drivers and models implement them structurally. Owners of the
concrete implementations may add methods, but the lane uses only what is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gate.types import Box, Detection, FloatArray, ImageBGR, Landmarks5


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
