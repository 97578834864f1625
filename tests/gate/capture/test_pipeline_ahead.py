"""The capture pipeline's shots embedded ahead (``embed_ahead``: a kiosk's second engine in
another thread) and its early close: the same result as embedding at the end, the shots
pushed out of the best ones dropped, the ones never started embedded by the pipeline, and
the liveness of an early-closed window computed once."""

from __future__ import annotations

import itertools
from concurrent.futures import Future

import numpy as np
import pytest

from drivers.camera.synthetic import SyntheticFrame, TravellerScene, render_sequence
from drivers.camera.threaded import camera_from_frames
from gate.capture import pipeline as pipeline_module
from gate.capture.pipeline import CapturePipeline, CaptureResult, CaptureSettings
from gate.clock import SimulatedClock
from gate.types import Face, FloatArray, ImageBGR
from tests.gate.capture.conftest import TOM_HANKS_POINTS
from tests.gate.capture.engines import TruthEngine


class Ahead:
    """Records each shot handed over; ``run``: embeds it at once (as a free worker would)
    with a marker added, else leaves it waiting (a busy worker)."""

    def __init__(self, engine: TruthEngine, run: bool) -> None:
        self.engine = engine
        self.run = run
        self.futures: list[Future[FloatArray]] = []
        self.in_hand: list[int] = []  # jobs not done yet, at each hand-over

    def __call__(self, image: ImageBGR, face: Face) -> Future[FloatArray]:
        self.in_hand.append(sum(not f.done() for f in self.futures))
        future: Future[FloatArray] = Future()
        if self.run:
            future.set_running_or_notify_cancel()
            future.set_result(self.engine.embed(image, [face])[0] + np.float32(1.0))
        self.futures.append(future)
        return future


@pytest.fixture(scope="module")
def frames(face_photo: np.ndarray) -> list[SyntheticFrame]:
    scene = TravellerScene(face_photo, kind="genuine", frames=20, photo_landmarks=TOM_HANKS_POINTS)
    return list(render_sequence(scene))


def _capture(frames: list[SyntheticFrame], run: bool | None) -> tuple[CaptureResult, Ahead | None]:
    engine = TruthEngine(frames, tracking=True)
    ahead = None if run is None else Ahead(engine, run)
    camera = camera_from_frames(itertools.cycle([f.image for f in frames]), buffer_size=2)
    try:
        pipeline = CapturePipeline(engine, CaptureSettings(window_s=2.0, fusion_count=3))
        return pipeline.capture(camera, SimulatedClock(100.0), embed_ahead=ahead), ahead
    finally:
        camera.close()


def test_shots_embedded_ahead_are_taken_and_those_pushed_out_dropped(
    frames: list[SyntheticFrame],
) -> None:
    plain, _ = _capture(frames, None)
    result, ahead = _capture(frames, True)
    assert ahead is not None and plain.status == result.status == "ok"
    assert len(result.best_faces) == 3 and len(ahead.futures) >= 3
    # every best shot's embedding is the one made ahead (the marker), none made again
    reference = [f.embedding for f in plain.best_faces]
    for face, expected in zip(result.best_faces, reference, strict=True):
        assert face.embedding is not None and expected is not None
        np.testing.assert_allclose(face.embedding, expected + 1.0)
    assert [f.detection for f in result.best_faces] == [f.detection for f in plain.best_faces]


def test_shots_not_started_ahead_are_cancelled_and_embedded_by_the_capture(
    frames: list[SyntheticFrame],
) -> None:
    plain, _ = _capture(frames, None)
    result, ahead = _capture(frames, False)
    assert ahead is not None and result.status == "ok"
    assert all(future.cancelled() for future in ahead.futures)  # none left queued
    # one job at a time: the next only once the last was dropped (its shot pushed out)
    assert ahead.in_hand == [0] * len(ahead.futures)
    for face, expected in zip(result.best_faces, plain.best_faces, strict=True):
        assert face.embedding is not None and expected.embedding is not None
        np.testing.assert_array_equal(face.embedding, expected.embedding)


def test_an_early_closed_window_asks_liveness_once_for_its_result(
    frames: list[SyntheticFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = pipeline_module.LivenessChecker
    results: list[int] = []

    class Counting(checker):  # type: ignore[misc,valid-type]
        def result(self):  # type: ignore[no-untyped-def]
            results.append(self.frames)
            return super().result()

    monkeypatch.setattr(pipeline_module, "LivenessChecker", Counting)
    result, _ = _capture(frames, None)
    assert "window closed early" in result.detail, result.detail
    # one result per early check, each on more frames: the last one closed the window
    assert results and results == sorted(set(results)) and result.liveness is not None
