"""A capture that watches the approach before the scan (``scanned``, ``egate run``): it
closes a few frames after the scan when the approach already filled the liveness window,
forgets whoever left the camera, keeps its deadline from the scan, stays an attack for an
attack, and always fuses a shot taken after the scan."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from drivers.camera.synthetic import SyntheticFrame, TravellerScene, render_sequence
from gate.capture.pipeline import CapturePipeline, CaptureResult, CaptureSettings, _BestShots, _Shot
from gate.capture.quality import FaceQuality
from gate.clock import SimulatedClock
from gate.interfaces import Frame
from gate.types import Box, Detection, Face, Landmarks5
from tests.gate.capture.conftest import TOM_HANKS_POINTS
from tests.gate.capture.engines import TruthEngine


class ScannedCamera:
    """``images`` in turn (cycled), 30 a second, none dropped; the scan comes after
    ``scan_after`` reads (``None``: never)."""

    def __init__(self, images: Sequence[np.ndarray], scan_after: int | None) -> None:
        self.images = images
        self.scan_after = scan_after
        self.reads = 0
        self.scanned = threading.Event()

    def read(self, timeout: float) -> Frame:
        image = self.images[self.reads % len(self.images)]
        self.reads += 1
        if self.reads == self.scan_after:
            self.scanned.set()
        return Frame(image, self.reads / 30.0, self.reads)

    def close(self) -> None:
        pass


def _scene(photo: np.ndarray, kind: str, n: int = 40) -> list[SyntheticFrame]:
    scene = TravellerScene(photo, kind=kind, frames=n, photo_landmarks=TOM_HANKS_POINTS)
    return list(render_sequence(scene))


def _watch(
    truth: list[SyntheticFrame],
    images: Sequence[np.ndarray],
    scan_after: int | None,
    settings: CaptureSettings | None = None,
) -> CaptureResult:
    """Capture from ``images``, the scan after ``scan_after`` frames (``None``: scanned
    before the capture, as a simulation captures)."""
    camera = ScannedCamera(images, scan_after)
    engine = CountingEngine(truth, camera)
    pipeline = CapturePipeline(engine, settings or CaptureSettings(window_s=2.0))
    scanned = None if scan_after is None else camera.scanned
    result = pipeline.capture(camera, SimulatedClock(100.0), None, scanned)
    return replace(result, timings_ms={"embeds after the scan": engine.embeds_after_scan})


class CountingEngine(TruthEngine):
    """The truth, tracking, counting the embeddings made once the scan has come."""

    def __init__(self, truth: list[SyntheticFrame], camera: ScannedCamera) -> None:
        super().__init__(truth, tracking=True)
        self.camera = camera
        self.embeds_after_scan = 0
        self.analyzed_in_empty_lane = 0

    def analyze(self, image, *, min_face=40, timings=None):  # type: ignore[no-untyped-def]
        faces = super().analyze(image, min_face=min_face, timings=timings)
        self.analyzed_in_empty_lane += not faces and not self.camera.scanned.is_set()
        return faces

    def embed(self, image, faces, *, timings=None):  # type: ignore[no-untyped-def]
        self.embeds_after_scan += self.camera.scanned.is_set()
        return super().embed(image, faces, timings=timings)


def test_an_approach_that_filled_the_window_closes_a_few_frames_after_the_scan(
    face_photo: np.ndarray,
) -> None:
    frames = _scene(face_photo, "genuine")
    images = [f.image for f in frames]
    watched = _watch(frames, images, scan_after=30)
    assert watched.status == "ok" and "window closed early" in watched.detail, watched.detail
    assert "30 frames watched before the scan" in watched.detail
    after_scan = watched.frames_seen - 30
    assert after_scan == CaptureSettings().after_scan_frames
    assert len(watched.best_faces) == 3 and watched.liveness_score >= 0.9
    # The shots kept before the scan were embedded while the traveller approached.
    assert watched.timings_ms["embeds after the scan"] < 3
    unwatched = _watch(frames, images, scan_after=None)
    assert unwatched.status == "ok"
    assert unwatched.frames_seen >= CaptureSettings().liveness_frames > after_scan


def test_whoever_left_the_camera_is_forgotten(face_photo: np.ndarray) -> None:
    frames = _scene(face_photo, "genuine")
    empty = np.zeros_like(frames[0].image)  # no face in it
    gap = CaptureSettings().approach_gap_frames
    images = [f.image for f in frames[:25]] + [empty] * gap + [f.image for f in frames[25:]]
    # The scan comes with the first frame after the gap: nothing from before it counts.
    result = _watch(frames, images, scan_after=25 + gap + 1)
    assert result.status == "ok" and result.liveness is not None
    assert result.liveness.frames <= result.frames_seen - 25 - gap
    assert result.frames_seen - (25 + gap) >= CaptureSettings().liveness_frames


def test_one_empty_frame_is_a_missed_detection_not_a_new_traveller(
    face_photo: np.ndarray,
) -> None:
    frames = _scene(face_photo, "genuine")
    empty = np.zeros_like(frames[0].image)
    images = [f.image for f in frames[:25]] + [empty] + [f.image for f in frames[25:]]
    result = _watch(frames, images, scan_after=27)
    assert result.status == "ok" and result.frames_seen - 27 < CaptureSettings().liveness_frames


def test_the_deadline_counts_from_the_scan(face_photo: np.ndarray) -> None:
    frames = _scene(face_photo, "genuine")
    empty = np.zeros_like(frames[0].image)
    long_empty = 12 * 30  # 12 s of an empty lane at 30 frames a second: past timeout_s
    images = [empty] * long_empty + [f.image for f in frames]
    result = _watch(frames, images, scan_after=long_empty, settings=CaptureSettings(timeout_s=3.0))
    assert result.status == "ok", result.detail


def test_a_print_watched_on_its_approach_is_still_an_attack(face_photo: np.ndarray) -> None:
    frames = _scene(face_photo, "print")
    result = _watch(frames, [f.image for f in frames], scan_after=30)
    assert result.status == "ok" and "window closed early" not in result.detail
    assert result.liveness_score < 0.5


def test_a_second_face_before_the_scan_starts_the_watch_afresh_not_a_refusal(
    face_photo: np.ndarray,
) -> None:
    pair = _scene(face_photo, "two_faces", n=10)
    alone = _scene(face_photo, "genuine")
    images = [f.image for f in pair] + [f.image for f in alone]
    result = _watch(pair + alone, images, scan_after=11)
    assert result.status == "ok", result.detail
    assert result.liveness is not None and result.liveness.frames <= result.frames_seen - 10


def _shot(score: float, at: float, after_scan: bool) -> _Shot:
    face = Face(Detection(Box(0, 0, 10, 10), 0.9), Landmarks5(np.zeros((5, 2), np.float32)))
    quality = FaceQuality(80.0, 30.0, 1.0, 120.0, 40.0, 0.0, 0.0, 0.0, 0.9, (), score)
    return _Shot(score, np.zeros((2, 2, 3), np.uint8), face, quality, at, after_scan)


def test_most_fused_shots_are_from_after_the_scan() -> None:
    shots = _BestShots(3)
    for score, at in ((0.9, 1.0), (0.8, 1.1), (0.7, 1.2)):
        shots.add(_shot(score, at, after_scan=False))
    after = _shot(0.5, 2.0, after_scan=True)
    shots.add(after)
    assert after not in shots.kept  # not among the three best ...
    fused = shots.fused()
    assert [s.score for s in fused] == [0.9, 0.8, 0.5] and after in fused  # ... but fused
    second = _shot(0.4, 2.1, after_scan=True)
    shots.add(second)
    # Two of the three fused shots from after the scan: the median of their distances is
    # the face at the gate's, whoever stood at the camera before the scan.
    assert shots.fused() == [shots.kept[0], after, second]
    shots.forget_before(1.15)
    assert [s.score for s in shots.kept] == [0.7]


def test_an_empty_lane_is_looked_at_every_few_frames(face_photo: np.ndarray) -> None:
    frames = _scene(face_photo, "genuine")
    empty = np.zeros_like(frames[0].image)
    camera = ScannedCamera([empty] * 60 + [f.image for f in frames], scan_after=90)
    engine = CountingEngine(frames, camera)
    settings = CaptureSettings(window_s=2.0)
    result = CapturePipeline(engine, settings).capture(
        camera, SimulatedClock(100.0), None, camera.scanned
    )
    assert result.status == "ok"
    # 60 frames of an empty lane: the first 2 looked at, then 1 in approach_detect_every.
    assert engine.analyzed_in_empty_lane <= 2 + 60 // settings.approach_detect_every + 1
