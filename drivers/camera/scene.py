"""What a synthetic scene is, without the pixels: its kinds, its ground truth, its motion.

Shared by the renderer (``drivers.camera._render``) and the public scene API
(``drivers.camera.synthetic``), which imports the renderer; keeping these pieces here lets
the renderer depend on them without importing ``synthetic`` back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

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


class SceneParameters(Protocol):
    """What the renderer reads of a scene (``drivers.camera.synthetic.TravellerScene``)."""

    @property
    def photo(self) -> ImageBGR: ...
    @property
    def kind(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def frames(self) -> int: ...
    @property
    def size(self) -> tuple[int, int]: ...
    @property
    def photo_landmarks(self) -> tuple[tuple[float, float], ...] | None: ...
    @property
    def second_photo(self) -> ImageBGR | None: ...
    @property
    def eye_distance_start(self) -> float: ...
    @property
    def eye_distance_end(self) -> float: ...
    @property
    def yaw_amplitude_deg(self) -> float: ...
    @property
    def jpeg_quality(self) -> tuple[int, int]: ...
    @property
    def gesture(self) -> str | None: ...


def guess_landmarks(photo: ImageBGR) -> F64:
    """Five points for a centred portrait: dlib's template over the middle 60 % of the photo."""
    h, w = photo.shape[:2]
    side = 0.6 * min(h, w)
    origin = np.array([(w - side) / 2, (h - side) / 2 - 0.05 * side])
    return np.asarray(origin + _DLIB_TEMPLATE * side, dtype=np.float64)


def face_box(points: F64, eye_distance: float) -> Box:
    """The ground-truth face box the renderers report around five landmarks (eyes first)."""
    mid = points[:4].mean(axis=0)
    half = 1.1 * eye_distance
    return Box(
        float(mid[0] - half),
        float(mid[1] - 0.75 * half),
        float(mid[0] + half),
        float(mid[1] + 1.45 * half),
    )


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def approach_scale(scene: SceneParameters, t: float) -> float:
    """Eye distance in the frame at time t in [0, 1]: the traveller walks in and slows down."""
    return scene.eye_distance_start + (scene.eye_distance_end - scene.eye_distance_start) * (
        _ease(min(1.0, t * 1.3))
    )


# What a traveller does when the lane asks (``gate.lane.challenge``): the traveller's own
# left or right, which is the picture's right or left (the camera faces them).
GESTURES = ("turn_left", "turn_right")
GESTURE_YAW_DEG = 20.0


def gesture_yaw(gesture: str | None, t: float) -> float:
    """The hook a renderer consults for the action asked of the traveller: the extra yaw in
    radians at time t in [0, 1] of the clip. A head turn goes out by ``GESTURE_YAW_DEG``
    from a fifth of the clip, holds, and comes back by four fifths (raised cosines); no
    gesture (or one the renderer cannot show, e.g. a blink) adds nothing."""
    if gesture not in GESTURES:
        return 0.0
    sign = 1.0 if gesture == "turn_left" else -1.0
    if t <= 0.2 or t >= 0.8:
        ramp = 0.0
    elif t < 0.4:
        ramp = 0.5 - 0.5 * math.cos(math.pi * (t - 0.2) / 0.2)
    elif t <= 0.6:
        ramp = 1.0
    else:
        ramp = 0.5 + 0.5 * math.cos(math.pi * (t - 0.6) / 0.2)
    return sign * math.radians(GESTURE_YAW_DEG) * ramp


def head_angles(scene: SceneParameters, t: float, rng_phase: float) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in radians at time t: slow natural head movements, plus the
    gesture asked of the traveller (``gesture_yaw``)."""
    yaw = math.radians(scene.yaw_amplitude_deg) * math.sin(2 * math.pi * 1.3 * t + rng_phase)
    yaw += gesture_yaw(scene.gesture, t)
    # A traveller who holds still (a yaw amplitude below the default) nods and tilts less too.
    sway = min(1.0, scene.yaw_amplitude_deg / 16.0)
    pitch = sway * math.radians(5.0) * math.sin(2 * math.pi * 0.9 * t + 2 * rng_phase)
    roll = sway * math.radians(3.0) * math.sin(2 * math.pi * 0.7 * t + 3 * rng_phase)
    return yaw, pitch, roll
