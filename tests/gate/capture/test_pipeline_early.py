"""The capture window closed early: its liveness result is the one that closed it, not
computed again (it costs tens of milliseconds of a traveller's wait)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from drivers.camera.synthetic import TravellerScene, render_sequence
from drivers.camera.threaded import camera_from_frames
from gate.capture import pipeline as pipeline_module
from gate.capture.pipeline import CapturePipeline, CaptureSettings
from gate.clock import SimulatedClock
from tests.gate.capture.conftest import TOM_HANKS_POINTS
from tests.gate.capture.engines import TruthEngine


def test_an_early_closed_window_asks_liveness_once_for_its_result(
    face_photo: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = pipeline_module.LivenessChecker
    results: list[int] = []

    class Counting(checker):  # type: ignore[misc,valid-type]
        def result(self):  # type: ignore[no-untyped-def]
            results.append(self.frames)
            return super().result()

    monkeypatch.setattr(pipeline_module, "LivenessChecker", Counting)
    scene = TravellerScene(face_photo, kind="genuine", frames=20, photo_landmarks=TOM_HANKS_POINTS)
    frames = list(render_sequence(scene))
    camera = camera_from_frames(itertools.cycle([f.image for f in frames]), buffer_size=2)
    try:
        pipeline = CapturePipeline(
            TruthEngine(frames, tracking=True), CaptureSettings(window_s=2.0)
        )
        result = pipeline.capture(camera, SimulatedClock(100.0))
    finally:
        camera.close()
    assert "window closed early" in result.detail, result.detail
    # one result per early check, each on more frames: the last one closed the window
    assert results and results == sorted(set(results)) and result.liveness is not None
    assert result.liveness.score == result.liveness_score >= 0.9
