from __future__ import annotations

import itertools
from dataclasses import replace

import cv2
import numpy as np
import pytest

from drivers.camera.synthetic import SyntheticFrame, TravellerScene, render_sequence
from drivers.camera.threaded import camera_from_frames
from gate.capture.pipeline import CapturePipeline, CaptureSettings
from gate.clock import SimulatedClock
from gate.errors import InputError
from tests.gate.capture.conftest import TOM_HANKS_POINTS
from tests.gate.capture.engines import TruthEngine


def _frames(photo: np.ndarray, kind: str, seed: int = 0, n: int = 24) -> list[SyntheticFrame]:
    scene = TravellerScene(photo, kind=kind, seed=seed, frames=n, photo_landmarks=TOM_HANKS_POINTS)
    return list(render_sequence(scene))


def _capture(
    frames: list[SyntheticFrame],
    settings: CaptureSettings,
    cycle: bool = False,
    deadline_s: float | None = None,
):  # type: ignore[no-untyped-def]
    engine = TruthEngine(frames)
    images = [f.image for f in frames]
    source = itertools.cycle(images) if cycle else iter(images)
    camera = camera_from_frames(source, buffer_size=2)
    pipeline = CapturePipeline(engine, settings)
    try:
        return pipeline.capture(camera, SimulatedClock(100.0), deadline_s), engine
    finally:
        camera.close()


def test_genuine_traveller_gives_fused_best_shots(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "genuine")
    result, _ = _capture(frames, CaptureSettings(window_s=0.5, fusion_count=3))
    assert result.status == "ok", result.detail
    assert len(result.best_faces) == 3
    assert all(f.embedding is not None and f.embedding.shape == (128,) for f in result.best_faces)
    assert result.quality is not None and result.quality.ok
    assert result.liveness_score > 0.5
    assert result.frames_seen >= 6
    assert {"read", "quality", "liveness", "total"} <= set(result.timings_ms)


def test_best_shot_is_the_sharpest_of_the_window(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "genuine", seed=2, n=12)
    # every other frame is badly blurred: the best shots must come from the sharp ones
    mixed = []
    for f in frames:
        blurred = np.ascontiguousarray(cv2.GaussianBlur(f.image, (0, 0), 3.0))
        mixed += [replace(f, image=blurred), f]
    result, _ = _capture(mixed, CaptureSettings(window_s=0.4, fusion_count=2))
    assert result.status == "ok", result.detail
    sharp_boxes = {f.boxes[0] for f in frames}
    assert all(face.detection.box in sharp_boxes for face in result.best_faces)
    assert result.quality is not None and result.quality.sharpness >= 0.4


def test_no_face_fails_to_acquire_after_the_timeout(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "no_face", n=6)
    settings = CaptureSettings(timeout_s=2.0, max_fps=20.0)
    result, engine = _capture(frames, settings, cycle=True)
    assert result.status == "fta"
    # the clock never moves: the frame budget (timeout x max_fps) ends the capture
    assert result.frames_seen == 40 == engine.analyzed
    assert result.best_faces == () and result.frames_with_face == 0
    # the gate's stage deadline, when given, wins over the settings' timeout
    result, _ = _capture(frames, settings, cycle=True, deadline_s=0.5)
    assert result.status == "fta" and result.frames_seen == 10


def test_two_faces_are_refused(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "two_faces", n=10)
    result, _ = _capture(frames, CaptureSettings(multi_face_frames=3))
    assert result.status == "multiple_faces"
    assert result.frames_seen == 3
    assert "2 faces" in result.detail


def test_camera_dying_mid_capture_is_camera_failed(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "genuine", n=3)  # too few for a window: then the stream ends
    result, _ = _capture(frames, CaptureSettings(window_s=5.0))
    assert result.status == "camera_failed"
    assert result.frames_seen == 3
    assert "end of stream" in result.detail


def test_print_attack_captures_but_scores_as_not_live(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "print", seed=1)
    result, _ = _capture(frames, CaptureSettings(window_s=0.5))
    assert result.status == "ok"
    assert result.liveness is not None and result.liveness.frames >= 6
    assert result.liveness_score < 0.5


def test_settings_are_validated() -> None:
    with pytest.raises(InputError, match="fusion_count"):
        CaptureSettings(fusion_count=0)
    with pytest.raises(InputError, match="timeout_s"):
        CaptureSettings(timeout_s=0)


def test_http_stream_dying_mid_capture_is_camera_failed(face_photo: np.ndarray) -> None:
    import threading

    from drivers.camera.mjpeg_server import MjpegServer
    from drivers.camera.registry import open_camera

    scene = TravellerScene(face_photo, kind="no_face", seed=2, frames=4)
    server = MjpegServer(scene.images, fps=30.0, loop=True)
    camera = open_camera(server.url, reconnect_timeout_s=0.5)
    killer = threading.Timer(0.5, server.close)
    killer.start()
    try:
        engine = TruthEngine([])  # knows no face: the capture would run to its timeout
        settings = CaptureSettings(timeout_s=60.0, max_fps=1000.0)
        result = CapturePipeline(engine, settings).capture(camera, None, 60.0)
    finally:
        killer.cancel()
        camera.close()
        server.close()
    assert result.status == "camera_failed"
    assert "not back within 0.5 s" in result.detail
    assert result.frames_seen > 0


def test_tracking_between_detections_and_the_adaptive_window(face_photo: np.ndarray) -> None:
    frames = _frames(face_photo, "genuine", n=40)

    def run(settings: CaptureSettings):  # type: ignore[no-untyped-def]
        engine = TruthEngine(frames, tracking=True)
        camera = camera_from_frames(itertools.cycle([f.image for f in frames]), buffer_size=2)
        try:
            return CapturePipeline(engine, settings).capture(camera, SimulatedClock(100.0)), engine
        finally:
            camera.close()

    early, engine = run(CaptureSettings(window_s=2.0, redetect_every=5))
    assert early.status == "ok" and "window closed early" in early.detail, early.detail
    assert early.liveness_score >= 0.9 and len(early.best_faces) == 3
    # A whole-frame detection every 5th frame, the face followed in between.
    assert engine.tracked >= 3 * engine.analyzed > 0
    full, _ = run(CaptureSettings(window_s=2.0, early_live_score=1.1))  # never sure enough
    assert "full window" in full.detail and full.frames_seen > early.frames_seen
    printed = _frames(face_photo, "print", n=40)
    engine = TruthEngine(printed, tracking=True)
    camera = camera_from_frames(itertools.cycle([f.image for f in printed]), buffer_size=2)
    try:
        attack = CapturePipeline(engine, CaptureSettings(window_s=2.0)).capture(
            camera, SimulatedClock(100.0)
        )
    finally:
        camera.close()
    assert "window closed early" not in attack.detail and attack.liveness_score < 0.5
