from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.camera.synthetic import TravellerScene, render_sequence
from gate.capture.quality import (
    LAYOUTS,
    QualityThresholds,
    assess,
    face_points,
    head_pose,
    layout_for,
)
from gate.errors import InputError
from gate.types import Box, Detection, Face, Landmarks5
from tests.gate.capture.conftest import TOM_HANKS_POINTS


def _frontal_scene_frame(face_photo: np.ndarray):  # type: ignore[no-untyped-def]
    scene = TravellerScene(
        face_photo,
        seed=3,
        frames=1,
        photo_landmarks=TOM_HANKS_POINTS,
        yaw_amplitude_deg=0.0,
        jpeg_quality=(95, 95),
    )
    return next(render_sequence(scene))


def _face(frame) -> Face:  # type: ignore[no-untyped-def]
    return Face(Detection(frame.boxes[0], 0.9), Landmarks5(frame.landmarks[0]))


def test_blur_lowers_sharpness_and_fails_the_check(face_photo: np.ndarray) -> None:
    frame = _frontal_scene_frame(face_photo)
    face = _face(frame)
    layout = layout_for("dlib-cc0")
    sharp = assess(frame.image, face, layout)
    blurred = assess(cv2.GaussianBlur(frame.image, (0, 0), 4.0), face, layout)
    assert sharp.sharpness > 2 * blurred.sharpness
    assert "blurred" not in sharp.failed
    assert "blurred" in blurred.failed
    assert blurred.score < sharp.score


def test_sharpness_does_not_follow_exposure(face_photo: np.ndarray) -> None:
    frame = _frontal_scene_frame(face_photo)
    face = _face(frame)
    layout = layout_for("dlib-cc0")
    lit = assess(frame.image, face, layout)
    dim = assess((frame.image * 0.6).astype(np.uint8), face, layout)
    assert dim.sharpness == pytest.approx(lit.sharpness, rel=0.25)


def test_dark_and_overexposed_faces_fail_exposure(face_photo: np.ndarray) -> None:
    frame = _frontal_scene_frame(face_photo)
    face = _face(frame)
    layout = layout_for("dlib-cc0")
    lit = assess(frame.image, face, layout)
    dark = assess((frame.image * 0.2).astype(np.uint8), face, layout)
    bright = assess(np.clip(frame.image * 2.5 + 60, 0, 255).astype(np.uint8), face, layout)
    assert lit.ok, lit.failed
    assert "too_dark" in dark.failed and dark.brightness < lit.brightness
    assert "too_bright" in bright.failed
    assert dark.score < lit.score and bright.score < lit.score


def test_small_faces_fail_size_checks(face_photo: np.ndarray) -> None:
    frame = _frontal_scene_frame(face_photo)
    face = _face(frame)
    strict = QualityThresholds(min_face=face.detection.box.width + 1, min_eye_distance=500)
    result = assess(frame.image, face, layout_for("dlib-cc0"), strict)
    assert {"face_too_small", "eyes_too_close"} <= set(result.failed)


def _dlib_points(eye_y: float, nose_x: float) -> Landmarks5:
    # right eye outer/inner, left eye outer/inner, nose bottom; eye centres 40 px apart
    return Landmarks5(((80.0, eye_y), (70.0, eye_y), (30.0, eye_y), (40.0, eye_y), (nose_x, 81.2)))


def test_yaw_follows_the_nose_along_the_eye_line() -> None:
    layout = layout_for("dlib-cc0")
    frontal = head_pose(face_points(_dlib_points(50.0, 55.0), layout), layout)
    turned = head_pose(face_points(_dlib_points(50.0, 70.0), layout), layout)
    other_way = head_pose(face_points(_dlib_points(50.0, 40.0), layout), layout)
    assert abs(frontal[0]) < 1.0
    assert turned[0] > 25.0 and other_way[0] < -25.0
    assert abs(frontal[1]) < 5.0  # nose at the layout's frontal drop: little pitch
    face = Face(Detection(Box(10, 20, 100, 120), 0.9), _dlib_points(50.0, 70.0))
    image = np.full((160, 160, 3), 120, np.uint8)
    assert "yaw" in assess(image, face, layout).failed


def test_roll_and_layouts() -> None:
    layout = layout_for("insightface")
    tilted = Landmarks5(((30.0, 40.0), (70.0, 60.0), (50.0, 70.0), (35.0, 90.0), (65.0, 90.0)))
    _yaw, _, roll = head_pose(face_points(tilted, layout), layout)
    assert roll == pytest.approx(np.degrees(np.arctan2(20, 40)), abs=0.01)
    # Every pack kind names the layout its points follow: YuNet's (sface) are InsightFace's,
    # the fusion pack runs dlib's 5-point model.
    from models.kinds import PACK_KINDS

    layouts = {kind: entry.landmarks for kind, entry in PACK_KINDS.items()}
    assert set(layouts.values()) == set(LAYOUTS) == {"dlib-cc0", "insightface"}
    assert layouts["sface"] == "insightface" and layouts["fusion"] == "dlib-cc0"
    with pytest.raises(InputError, match="unknown landmark layout 'nope'"):
        layout_for("nope")
