"""The blink cue on synthetic eye patches: both eyes close briefly while the rest of the face
stays: a blink; a still face, a face that changes as a whole, a single jittering eye or an
eye closed for too long: none."""

from __future__ import annotations

import numpy as np

from gate.capture.blink import PATCH, BlinkSettings, EyePatches, blinks, eye_patches
from gate.capture.quality import FacePoints

RNG = np.random.default_rng(7)
OPEN_L = RNG.uniform(0, 255, PATCH[::-1]).astype(np.float32)
OPEN_R = RNG.uniform(0, 255, PATCH[::-1]).astype(np.float32)
CONTROL = RNG.uniform(0, 255, (16, 32)).astype(np.float32)
LID = np.tile(np.linspace(120, 160, PATCH[1], dtype=np.float32)[:, None], (1, PATCH[0]))


def _frames(n: int, closed: set[int], seed: int, whole: set[int] | None = None) -> list[EyePatches]:
    """``n`` frames of a face with camera noise; eyes closed (the lid's smooth skin) in
    ``closed``; the whole face changed (as a turn does) in ``whole``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        left = LID.copy() if i in closed else OPEN_L.copy()
        right = LID.copy() if i in closed else OPEN_R.copy()
        control = CONTROL.copy()
        if whole and i in whole:
            left, right, control = np.roll(left, 5, 1), np.roll(right, 5, 1), np.roll(control, 5, 1)
        noise = [rng.normal(0, 4, p.shape).astype(np.float32) for p in (left, right, control)]
        out.append(EyePatches(left + noise[0], right + noise[1], control + noise[2]))
    return out


def _times(n: int, fps: float = 30.0) -> np.ndarray:
    return np.arange(n) / fps


def test_a_blink_is_seen() -> None:
    result = blinks(_times(60), _frames(60, {30, 31, 32, 33}, seed=1))
    assert result.verdict == "blink" and result.blinks == 1
    assert result.strength > 1.0


def test_a_still_face_does_not_blink() -> None:
    assert blinks(_times(60), _frames(60, set(), seed=2)).verdict == "none"


def test_a_face_changing_as_a_whole_is_not_a_blink() -> None:
    """A turn (or a picture turned by hand) changes the eyes and the control together."""
    result = blinks(_times(60), _frames(60, set(), seed=3, whole={20, 21, 22, 23}))
    assert result.verdict == "none"


def test_one_eye_or_too_long_is_not_a_blink() -> None:
    frames = _frames(60, set(), seed=4)
    frames[30] = EyePatches(LID.copy(), frames[30].right, frames[30].control)  # one eye
    assert blinks(_times(60), frames).verdict == "none"
    long = _frames(60, set(range(20, 45)), seed=5)  # eyes shut for 0.8 s: not a blink
    assert blinks(_times(60), long).verdict == "none"


def test_the_blink_is_timed_by_timestamps() -> None:
    """The same four closed frames: 0.13 s at 30 fps is a blink; taken 0.25 s apart (a
    lane that gets 4 frames a second) they last a second: too slow to tell, unavailable."""
    frames = _frames(60, {30, 31, 32, 33}, seed=6)
    assert blinks(_times(60, 4.0), frames).verdict == "unavailable"
    assert blinks(_times(60, 12.0), frames, BlinkSettings(max_blink_s=0.2)).verdict == "none"


def test_eye_patches_follow_the_eye_line() -> None:
    """A face rolled by 90 degrees gives the same patches as the upright face, turned."""
    image = np.zeros((200, 200), np.uint8)
    image[95:105, 70:90] = 255  # a bright bar across the left eye
    upright = eye_patches(image, FacePoints((80.0, 100.0), (120.0, 100.0), (100.0, 125.0)))
    rolled_image = np.ascontiguousarray(np.rot90(image, -1))  # turned clockwise
    rolled = eye_patches(rolled_image, FacePoints((99.0, 80.0), (99.0, 120.0), (74.0, 100.0)))
    assert upright.left.max() > 200 and rolled.left.max() > 200
    assert np.corrcoef(upright.left.ravel(), rolled.left.ravel())[0, 1] > 0.8
