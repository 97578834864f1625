"""The surface cue on rendered geometry: a textured plane turned in 3-D against a surface
with relief turned the same way."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from bench.pad_attacks import plane_homography
from gate.capture.surface import SurfaceTracker
from gate.types import Box

SIZE = 320
BOX = Box(100, 100, 220, 220)


def _texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (40, 40, 3)).astype(np.uint8)
    image = cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.GaussianBlur(image, (0, 0), 1.5), np.uint8)


def _relief(angle_deg: float, texture: np.ndarray) -> np.ndarray:
    """The texture on a bump 30 px high (about a nose, on a face 120 px wide) turned about
    the vertical axis, by orthographic projection: points stand out as a face's do."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx = cy = SIZE / 2
    r2 = ((xs - cx) ** 2 + (ys - cy) ** 2) / 35.0**2
    depth = 30.0 * np.exp(-r2)
    a = math.radians(angle_deg)
    # inverse map, first order: where each output pixel came from on the surface
    map_x = cx + (xs - cx) * math.cos(a) - depth * math.sin(a)
    return np.asarray(cv2.remap(texture, map_x, ys, cv2.INTER_LINEAR), np.uint8)


def _run(frames: list[np.ndarray]) -> SurfaceTracker:
    tracker = SurfaceTracker()
    for image in frames:
        tracker.add(image, BOX)
    return tracker


def _angles(amplitude: float) -> list[float]:
    return [amplitude * math.sin(2 * math.pi * i / 30) for i in range(30)]


@pytest.mark.parametrize("amplitude", [15.0, 30.0])
def test_a_turned_plane_is_never_solid(amplitude: float) -> None:
    texture = _texture()
    frames = [
        cv2.warpPerspective(
            texture, plane_homography(a, 1.0 * SIZE, (160, 160), (0, 0)), (SIZE, SIZE)
        )
        for a in _angles(amplitude)
    ]
    result = _run(frames).result()
    assert result.verdict in ("flat", "inconclusive")
    assert result.residual < 0.005


def test_a_surface_with_relief_is_solid() -> None:
    texture = _texture()
    result = _run([_relief(a, texture) for a in _angles(15.0)]).result()
    assert result.verdict == "solid", result
    assert result.residual > 0.0075


def test_a_still_picture_is_inconclusive_and_too_few_frames_unavailable() -> None:
    texture = _texture()
    assert _run([texture] * 20).result().verdict == "inconclusive"
    assert _run([texture] * 5).result().verdict == "unavailable"


def test_frames_further_apart_in_time_may_move_further() -> None:
    """Issue 19: a loaded lane reads fewer frames a second, so the face moves more between
    two of them. Frames 0.1 s apart (10 fps) whose face grows or shrinks by 8 % from one
    to the next are followed point by point by their timestamps; counted as 1/30 s apart,
    every step is too fast to follow and the cue has nothing to say."""
    texture = _texture()
    centre = SIZE / 2
    timed, counted = SurfaceTracker(), SurfaceTracker()
    for i in range(24):
        zoom = 1.08 if i % 2 else 1.0
        turned = _relief(15.0 * math.sin(2 * math.pi * i / 24), texture)
        matrix = np.array([[zoom, 0, centre * (1 - zoom)], [0, zoom, centre * (1 - zoom)]])
        image = np.asarray(cv2.warpAffine(turned, matrix, (SIZE, SIZE)), np.uint8)
        box = Box(
            *(centre + (v - centre) * zoom for v in (BOX.left, BOX.top, BOX.right, BOX.bottom))
        )
        timed.add(image, box, 0.1 * i)
        counted.add(image, box)
    assert timed.result().verdict == "solid", timed.result()
    assert counted.result().verdict == "unavailable", counted.result()
