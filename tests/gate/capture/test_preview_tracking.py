"""A lane watched by a console (previews on) detects and tracks exactly as an unwatched one:
the preview wrapper forwards the engine's whole protocol, tracking included."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from drivers.camera.synthetic import SyntheticFrame, TravellerScene, render_sequence
from drivers.camera.threaded import camera_from_frames
from gate.capture.pipeline import CapturePipeline, CaptureSettings
from gate.fakes import FakeLane
from gate.lane import GateEvent
from gate.lane.adapters import EngineBiometrics
from gate.types import Box, Detection, Face, ImageBGR, Landmarks5
from tests.gate.capture.conftest import TOM_HANKS_POINTS
from tests.gate.capture.engines import TruthEngine


class LaneTruthEngine(TruthEngine):
    """The tracking truth engine with what the lane's biometrics need besides capture."""

    pack_id = "truth"

    def threshold(self, fmr: str = "1e-3") -> float:
        return 0.5

    def embed_one(self, image: ImageBGR, **_: Any) -> Face:
        """The chip photo (a flat fake picture) stands for the scene's traveller."""
        h, w = image.shape[:2]
        face = Face(Detection(Box(0, 0, w, h), 1.0), Landmarks5(((1.0, 1.0),) * 5))
        return replace(face, embedding=self.embed(image, [face])[0])

    def distances(self, a: Any, b: Any) -> np.ndarray:
        return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)


def _scene(photo: np.ndarray) -> list[SyntheticFrame]:
    scene = TravellerScene(
        photo, kind="genuine", seed=3, frames=40, photo_landmarks=TOM_HANKS_POINTS
    )
    return list(render_sequence(scene))


def _run_lane(
    frames: list[SyntheticFrame], watched: bool
) -> tuple[LaneTruthEngine, list[GateEvent], int]:
    """One genuine traveller through a lane of fakes whose biometrics are the real capture
    pipeline over the scene's frames; returns the engine (its counters), the lane's events
    and how many frames the capture read."""
    engine = LaneTruthEngine(frames, tracking=True)
    fake = FakeLane()
    camera = camera_from_frames(itertools.cycle([f.image for f in frames]), buffer_size=2)
    fake.camera = camera  # type: ignore[assignment]
    events: list[GateEvent] = []
    lane = fake.build(observers=(events.append,))
    settings = CaptureSettings(window_s=2.0, redetect_every=5)
    pipeline = CapturePipeline(engine, settings)
    lane.use_biometrics(EngineBiometrics(engine, pipeline))  # type: ignore[arg-type]
    if watched:
        lane.show_previews()
    lane.start()
    fake.traveller("genuine")
    try:
        assert lane.serve_one(1.0) is not None
    finally:
        camera.close()
    return engine, events, camera.stats.frames_delivered


def test_a_watched_lane_tracks_like_an_unwatched_one(face_photo: np.ndarray) -> None:
    frames = _scene(face_photo)
    watched, watched_events, watched_frames = _run_lane(frames, watched=True)
    unwatched, unwatched_events, unwatched_frames = _run_lane(frames, watched=False)
    for events in (watched_events, unwatched_events):
        captures = [e for e in events if e.kind == "capture"]
        assert [e.detail for e in captures] == ["ok"]
    # The console's view was served, with the face measured on a previewed frame ...
    previews = [e for e in watched_events if e.kind == "preview"]
    assert previews and previews[0].data["face_box"] is not None
    assert not [e for e in unwatched_events if e.kind == "preview"]
    # ... and the previewed lane did the same work on the same frames: as many whole-frame
    # detections and tracks as the unwatched lane.
    assert watched_frames == unwatched_frames
    assert (watched.analyzed, watched.tracked) == (unwatched.analyzed, unwatched.tracked)
    # Tracking really happened: far fewer whole-frame detections than frames.
    assert 0 < watched.analyzed < watched_frames
    assert watched.tracked >= 3 * watched.analyzed


def test_a_previewed_frame_that_is_tracked_shows_the_followed_face(
    face_photo: np.ndarray,
) -> None:
    from gate.clock import SimulatedClock
    from gate.lane.adapters import _NotingEngine
    from gate.lane.events import EventBus
    from gate.lane.preview import PreviewCamera

    frames = _scene(face_photo)[:3]
    engine = TruthEngine(frames, tracking=True)
    events: list[GateEvent] = []
    clock = SimulatedClock()
    source = camera_from_frames(iter([f.image for f in frames[1:]]))
    camera = PreviewCamera(source, EventBus(clock, (events.append,)), "t1")
    noting = _NotingEngine(engine, camera, CapturePipeline(engine))
    assert noting.can_track and noting.landmark_layout == "dlib-cc0"
    try:
        frame = camera.read(1.0)  # the first frame read is previewed
        previous = engine.analyze(frames[0].image)[0]
        followed = noting.track(frame.image, previous, min_face=40)
    finally:
        source.close()
    assert followed is not None and engine.tracked == 1 and engine.analyzed == 1
    box = followed.detection.box
    shown = [e.data["face_box"] for e in events if e.kind == "preview"]
    assert shown == [(box.left, box.top, box.right, box.bottom)]
