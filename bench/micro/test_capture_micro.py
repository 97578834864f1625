"""Per-frame cost of the capture stage (quality + liveness around the face engine).

Run: .venv/bin/pytest bench/micro/test_capture_micro.py --benchmark-enable --benchmark-only
``extra_info`` records the pipeline's own share against the engine's detection measured in
the same run (the real ``dlib-cc0`` pack when installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.camera.synthetic import TravellerScene, render_sequence
from drivers.camera.threaded import camera_from_frames
from gate.capture.liveness import LivenessChecker
from gate.capture.pipeline import CapturePipeline, CaptureSettings
from gate.capture.quality import assess, layout_for
from gate.images import load_image
from gate.types import Detection, Face, Landmarks5

POINTS = ((78.0, 49.0), (65.0, 51.0), (28.0, 50.0), (43.0, 52.0), (58.0, 83.0))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    image = load_image(path)
    if image is None:
        pytest.skip(f"sample photo missing at {path}")
    return np.asarray(image)


@pytest.fixture(scope="module")
def scene_frames(photo: np.ndarray) -> list[Any]:
    scene = TravellerScene(photo, seed=1, frames=24, photo_landmarks=POINTS)
    return list(render_sequence(scene))


def _truth_face(frame: Any) -> Face:
    return Face(Detection(frame.boxes[0], 1.0), Landmarks5(frame.landmarks[0]))


def test_quality_and_liveness_per_frame(benchmark: Any, scene_frames: list[Any]) -> None:
    layout = layout_for("dlib-cc0")
    checker = LivenessChecker(layout)
    frames = [(f.image, _truth_face(f)) for f in scene_frames]
    cursor = {"i": 0}

    def one_frame() -> float:
        image, face = frames[cursor["i"] % len(frames)]
        cursor["i"] += 1
        quality = assess(image, face, layout)
        checker.add(image, face)
        return quality.score

    score = benchmark(one_frame)
    assert 0.0 <= score <= 1.0
    assert checker.result().frames > 0


def test_render_one_synthetic_frame(benchmark: Any, photo: np.ndarray) -> None:
    scene = TravellerScene(photo, kind="screen", seed=2, frames=1, photo_landmarks=POINTS)
    frame = benchmark(lambda: next(render_sequence(scene)))
    assert frame.image.shape == (480, 640, 3)


def test_capture_with_the_real_engine_per_frame(benchmark: Any, scene_frames: list[Any]) -> None:
    from gate.errors import ModelError
    from models.engine import load_engine

    try:
        engine = load_engine()
    except ModelError as exc:
        pytest.skip(f"no dlib-cc0 pack installed ({exc}); run `egate models prepare`")
    images = [f.image for f in scene_frames[-10:]]
    settings = CaptureSettings(window_s=0.2, fusion_count=2, liveness_frames=8)
    pipeline = CapturePipeline(engine, settings)

    def capture() -> Any:
        camera = camera_from_frames(iter(images))
        try:
            return pipeline.capture(camera, None, 10.0)
        finally:
            camera.close()

    result = benchmark.pedantic(capture, rounds=2, iterations=1)
    assert result.status == "ok"
    per_frame = result.timings_ms["total"] / result.frames_seen
    detect = result.timings_ms.get("detect", 0.0) + result.timings_ms.get("landmarks", 0.0)
    own = result.timings_ms["quality"] + result.timings_ms["liveness"]
    benchmark.extra_info.update(
        frames=result.frames_seen,
        ms_per_frame=round(per_frame, 2),
        engine_ms_per_frame=round(detect / result.frames_seen, 2),
        pipeline_own_ms_per_frame=round(own / result.frames_seen, 2),
        pipeline_own_share=round(own / max(result.timings_ms["total"], 1e-9), 4),
    )
    assert np.isfinite(per_frame) and result.frames_seen >= 6
