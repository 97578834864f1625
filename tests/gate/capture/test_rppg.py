"""The pulse cue (POS rPPG) on synthetic skin colours: a pulse is found at its rate, by
the frames' timestamps; noise, too few frames per second or too short a window are not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gate.capture.quality import FacePoints
from gate.capture.rppg import RppgSettings, rppg, skin_colour, skin_patches

SKIN = np.array([180.0, 130.0, 110.0])  # R, G, B


def _colours(times: np.ndarray, bpm: float, amplitude: float, seed: int) -> np.ndarray:
    """Skin whose blood volume pulses at ``bpm`` (mostly green, as in real skin), plus a
    camera's noise on the patches' means (0.05 grey levels)."""
    rng = np.random.default_rng(seed)
    pulse = amplitude * np.sin(2 * math.pi * bpm / 60.0 * times)
    weights = np.array([0.33, 0.77, 0.53])  # the pulse's relative strength per channel
    rgb = SKIN * (1.0 + np.outer(pulse, weights))
    return np.asarray(rgb + rng.normal(0.0, 0.05, rgb.shape), dtype=np.float64)


@pytest.mark.parametrize("bpm", [55.0, 72.0, 110.0])
def test_a_pulse_is_found_at_its_rate(bpm: float) -> None:
    times = np.arange(0, 5.0, 1 / 15)
    result = rppg(times, _colours(times, bpm, 0.004, seed=int(bpm)))
    assert result.verdict == "pulse"
    assert result.confidence >= 0.5
    assert abs(result.bpm - bpm) <= 6.0
    assert result.fps == pytest.approx(15.0, rel=0.01)


def test_dropped_frames_keep_the_rate_because_the_timestamps_do() -> None:
    """A loaded lane reads frames at irregular times: the pulse is still at 72 bpm, since
    the colours are placed by their timestamps, not by their count."""
    rng = np.random.default_rng(3)
    full = np.arange(0, 5.0, 1 / 30)
    times = np.sort(rng.choice(full, size=75, replace=False))  # half the frames, at random
    result = rppg(times, _colours(times, 72.0, 0.004, seed=4))
    assert result.verdict == "pulse" and abs(result.bpm - 72.0) <= 6.0
    # counting frames as if they were 30 fps apart would put the pulse at 36 bpm
    counted = rppg(np.arange(len(times)) / 30.0, _colours(times, 72.0, 0.004, seed=4))
    assert counted.verdict == "unavailable" or abs(counted.bpm - 72.0) > 6.0


@pytest.mark.parametrize("seconds", [3.0, 6.0])
def test_noise_alone_shows_no_pulse(seconds: float) -> None:
    times = np.arange(0, seconds, 1 / 30)
    verdicts = [rppg(times, _colours(times, 72.0, 0.0, seed)).verdict for seed in range(40)]
    assert verdicts.count("pulse") == 0, verdicts


def test_too_slow_or_too_short_is_unavailable() -> None:
    slow = np.arange(0, 4.0, 1 / 8)
    assert rppg(slow, _colours(slow, 72.0, 0.004, 0)).verdict == "unavailable"
    short = np.arange(0, 1.5, 1 / 30)
    result = rppg(short, _colours(short, 72.0, 0.004, 0))
    assert result.verdict == "unavailable" and result.confidence == 0.0
    assert math.isnan(result.snr_db)
    # a gap longer than max_gap_s: only the stretch after it counts
    gap = np.concatenate([np.arange(0, 2.0, 1 / 30), np.arange(3.0, 4.5, 1 / 30)])
    assert rppg(gap, _colours(gap, 72.0, 0.004, 0), RppgSettings()).verdict == "unavailable"


def test_skin_patches_lie_below_the_eyes_and_on_the_forehead() -> None:
    points = FacePoints(eye_left=(80.0, 100.0), eye_right=(120.0, 100.0), nose=(100.0, 125.0))
    cheek_l, cheek_r, forehead = skin_patches(points)
    assert cheek_l[1] > 100 and cheek_r[1] > 100  # below the eyes
    assert cheek_l[2] <= 100 <= cheek_r[0]  # one each side of the nose
    assert forehead[3] < 100  # above the eyes
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, :] = (110, 130, 180)  # BGR
    colour = skin_colour(image, points)
    assert colour is not None and colour.tolist() == [180.0, 130.0, 110.0]
    outside = FacePoints(eye_left=(-500.0, -500.0), eye_right=(-480.0, -500.0), nose=(-490, -480))
    assert skin_colour(image, outside) is None


def test_a_slow_colour_swing_is_motion_not_a_pulse() -> None:
    """A picture turned back and forth once in 2 s changes its colour at 0.5 Hz (here in the
    pulse's own colour direction, which POS does not cancel): the flank of that swing
    reaches into the pulse band, but it is not a heartbeat."""
    times = np.arange(0, 6.0, 1 / 30)
    rng = np.random.default_rng(9)
    swing = 0.03 * np.sin(2 * math.pi * 0.5 * times)
    rgb = SKIN * (1.0 + np.outer(swing, [0.33, 0.77, 0.53])) + rng.normal(0, 0.05, (len(times), 3))
    result = rppg(times, rgb)
    assert result.verdict == "none" and result.confidence == 0.0
    # the same swing at a heartbeat's rate is a pulse
    beat = 0.03 * np.sin(2 * math.pi * 1.2 * times)
    rgb = SKIN * (1.0 + np.outer(beat, [0.33, 0.77, 0.53])) + rng.normal(0, 0.05, rgb.shape)
    assert rppg(times, rgb).verdict == "pulse"
