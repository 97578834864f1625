"""How the pulse and blink cues join the liveness score: a still face with a pulse is
live, a still picture without one is inconclusive, no sign of life outweighs an attack cue,
and every cue's value is in the result by name."""

from __future__ import annotations

import math

import cv2
import numpy as np

from gate.capture.liveness import LivenessChecker, LivenessResult, LivenessSettings
from gate.types import Box, Detection, Face, Landmarks5

FACE = Face(
    Detection(Box(60, 50, 180, 200), 1.0),
    # insightface order: eye centres, nose tip, mouth corners
    Landmarks5(((95.0, 105.0), (145.0, 105.0), (120.0, 135.0), (100.0, 165.0), (140.0, 165.0))),
)
FPS = 15.0


def _picture() -> np.ndarray:
    rng = np.random.default_rng(1)
    small = rng.integers(60, 200, (30, 30, 3)).astype(np.uint8)
    image = cv2.resize(small, (240, 240), interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.GaussianBlur(image, (0, 0), 2.0), np.uint8)


def _still_face(
    seconds: float, pulse: float, settings: LivenessSettings | None = None
) -> LivenessResult:
    """A face that does not move, its colour beating at 72 bpm with amplitude ``pulse``,
    seen at 15 frames a second, each frame with its timestamp."""
    base = _picture().astype(np.float64)
    rng = np.random.default_rng(2)
    checker = LivenessChecker("insightface", settings)
    for i in range(int(seconds * FPS)):
        t = i / FPS
        beat = pulse * math.sin(2 * math.pi * 1.2 * t)
        frame = base * (1.0 + beat * np.array([0.53, 0.77, 0.33]))  # B, G, R
        frame += rng.normal(0.0, 1.0, frame.shape)
        checker.add(np.asarray(np.clip(frame, 0, 255), np.uint8), FACE, 100.0 + t)
    return checker.result()


def test_a_still_face_with_a_pulse_is_live_and_without_one_inconclusive() -> None:
    beating = _still_face(6.0, 0.01)
    assert beating.pulse_verdict == "pulse" and beating.pulse >= 0.5
    assert abs(beating.pulse_bpm - 72.0) <= 6.0
    assert beating.verdict == "live" and beating.score >= 0.5
    assert abs(beating.seconds - (6.0 * FPS - 1) / FPS) < 1e-6 and abs(beating.fps - FPS) < 0.01
    still = _still_face(7.0, 0.0)  # longer than the window: the oldest frames are forgotten
    assert still.seconds <= LivenessSettings().max_seconds
    assert still.frames == int(LivenessSettings().max_seconds * FPS) + 1
    assert still.pulse_verdict == "none"
    assert still.verdict == "inconclusive" and still.score < 0.5
    assert still.cues["pulse"] == still.pulse < 0.5
    assert set(still.cues) == {
        "surface",
        "planarity",
        "motion",
        "texture",
        "border",
        "pulse",
        "blink",
    }


def test_no_sign_of_life_outweighs_an_attack_cue() -> None:
    """The same beating face, with the texture cue set to see a screen in any face."""
    screen = LivenessSettings(moire_low=0.0, moire_high=1e-6, moire_solid=2e-6)
    result = _still_face(5.0, 0.01, screen)
    assert result.pulse_verdict == "pulse"
    assert result.verdict == "attack" and result.score < 0.5 and result.attack < 0.5


def test_few_frames_far_apart_are_measured_without_error() -> None:
    """Four frames a second apart (a lane starved of CPU): no triple of frames is close
    enough for the jitter; the closest ones stand in. Too slow for a pulse or a blink."""
    checker = LivenessChecker("insightface")
    picture = _picture()
    for i in range(4):
        checker.add(picture, FACE, float(i))
    result = checker.result()
    assert result.frames == 4 and result.fps == 1.0
    assert result.pulse_verdict == "unavailable" and result.blink_verdict == "unavailable"
    assert result.verdict == "inconclusive"
