"""Synthetic travellers and presentation attacks rendered from one face photo.

A ``TravellerScene`` describes a short approach sequence at a gate camera; ``render_sequence``
yields ``SyntheticFrame``s (the picture plus the ground truth: face boxes and the five
points in dlib's order). Scene kinds:

* ``genuine`` / ``impostor``: a live traveller walks in (the face grows), turns the head a
  little (a non-rigid warp: the nose, which stands out of the face, moves more than the eyes
  and the outline), under changing light, with motion blur, sensor noise and JPEG artefacts
  in front of a background. ``impostor`` is the same scene; the caller picks another photo.
* ``print``: the photo printed on paper with a white margin, held up as a rigid plane
  (a homography only), flat lighting, reduced dynamic range.
* ``screen``: the photo replayed on a phone: black bezel, the display's pixel grid sampled by
  the camera (moiré), glare, a colour shift, rigid motion.
* ``no_face``: the background and a body without a visible head.
* ``two_faces``: two travellers at once (the second photo, or the first one mirrored).

Everything is seeded: the same scene renders the same pixels. The pictures are meant to
exercise the pipeline and the liveness cues, not to stand for real attacks (docs/liveness.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gate.errors import InputError
from gate.types import Box, ImageBGR

SCENE_KINDS = ("genuine", "impostor", "print", "screen", "no_face", "two_faces")
ATTACK_KINDS = ("print", "screen")

# dlib's 5-point chip template (fractions of the aligned face chip); used to guess where the
# face is in a photo when the caller does not say: a centred, passport-style portrait.
_DLIB_TEMPLATE = np.array(
    [[0.8596, 0.2135], [0.6461, 0.2290], [0.1206, 0.2137], [0.3341, 0.2291], [0.4901, 0.6278]]
)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SyntheticFrame:
    """One rendered picture and what is really in it."""

    image: ImageBGR
    boxes: tuple[Box, ...]
    landmarks: tuple[tuple[tuple[float, float], ...], ...]  # per face, 5 points, dlib order
    kind: str
    index: int

    @property
    def is_attack(self) -> bool:
        return self.kind in ATTACK_KINDS


@dataclass(frozen=True)
class TravellerScene:
    """An approach sequence: ``kind`` of scene, built from ``photo`` (uint8 BGR)."""

    photo: ImageBGR = field(repr=False)
    kind: str = "genuine"
    seed: int = 0
    frames: int = 30
    size: tuple[int, int] = (640, 480)  # width, height
    # Five points of the photo's face in dlib's order (eye corners, eye corners, nose);
    # None: assume a centred portrait.
    photo_landmarks: tuple[tuple[float, float], ...] | None = None
    second_photo: ImageBGR | None = field(default=None, repr=False)
    eye_distance_start: float = 40.0  # pixels between the eye centres, first frame
    eye_distance_end: float = 80.0  # ... last frame
    yaw_amplitude_deg: float = 16.0
    jpeg_quality: tuple[int, int] = (75, 92)

    def __post_init__(self) -> None:
        if self.kind not in SCENE_KINDS:
            raise InputError(f"scene kind {self.kind!r} is not one of {', '.join(SCENE_KINDS)}")
        photo = self.photo
        if not (isinstance(photo, np.ndarray) and photo.ndim == 3 and photo.shape[2] == 3):
            raise InputError("scene photo must be an (H, W, 3) uint8 BGR image")
        if photo.dtype != np.uint8 or min(photo.shape[:2]) < 32:
            raise InputError(f"scene photo must be uint8 and at least 32x32, got {photo.shape}")
        if self.frames < 1:
            raise InputError(f"scene frames must be >= 1, got {self.frames}")
        if self.photo_landmarks is not None and np.shape(self.photo_landmarks) != (5, 2):
            raise InputError("scene photo_landmarks must be 5 (x, y) points in dlib's order")

    def images(self) -> Iterator[ImageBGR]:
        """Only the pictures (for a camera or the MJPEG server)."""
        for frame in render_sequence(self):
            yield frame.image


def guess_landmarks(photo: ImageBGR) -> F64:
    """Five points for a centred portrait: dlib's template over the middle 60 % of the photo."""
    h, w = photo.shape[:2]
    side = 0.6 * min(h, w)
    origin = np.array([(w - side) / 2, (h - side) / 2 - 0.05 * side])
    return np.asarray(origin + _DLIB_TEMPLATE * side, dtype=np.float64)


def render_sequence(scene: TravellerScene) -> Iterator[SyntheticFrame]:
    """Render the scene's frames in order (deterministic for a given seed)."""
    from drivers.camera import _render

    yield from _render.render(scene)


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def approach_scale(scene: TravellerScene, t: float) -> float:
    """Eye distance in the frame at time t in [0, 1]: the traveller walks in and slows down."""
    return scene.eye_distance_start + (scene.eye_distance_end - scene.eye_distance_start) * (
        _ease(min(1.0, t * 1.3))
    )


def head_angles(scene: TravellerScene, t: float, rng_phase: float) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in radians at time t: slow natural head movements."""
    yaw = math.radians(scene.yaw_amplitude_deg) * math.sin(2 * math.pi * 1.3 * t + rng_phase)
    pitch = math.radians(5.0) * math.sin(2 * math.pi * 0.9 * t + 2 * rng_phase)
    roll = math.radians(3.0) * math.sin(2 * math.pi * 0.7 * t + 3 * rng_phase)
    return yaw, pitch, roll
