"""Value types shared by ``gate``, ``models`` and ``drivers``.

Images are numpy arrays in OpenCV's convention: ``uint8``, shape (H, W, 3), BGR order.
Points are (x, y) in image pixels, floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

# Results the gate's stages report, shared by the chip reader, the capture pipeline and the
# lane (one definition, so a new status cannot be produced by one side and unknown to another).
PassiveAuthStatus = Literal["valid", "invalid", "not_checked", "revoked", "crl_stale"]
ActiveAuthStatus = Literal["valid", "invalid", "not_supported", "not_checked"]
ChipAuthStatus = Literal["valid", "invalid", "not_supported", "not_checked"]
CaptureStatus = Literal["ok", "fta", "multiple_faces", "camera_failed"]


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle, corners inclusive-exclusive like OpenCV's."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)


@dataclass(frozen=True)
class Detection:
    """One face found by a detector; ``landmarks`` is filled when the detector gives them."""

    box: Box
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True)
class Landmarks5:
    """Five facial points in the order: right eye, left eye (image order), nose, mouth corners.

    The exact order is pack-specific and documented by each pack; ``points`` is (5, 2).
    """

    points: tuple[tuple[float, float], ...]

    def as_array(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.points, dtype=np.float64)


@dataclass(frozen=True)
class Face:
    """A face analysed in one picture: where it is, its 5 points, and optionally its embedding."""

    detection: Detection
    landmarks: Landmarks5
    embedding: FloatArray | None = field(default=None, compare=False, repr=False)
