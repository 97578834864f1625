"""Synthetic travellers and presentation attacks rendered from one face photo.

A ``TravellerScene`` describes a short approach sequence at a gate camera; ``render_sequence``
yields ``SyntheticFrame``s (the picture plus the ground truth: face boxes and the five
points in dlib's order). Scene kinds:

* ``genuine`` / ``impostor``: a live traveller walks in (the face grows), the photo's own
  pixels and whole head turned by a coarse 3-D head fitted to the five points (the nose,
  which stands out of the face, moves more than the eyes and the outline), shaded by the
  light, seen through a camera with auto-exposure, motion blur, sensor noise and JPEG, in
  front of a lane (``drivers.camera.head_render``, under ``conditions``). ``impostor`` is
  the same scene; the caller picks another photo.
* ``print``: the photo printed on paper with a white margin, held up as a rigid plane
  (a homography only), flat lighting, reduced dynamic range.
* ``screen``: the photo replayed on a phone: black bezel, the display's pixel grid sampled by
  the camera (moiré), glare, a colour shift, rigid motion.
* ``no_face``: the background and a body without a visible head.
* ``two_faces``: two travellers at once (the second photo, or the first one mirrored).

Everything is seeded: the same scene renders the same pixels. The pictures are meant to
exercise the pipeline and the liveness cues, not to stand for real attacks (docs/liveness.md).
``SceneGrabber`` shows a scene as a camera source (``synthetic:PHOTO`` camera addresses).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from drivers.camera import _render, head_render
from drivers.camera.conditions import Conditions
from drivers.camera.scene import (
    ATTACK_KINDS,
    F64,
    SCENE_KINDS,
    SyntheticFrame,
    approach_scale,
    guess_landmarks,
    head_angles,
)
from drivers.camera.threaded import IterableGrabber
from gate.errors import DeviceError, ImageError, InputError
from gate.images import load_image
from gate.types import ImageBGR

__all__ = [
    "ATTACK_KINDS",
    "F64",
    "SCENE_KINDS",
    "SceneGrabber",
    "SyntheticFrame",
    "TravellerScene",
    "approach_scale",
    "guess_landmarks",
    "head_angles",
    "render_sequence",
]


LIVE_HEAD_KINDS = ("genuine", "impostor")


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
    # How the traveller moves and the camera sees them (``drivers.camera.conditions``);
    # None: the legacy parameters above with the ``typical`` camera.
    conditions: Conditions | None = None
    # What the traveller does when the lane asks (``drivers.camera.scene.gesture_yaw``):
    # "turn_left" or "turn_right" (the traveller's own side); None: nothing asked.
    gesture: str | None = None

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


def render_sequence(scene: TravellerScene) -> Iterator[SyntheticFrame]:
    """Render the scene's frames in order (deterministic for a given seed). A live
    traveller (genuine, impostor) is the photo's whole head turned in 3-D
    (``drivers.camera.head_render``); the other kinds are drawn by ``_render``."""
    if scene.kind in LIVE_HEAD_KINDS:
        yield from head_render.render(scene)
    else:
        yield from _render.render(scene)


class SceneGrabber(IterableGrabber):
    """A camera source showing a scene made from the photo at ``photo`` (``synthetic:``).

    Recorded, like a file: every frame is kept, and the source ends after ``frames`` pictures
    unless ``loop`` replays the approach for ever. The photo is read when the camera opens.
    """

    def __init__(
        self,
        photo: str,
        *,
        kind: str = "genuine",
        seed: int = 0,
        frames: int = 30,
        loop: bool = False,
    ) -> None:
        description = f"synthetic:{photo}"

        def images() -> Iterator[ImageBGR]:
            try:
                picture = load_image(photo)
            except ImageError as exc:
                raise DeviceError(f"camera {description}: the photo cannot be read: {exc}") from exc
            scene = TravellerScene(picture, kind=kind, seed=seed, frames=frames)
            if loop:
                return itertools.chain.from_iterable(scene.images() for _ in itertools.count())
            return scene.images()

        super().__init__(images, live=False, description=description)
