"""The capture stage: from a camera to the best live shots of exactly one face.

For every frame: detect faces and their 5 points (the face engine), measure the main face's
quality, feed the liveness checker. Between full detections (every ``redetect_every``
frames, and every frame while a second face is being counted) the face is tracked: the
detector looks only at a region around its last box (``track`` of the engine protocol,
``gate.interfaces.CaptureEngine``); a lost track falls back to a full detection at once.
The first frame that passes every quality check opens a best-shot window of at most
``window_s``; it closes early as soon as ``fusion_count`` good shots are in and liveness,
after ``liveness_frames`` faces, is sure the face is live (``early_live_score``);
otherwise when it runs out (and liveness has seen ``liveness_frames`` faces: head motion
needs time to show). Only the ``fusion_count``
best-scoring shots are then embedded, for multi-frame score fusion. No good shot
before ``timeout_s``: failure to acquire ("fta"). A second face of comparable size in
``multi_face_frames`` frames in a row: "multiple_faces". The camera failing: "camera_failed".

Time: the deadline is measured on the gate clock AND in frames (``max_fps``), so with a
simulated clock that only moves on ``sleep``, or a recorded source read faster than real
time, capture still ends after ``deadline_s`` worth of frames.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gate.capture.liveness import LivenessChecker, LivenessResult, LivenessSettings
from gate.capture.quality import FaceQuality, QualityThresholds, assess, layout_for
from gate.clock import Clock, timed
from gate.errors import DeviceError, DeviceTimeoutError, InputError
from gate.interfaces import Camera, CaptureEngine
from gate.types import CaptureStatus, Face, FloatArray, ImageBGR

log = logging.getLogger(__name__)

Status = CaptureStatus
__all__ = ["CaptureEngine", "CapturePipeline", "CaptureResult", "CaptureSettings"]


@dataclass(frozen=True)
class CaptureSettings:
    window_s: float = 1.0  # best-shot window after the first good frame
    timeout_s: float = 10.0  # no good frame by then: failure to acquire (unless deadline_s)
    min_face: int = 60  # smallest face the detector looks for, pixels
    fusion_count: int = 3  # how many best shots are embedded
    liveness_frames: int = 12  # the window stays open until liveness has seen this many faces
    multi_face_ratio: float = 0.6  # a second face this big (box width ratio) counts
    multi_face_frames: int = 3  # ... in this many frames in a row: "multiple_faces"
    read_timeout_s: float = 1.0  # real seconds to wait for one frame
    max_fps: float = 30.0  # frames count as at least 1/max_fps s each (simulated clocks)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    liveness: LivenessSettings = field(default_factory=LivenessSettings)
    layout: str | None = None  # landmark layout; None: the engine's landmark_layout
    # Adaptive window: close it early once the best shots are in and liveness is sure the
    # face is live (at least liveness_frames faces, score >= early_live_score). An attack
    # or a doubtful face never reaches that score: it keeps the whole window.
    early_live_score: float = 0.9  # > 1: never stop early
    early_check_s: float = 0.2  # ask liveness at most this often (its result costs time)
    # Detect-then-track: between full detections (every redetect_every frames), follow
    # the face in a small region around its last box, when the engine can (can_track).
    redetect_every: int = 5
    # Watching the approach (a kiosk lane, ``scanned`` given): before the scan the window
    # slides over the last approach_keep_s; approach_gap_frames frames in a row without a
    # face (or a second face) forget it all: whoever was seen has gone. After the scan the
    # window closes no sooner than after_scan_frames frames of the face, and most of the
    # fused shots (2 of 3) are taken after the scan.
    approach_keep_s: float = 2.0
    approach_gap_frames: int = 2
    after_scan_frames: int = 3
    approach_detect_every: int = 3  # an empty lane: a whole-frame detection every 3rd frame
    approach_embed_every: int = 6  # at most one shot embedded ahead every 6 frames

    def __post_init__(self) -> None:
        if self.window_s < 0 or self.timeout_s <= 0 or self.max_fps <= 0:
            raise InputError("capture window_s >= 0, timeout_s > 0 and max_fps > 0 are needed")
        counts = (self.fusion_count, self.multi_face_frames, self.redetect_every)
        if min(counts) < 1 or min(self.approach_detect_every, self.approach_embed_every) < 1:
            raise InputError(
                "capture fusion_count, multi_face_frames and redetect_every must be >= 1"
            )


@dataclass(frozen=True)
class CaptureResult:
    status: Status
    best_faces: tuple[Face, ...] = ()  # with embeddings, best first
    quality: FaceQuality | None = None  # of the best shot
    liveness_score: float = 0.0  # in [0, 1], 1 = live
    liveness: LivenessResult | None = None
    frames_seen: int = 0
    frames_dropped: int = 0
    frames_with_face: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    best_image: ImageBGR | None = field(default=None, repr=False)  # the frame of best_faces[0]


@dataclass(eq=False)  # a shot is itself: ``in`` compares identities, not pictures
class _Shot:
    score: float
    image: ImageBGR
    face: Face
    quality: FaceQuality
    at: float  # when it was taken (the capture's clock)
    after_scan: bool = True
    embedding: FloatArray | None = None  # embedded ahead, while watching the approach


class _BestShots:
    """The ``count`` best-scoring shots (``kept``), and the ``count`` best taken after the
    scan (``after``); ``forget_before`` drops shots older than a time (an approach window
    slides). The fused shots are mostly from after the scan: the median of their distances
    rests on the face seen once the document was on the reader, not on whoever stood at the
    camera before it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.kept: list[_Shot] = []
        self.after: list[_Shot] = []

    @property
    def best_after_scan(self) -> _Shot | None:
        return self.after[0] if self.after else None

    @property
    def after_needed(self) -> int:
        """How many shots from after the scan the fused shots need: a majority of them,
        or every kept shot if there are fewer (a capture that did not watch an approach
        took all of its shots after the scan)."""
        return min(self.count // 2 + 1, len(self.kept))

    def add(self, shot: _Shot) -> None:
        for best in (self.kept, *([self.after] if shot.after_scan else [])):
            best.append(shot)
            best.sort(key=lambda kept: kept.score, reverse=True)
            del best[self.count :]

    def forget_before(self, time: float) -> None:
        self.kept = [shot for shot in self.kept if shot.at >= time]

    def clear(self) -> None:
        self.kept.clear()
        self.after.clear()

    def fused(self) -> list[_Shot]:
        """The shots to embed, best first: the best ones after the scan, as many as
        ``after_needed``, then the best of the rest."""
        chosen = self.after[: self.after_needed]
        chosen += [shot for shot in self.kept if shot not in chosen][: self.count - len(chosen)]
        return sorted(chosen, key=lambda shot: shot.score, reverse=True)


class CapturePipeline:
    """``CapturePipeline(engine, settings).capture(camera, clock, deadline_s, scanned)``."""

    def __init__(self, engine: CaptureEngine, settings: CaptureSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or CaptureSettings()
        self.layout = layout_for(self.settings.layout or engine.landmark_layout)

    def capture(
        self,
        camera: Camera,
        clock: Clock | None = None,
        deadline_s: float | None = None,
        scanned: threading.Event | None = None,
    ) -> CaptureResult:
        """Capture for at most ``deadline_s`` seconds (the gate's stage timeout; default
        ``settings.timeout_s``).

        ``scanned``: the capture starts before the traveller's document is scanned and
        watches the approach until the event is set (see the module's docstring); the
        deadline counts from then. ``None``: the document was scanned before the call."""
        s = self.settings
        budget = s.timeout_s if deadline_s is None else deadline_s
        now = clock.now if clock is not None else time.monotonic
        timings: dict[str, float] = {}
        liveness = LivenessChecker(self.layout, s.liveness)
        shots = _BestShots(s.fusion_count)
        start = began = now()
        seen = dropped = with_face = multi_run = 0
        after = 0  # frames since the scan (the deadline's frame count)
        faces_after = 0  # ... that showed the face
        approach = 0  # frames watched before the scan
        misses = 0  # frames in a row without a face
        embedded_at = -s.approach_embed_every  # the approach frame of the last embedding
        last_index: int | None = None
        window_start: float | None = None
        early: LivenessResult | None = None  # the result that closed the window early
        last_check = -float("inf")  # when liveness was last asked whether to close early
        total_start = time.perf_counter()
        watching = scanned is not None and not scanned.is_set()

        def elapsed() -> float:  # since the scan: the deadline's time
            return max(now() - start, after / s.max_fps)

        def t() -> float:  # since the capture began: shots' and the window's time
            return max(now() - began, seen / s.max_fps)

        def finish(status: Status, detail: str, **extra: Any) -> CaptureResult:
            timings["total"] = (time.perf_counter() - total_start) * 1000.0
            if approach:
                detail = f"{detail} ({approach} frames watched before the scan)"
            log.info("capture %s after %d frames: %s", status, seen, detail)
            return CaptureResult(
                status=status,
                frames_seen=seen,
                frames_dropped=dropped,
                frames_with_face=with_face,
                timings_ms=timings,
                detail=detail,
                **extra,
            )

        tracked: Face | None = None  # the face followed since the last full detection

        def forget() -> None:  # before the scan: whoever was seen has gone
            nonlocal window_start, tracked
            liveness.reset()
            shots.clear()
            window_start = tracked = None

        since_detect = 0
        can_track = self.engine.can_track
        enough_frames = max(s.liveness_frames, s.liveness.min_frames)
        while watching or elapsed() < budget:
            if watching and scanned is not None and scanned.is_set():
                watching = False  # the traveller's own time starts now
                start, total_start = now(), time.perf_counter()
                timings.clear()
            closable = faces_after >= s.after_scan_frames and 0 < shots.after_needed <= len(
                shots.after
            )
            if not watching and closable:
                window_over = window_start is not None and t() - window_start >= s.window_s
                if window_over and liveness.frames >= enough_frames:
                    break
                if (
                    len(shots.kept) >= s.fusion_count
                    and liveness.frames >= enough_frames
                    and elapsed() - last_check >= s.early_check_s
                ):
                    last_check = elapsed()
                    checked = liveness.result()  # no frame comes after it when it closes
                    if checked.score >= s.early_live_score:
                        early = checked
                        break
            try:
                with timed(timings, "read"):
                    frame = camera.read(s.read_timeout_s)
            except DeviceTimeoutError:
                continue
            except DeviceError as exc:
                return finish("camera_failed", f"camera failed: {exc}")
            seen += 1
            if watching:
                approach += 1
            else:
                after += 1
            if last_index is not None and frame.index > last_index + 1:
                dropped += frame.index - last_index - 1
            last_index = frame.index
            empty_lane = watching and misses >= s.approach_gap_frames
            if empty_lane and approach % s.approach_detect_every:
                continue  # nobody there before the scan: look at every few frames only
            followed: Face | None = None
            # Not while a second face is being counted (multi_run): that needs whole frames.
            if (
                can_track
                and tracked is not None
                and not multi_run
                and since_detect < s.redetect_every - 1
            ):
                followed = self.engine.track(
                    frame.image, tracked, min_face=s.min_face, timings=timings
                )
            if followed is not None:
                since_detect += 1
                faces = [followed]
            else:
                since_detect = 0
                faces = self.engine.analyze(frame.image, min_face=s.min_face, timings=timings)
            tracked = faces[0] if faces else None
            if not faces:
                multi_run = 0
                misses += 1
                if watching and misses >= s.approach_gap_frames:
                    forget()
                continue
            misses = 0
            with_face += 1
            main = faces[0]
            if followed is None:
                others = [
                    f
                    for f in faces[1:]
                    if f.detection.box.width >= s.multi_face_ratio * main.detection.box.width
                ]
                if others:
                    if watching:  # not yet the traveller's capture: start afresh
                        forget()
                        continue
                    multi_run += 1
                    if multi_run >= s.multi_face_frames:
                        return finish(
                            "multiple_faces",
                            f"{1 + len(others)} faces in {multi_run} frames in a row",
                        )
                    continue
                multi_run = 0
            if not watching:
                faces_after += 1
            with timed(timings, "quality"):
                quality = assess(frame.image, main, self.layout, s.quality)
            with timed(timings, "liveness"):
                liveness.add(frame.image, main, frame.timestamp)
            taken = t()
            if watching:  # the approach slides: only its last approach_keep_s count
                shots.forget_before(taken - s.approach_keep_s)
            if quality.ok:
                shots.add(_Shot(quality.score, frame.image, main, quality, taken, not watching))
                if window_start is None:
                    window_start = taken
            if not shots.kept:  # every shot of the approach slid out of it
                window_start = None
            elif watching and approach - embedded_at >= s.approach_embed_every:
                # Spare time before the scan: embed the best kept shot not yet embedded
                # (not every frame: a still face changes its best shots all the time).
                waiting = next((shot for shot in shots.kept if shot.embedding is None), None)
                if waiting is not None:
                    waiting.embedding = self._embed(waiting, timings)
                    embedded_at = approach

        if seen == 0:
            return finish("camera_failed", f"no frame from the camera in {budget:g} s")
        fused = shots.fused()
        if not fused or shots.best_after_scan is None:
            return finish(
                "fta", f"no face of good quality in {budget:g} s ({with_face}/{seen} with a face)"
            )
        with timed(timings, "liveness"):
            live = early if early is not None else liveness.result()
        best = [  # only the fused shots are embedded (some already, before the scan)
            replace(shot.face, embedding=self._embed(shot, timings))
            if shot.embedding is None
            else replace(shot.face, embedding=shot.embedding)
            for shot in fused
        ]
        window = "window closed early" if early is not None else "full window"
        return finish(
            "ok",
            f"{len(best)} best shots, liveness {live.score:.2f}, {window}",
            best_faces=tuple(best),
            quality=fused[0].quality,
            best_image=fused[0].image,
            liveness_score=live.score,
            liveness=live,
        )

    def _embed(self, shot: _Shot, timings: dict[str, float]) -> FloatArray:
        embedding = self.engine.embed(shot.image, [shot.face], timings=timings)
        return np.asarray(embedding[0], dtype=np.float32)
