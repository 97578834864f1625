"""The capture stage with the real face engine (the default pack), when it is installed.

The synthetic scenes place the face by dlib's 5 points, so those come from dlib-cc0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.camera.synthetic import TravellerScene
from drivers.camera.threaded import camera_from_frames
from gate.capture.pipeline import CapturePipeline, CaptureResult, CaptureSettings
from gate.clock import SimulatedClock
from gate.errors import ModelError


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    from models.engine import load_engine

    try:
        return load_engine()
    except ModelError as exc:
        pytest.skip(f"no default pack installed ({exc}); run `egate models prepare`")


@pytest.fixture(scope="module")
def dlib_points():  # type: ignore[no-untyped-def]
    from models.engine import load_engine

    try:
        world = load_engine("dlib-cc0")
    except ModelError as exc:
        pytest.skip(f"no dlib-cc0 pack installed ({exc}); run `egate models prepare`")
    return lambda photo: world.embed_one(photo, min_face=20).landmarks.points


def _capture(engine, photo: np.ndarray, points, kind: str) -> CaptureResult:  # type: ignore[no-untyped-def]
    scene = TravellerScene(photo, kind=kind, seed=3, frames=16, photo_landmarks=points)
    camera = camera_from_frames(scene.images)
    try:
        return CapturePipeline(engine, CaptureSettings(window_s=0.3)).capture(camera, None, 10.0)
    finally:
        camera.close()


def test_real_engine_genuine_matches_impostor_does_not_print_is_not_live(
    engine,
    dlib_points,
    face_photo: np.ndarray,
    sample_images: Path,  # type: ignore[no-untyped-def]
) -> None:
    reference = engine.embed_one(face_photo, min_face=20)
    threshold = engine.threshold("1e-3")
    points = dlib_points(face_photo)

    genuine = _capture(engine, face_photo, points, "genuine")
    assert genuine.status == "ok", genuine.detail
    distances = [engine.distance(f.embedding, reference.embedding) for f in genuine.best_faces]
    assert float(np.median(distances)) <= threshold
    assert genuine.liveness_score >= 0.5
    assert genuine.timings_ms["detect"] > 0 and genuine.timings_ms["embed"] > 0
    assert genuine.timings_ms["track"] > 0  # YuNet follows the face between detections

    printed = _capture(engine, face_photo, points, "print")
    assert printed.status == "ok"
    assert printed.liveness_score < 0.5

    import cv2

    group = cv2.imread(str(sample_images / "t1.jpg"), cv2.IMREAD_COLOR)
    someone = engine.analyze(group, min_face=40)[0]
    b = someone.detection.box
    pad = int(0.5 * b.width)
    crop = np.ascontiguousarray(
        group[
            max(0, int(b.top) - pad) : int(b.bottom) + pad,
            max(0, int(b.left) - pad) : int(b.right) + pad,
        ]
    )
    impostor = _capture(engine, crop, dlib_points(crop), "genuine")
    assert impostor.status == "ok", impostor.detail
    distances = [engine.distance(f.embedding, reference.embedding) for f in impostor.best_faces]
    assert float(np.median(distances)) > threshold


def test_real_engine_no_face_is_fta(engine, face_photo: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    scene = TravellerScene(face_photo, kind="no_face", seed=1, frames=8)
    camera = camera_from_frames(scene.images)
    try:
        result = CapturePipeline(engine, CaptureSettings()).capture(
            camera, SimulatedClock(100.0), 0.2
        )
    finally:
        camera.close()
    assert result.status == "fta"
    assert result.frames_seen == 6  # 0.2 s at max_fps 30 with a clock that stands still
