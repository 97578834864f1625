"""The live traveller's renderer: the photo's own pixels survive, the head turns in 3-D,
the camera's effects follow their physics."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from drivers.camera import camera_effects as fx
from drivers.camera.conditions import PRESETS, Conditions
from drivers.camera.head_model import HeadModel
from drivers.camera.synthetic import TravellerScene, render_sequence
from tests.drivers.camera.conftest import TOM_HANKS_POINTS

# A perfect camera and a head that does not move: what is left is the placement.
STILL = replace(
    PRESETS["ideal"],
    name="still",
    yaw_deg=0.0,
    pitch_deg=0.0,
    roll_deg=0.0,
    shutter_s=0.0,
    read_noise=0.0,
    jpeg_quality=100,
)


# The sample's points with the nose straight below the eyes: a frontal photo, which the
# renderer does not turn back towards the camera.
FRONTAL = (*TOM_HANKS_POINTS[:4], (53.5, 83.0))


def _frames(photo: np.ndarray, conditions: Conditions, frames: int = 4, seed: int = 0) -> list:
    scene = TravellerScene(
        photo,
        kind="genuine",
        seed=seed,
        frames=frames,
        photo_landmarks=FRONTAL,
        conditions=conditions,
    )
    return list(render_sequence(scene))


def _back_to_photo(frame, photo: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The frame warped back onto the photo by its ground-truth points."""
    source = np.asarray(frame.landmarks[0], np.float32)
    target = np.asarray(FRONTAL, np.float32)
    matrix, _ = cv2.estimateAffinePartial2D(source, target)
    h, w = photo.shape[:2]
    return np.asarray(cv2.warpAffine(frame.image, matrix, (w, h)), np.float32)


def test_the_whole_photo_survives_not_an_elliptical_cut_out(face_photo: np.ndarray) -> None:
    frame = _frames(face_photo, STILL)[-1]
    back = _back_to_photo(frame, face_photo)
    photo = face_photo.astype(np.float32)
    head = HeadModel.fit(np.asarray(FRONTAL, np.float64))
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    _, weight, r = head.shape(*head.to_face(xx, yy))
    # the head, hair and outline included (up to 1.2 of the head's radius, where the old
    # renderer's ellipse had long faded out): the photo's own pixels
    head_part = (weight > 0.99) & (r > 0.0)
    assert head_part.sum() > 0.5 * h * w
    error = np.abs(back - photo)[head_part].mean()
    shifted = np.abs(photo - np.roll(photo, 3, axis=1))[head_part].mean()
    # a scale-up to the camera, noise-free JPEG 100 and the way back cost a little detail;
    # far less than the photo moved by 3 pixels
    assert error < 10.0 and error < 0.6 * shifted, (error, shifted)
    # what lies behind the head is the photo's too, only out of focus (depth of field)
    behind = weight < 0.01
    defocused = cv2.GaussianBlur(photo, (0, 0), 0.2 * head.eye_distance)
    assert np.abs(back - defocused)[behind].mean() < 10.0
    assert np.abs(back - defocused)[behind].mean() < np.abs(back - 128.0)[behind].mean()


def test_a_turn_moves_the_nose_more_than_the_eyes_and_keeps_proportions() -> None:
    points = np.asarray(TOM_HANKS_POINTS, np.float64)
    head = HeadModel.fit(points)

    def along(p: np.ndarray) -> tuple[float, float]:
        a, b = p[0:2].mean(axis=0), p[2:4].mean(axis=0)
        e = a - b
        return float(np.dot(p[4] - (a + b) / 2, e) / np.dot(e, e)), float(np.linalg.norm(e))

    start, eyes = along(points)
    for yaw in (math.radians(15), math.radians(-15)):
        dx, dy = head.displacement_px(points[:, 0], points[:, 1], yaw, 0.0)
        turned, turned_eyes = along(points + np.stack([dx, dy], axis=1))
        assert abs(turned - start) > 0.05  # the nose moved along the eye line ...
        assert math.copysign(1, turned - start) == math.copysign(1, yaw)  # ... the right way
        # the eye distance shrinks by about cos(yaw): proportions, not a stretch
        assert turned_eyes / eyes == pytest.approx(math.cos(yaw), abs=0.04)
    # far from the head nothing moves: the shoulders and the background stay put
    far_x, far_y = np.array([points[:, 0].mean() + 6 * head.eye_distance]), np.array([60.0])
    dx, dy = head.displacement_px(far_x, far_y, math.radians(20), math.radians(10))
    assert abs(dx[0]) < 1e-9 and abs(dy[0]) < 1e-9


def test_the_head_turn_is_inverted_exactly_enough() -> None:
    head = HeadModel.fit(np.asarray(TOM_HANKS_POINTS, np.float64))
    gx, gy = np.meshgrid(np.linspace(0, 112, 29), np.linspace(0, 112, 29))
    yaw, pitch = math.radians(14), math.radians(6)
    dx, dy = head.displacement_px(gx, gy, yaw, pitch)
    px, py = head.inverse(gx + dx, gy + dy, yaw, pitch)
    assert np.hypot(px - gx, py - gy).max() < 1.0  # everywhere, the outline included


def test_the_traveller_comes_closer_as_the_pinhole_camera_says(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, STILL, frames=40)
    eye = [np.linalg.norm(np.subtract(f.landmarks[0][0], f.landmarks[0][2])) for f in frames]
    assert eye[0] < eye[-1]
    # at the stop distance the eye distance is focal * 63 mm / distance (the eye corners
    # are about 0.76 eye distances apart in dlib's template)
    expected = STILL.eye_distance_px(STILL.stop_distance_m)
    corners = np.linalg.norm(np.subtract(TOM_HANKS_POINTS[0], TOM_HANKS_POINTS[2]))
    centres = np.linalg.norm(
        np.mean(TOM_HANKS_POINTS[0:2], axis=0) - np.mean(TOM_HANKS_POINTS[2:4], axis=0)
    )
    assert eye[-1] * centres / corners == pytest.approx(expected, rel=0.05)


def test_glasses_and_a_cover_change_the_face(face_photo: np.ndarray) -> None:
    plain = _frames(face_photo, STILL)[-1].image.astype(np.float32)
    worn = _frames(face_photo, replace(STILL, glasses=True, occlusion=0.3))[-1]
    assert np.abs(worn.image.astype(np.float32) - plain).mean() > 1.0


def test_dim_light_side_light_and_noise_follow_the_physics(face_photo: np.ndarray) -> None:
    frame = _frames(face_photo, STILL)[-1]
    box = frame.boxes[0]
    x0, x1 = int(box.left), int(box.right)
    y0, y1 = int(box.top), int(box.bottom)

    def halves(image: np.ndarray) -> tuple[float, float]:
        face = image[y0:y1, x0:x1].astype(np.float32)
        mid = face.shape[1] // 2
        return float(face[:, :mid].mean()), float(face[:, mid:].mean())

    left, right = halves(frame.image)
    lit = _frames(face_photo, replace(STILL, light_azimuth_deg=60.0))[-1]
    lit_left, lit_right = halves(lit.image)
    # light from +x (the frame's right): the right half gains on the left half
    assert (lit_right - lit_left) - (right - left) > 3.0
    # below the auto-exposure's reach the picture darkens, and noise grows with the gain
    dark = _frames(face_photo, replace(STILL, light_level=0.1, read_noise=2.0))[-1]
    assert dark.image.mean() < 0.6 * frame.image.mean()


def test_auto_exposure_takes_back_most_of_a_change_within_its_gain() -> None:
    assert fx.auto_exposure(1.0).brightness == pytest.approx(1.0)
    half = fx.auto_exposure(0.5)
    assert 0.85 < half.brightness < 1.0 and half.gain > 1.0
    assert fx.auto_exposure(0.01).gain == fx.MAX_GAIN


def test_shot_noise_grows_with_the_signal() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((64, 64, 3)).astype(np.float32)
    dark = fx.sensor_noise(np.full((64, 64, 3), 10.0, np.float32), noise, 1.0, 1.0)
    bright = fx.sensor_noise(np.full((64, 64, 3), 200.0, np.float32), noise, 1.0, 1.0)
    assert float((bright - 200.0).std()) > 1.5 * float((dark - 10.0).std())


def test_motion_blur_follows_the_approach_speed_and_the_shutter() -> None:
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (120, 160, 3)).astype(np.float32)
    still = fx.motion_over_shutter((80.0, 60.0), 70.0, 0.5, 0.0, (0.0, 0.0), 1 / 60)
    assert np.array_equal(fx.motion_blur(image, still), image)
    slow = fx.motion_over_shutter((80.0, 60.0), 70.0, 0.5, 0.5, (0.0, 0.0), 1 / 60)
    fast = fx.motion_over_shutter((80.0, 60.0), 70.0, 0.5, 1.5, (0.0, 0.0), 1 / 30)
    assert fast.zoom > slow.zoom > 0

    def detail(picture: np.ndarray) -> float:
        return float(np.abs(np.diff(picture, axis=1)).mean())

    assert detail(fx.motion_blur(image, fast)) < detail(fx.motion_blur(image, slow)) < detail(image)
