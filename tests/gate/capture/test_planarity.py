"""The planarity cue on exact geometry: a head's five points against a picture of them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gate.capture.planarity import planarity

# Eye centres, nose tip, mouth corners of a head, in eye distances; z towards the camera < 0.
HEAD = np.array(
    [[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.55, -0.5], [-0.4, 1.1, 0.0], [0.4, 1.1, 0.0]]
)


def _view(
    points: np.ndarray, yaw_deg: float, distance: float, rng: np.random.Generator
) -> np.ndarray:
    """Pinhole projection (focal 500 px) of the points turned by ``yaw_deg`` about the
    vertical axis through the eyes' midpoint, at ``distance`` eye distances."""
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    moved = points @ rot.T + [0.0, 0.0, distance]
    image = 500.0 * moved[:, :2] / moved[:, 2:3] + [320.0, 240.0]
    return np.asarray(image + rng.normal(0.0, 0.3, image.shape))


def _window(points: np.ndarray, amplitude: float, distance: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    yaws = [amplitude * math.sin(2 * math.pi * t / 20) for t in range(20)]
    return np.stack([_view(points, yaw, distance, rng) for yaw in yaws])


@pytest.mark.parametrize("amplitude", [10.0, 20.0])
def test_a_turning_head_is_solid(amplitude: float) -> None:
    result = planarity(_window(HEAD, amplitude, 6.0))
    assert result.verdict == "solid"
    assert result.parallax > 0.06


@pytest.mark.parametrize("amplitude", [15.0, 20.0, 30.0])
@pytest.mark.parametrize("distance", [3.0, 8.0])
def test_a_turned_picture_is_never_solid(amplitude: float, distance: float) -> None:
    picture = HEAD * [1.0, 1.0, 0.0]  # the same face printed flat
    result = planarity(_window(picture, amplitude, distance))
    assert result.verdict != "solid"
    assert result.parallax < 0.03
    # the nose did move relative to the eyes (perspective), and the plane explains it
    head = planarity(_window(HEAD, amplitude, distance))
    assert head.parallax > 3 * max(result.parallax, 0.01)


def test_a_picture_turned_close_to_the_camera_is_flat() -> None:
    picture = HEAD * [1.0, 1.0, 0.0]
    rng = np.random.default_rng(5)
    # close (2 eye distances) and turned a long way: perspective moves the nose a lot
    views = [_view(picture, 35 * math.sin(2 * math.pi * t / 20), 2.0, rng) for t in range(20)]
    result = planarity(np.stack(views))
    assert result.verdict == "flat", result
    assert result.flat_ratio < 0.25


def test_a_still_face_is_inconclusive_not_flat() -> None:
    result = planarity(_window(HEAD, 0.0, 6.0))
    assert result.verdict == "inconclusive"
    assert planarity(_window(HEAD, 20.0, 6.0)[:3]).verdict == "inconclusive"  # too few
