"""Adapters from the real components to the lane's ports (``gate.lane.ports``).

Each adapter is thin: it calls the owner's public API and reshapes the result. Heavy imports
(the face engine, the ICAO reader) happen only when an adapter is built or first used, so
importing the lane stays cheap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Sequence
from threading import Event
from typing import TYPE_CHECKING

import numpy as np

from gate.audit import AuditLog, AuditRecord
from gate.clock import Clock
from gate.errors import DeviceError, DeviceTimeoutError, DocumentError, FaceError, InputError
from gate.interfaces import Camera, CaptureEngine, Timings
from gate.lane.actions import OfficerAction
from gate.lane.bad_mrz import UnreadableMrz, mrz_problem
from gate.lane.challenge import (
    TURNS,
    BlinkSignal,
    ChallengeCheck,
    ChallengeOutcome,
    available_actions,
)
from gate.lane.preview import PreviewCamera
from gate.outcome import LivenessEvidence, Transaction
from gate.transaction import CaptureOutcome, DocumentRead, PresentedDocument
from gate.types import Face, FloatArray, ImageBGR

if TYPE_CHECKING:
    from gate.capture.liveness import LivenessResult
    from gate.capture.pipeline import CapturePipeline
    from gate.icao.pa import TrustStore
    from gate.lane.side_engine import SideEngine
    from models.engine import FaceEngine

log = logging.getLogger(__name__)


class AuditLogSink:
    """Records transactions in ``gate.audit.AuditLog`` (raises ``AuditError`` on failure)."""

    def __init__(self, audit_log: AuditLog) -> None:
        self.log = audit_log

    def record_decision(self, transaction: Transaction) -> None:
        self.log.record(_record(transaction), kind="decision")

    def commit(self, transaction: Transaction) -> None:
        self.log.record(_record(transaction), kind="result")

    def record_officer(self, action: OfficerAction, at: float) -> None:
        """A row of its own (a fresh id, chained like the others) naming the officer."""
        subject = f" ({action.subject})" if action.subject else ""
        outcome, detail = f"OFFICER_{action.kind.upper()}", f"{action.reason}{subject}"
        if action.refused:  # a command the lane refused: why, and whom it claimed to be from
            outcome, detail = f"{outcome}_REFUSED", f"refused: {action.refused}{subject}"
        self.log.record(
            AuditRecord(
                transaction_id=uuid.uuid4().hex,
                started_at=at,
                finished_at=at,
                outcome=outcome,
                detail=f"officer {action.officer}: {detail}",
            ),
            kind="result",
        )


class _NotingEngine:
    """The face engine as the capture pipeline sees it, telling the preview camera the main
    face's box and quality of each frame it previews (measured only for those frames).

    It forwards the whole engine protocol (``gate.interfaces.CaptureEngine``), tracking
    included, so a watched lane detects and tracks exactly as an unwatched one."""

    def __init__(
        self, engine: CaptureEngine, camera: PreviewCamera, pipeline: CapturePipeline
    ) -> None:
        self.engine = engine
        self.camera = camera
        self.layout = pipeline.layout
        self.thresholds = pipeline.settings.quality

    @property
    def landmark_layout(self) -> str:
        return self.engine.landmark_layout

    @property
    def can_track(self) -> bool:
        return self.engine.can_track

    def analyze(
        self, image: ImageBGR, *, min_face: int = 40, timings: Timings | None = None
    ) -> list[Face]:
        faces = self.engine.analyze(image, min_face=min_face, timings=timings)
        self._note(image, faces[0] if faces else None)
        return faces

    def track(
        self,
        image: ImageBGR,
        previous: Face,
        *,
        min_face: int = 40,
        timings: Timings | None = None,
    ) -> Face | None:
        followed = self.engine.track(image, previous, min_face=min_face, timings=timings)
        if followed is not None:  # a lost track is detected on the whole frame: noted there
            self._note(image, followed)
        return followed

    def embed(
        self, image: ImageBGR, faces: Sequence[Face], *, timings: Timings | None = None
    ) -> FloatArray:
        return self.engine.embed(image, faces, timings=timings)

    def _note(self, image: ImageBGR, face: Face | None) -> None:
        if not self.camera.wants(image):
            return
        from gate.capture.quality import assess

        quality = None if face is None else assess(image, face, self.layout, self.thresholds)
        box = None if face is None else _box(face)
        self.camera.note_faces(image, box, None if quality is None else quality.score)


def _box(face: Face) -> tuple[float, float, float, float]:
    box = face.detection.box
    return (float(box.left), float(box.top), float(box.right), float(box.bottom))


def _record(transaction: Transaction) -> AuditRecord:
    detail = transaction.detail
    if transaction.alarm:
        detail = f"ALARM; {detail}"
    return AuditRecord(
        transaction_id=transaction.transaction_id,
        started_at=transaction.started_at,
        finished_at=transaction.finished_at,
        outcome=transaction.decision.value,
        score=transaction.score,
        threshold=transaction.threshold,
        pack_id=transaction.pack_id,
        document_number=transaction.document_number,
        passive_auth=transaction.passive_auth,
        active_auth=transaction.active_auth,
        chip_auth=transaction.chip_auth,
        stage_ms=dict(transaction.stage_ms),
        detail=detail,
        liveness=evidence_json(transaction.liveness_evidence),
    )


def evidence_json(evidence: LivenessEvidence | None) -> str | None:
    """The audit row's ``liveness`` field: the score, the verdict, each cue's value and the
    challenge, as compact JSON of numbers and fixed labels (finite numbers only)."""
    if evidence is None:
        return None
    data = {k: v for k, v in evidence.as_dict().items() if v is not None}
    data["cues"] = {k: round(v, 4) for k, v in evidence.cues.items() if math.isfinite(v)}
    for key in ("score", "challenge_ms", "challenge_peak"):
        value = data.get(key)
        if isinstance(value, float):
            data[key] = round(value, 4) if math.isfinite(value) else None
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def liveness_cues(result: LivenessResult | None) -> dict[str, float]:
    """Every number of the passive liveness result but the score itself (each cue and
    the measure behind it), by field name: a cue added later is recorded too."""
    if result is None:
        return {}
    cues: dict[str, float] = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if f.name != "score" and number and math.isfinite(value):  # NaN: not measured
            cues[f.name] = float(value)
    return cues


class EngineBiometrics:
    """The face engine plus the capture pipeline as the lane's biometrics.

    On a kiosk the capture runs in a thread of its own while the lane's thread reads the
    chip and then enrols its photo (``gate.lane.capture_ahead``). The engine is not
    thread-safe, and a capture must not be paused in the middle of its liveness window
    (frames missed while another call holds the engine read as a jump of the head): so a
    capture holds ``lock`` from its first frame to its last embedding, and the enrolment
    (and the comparison) wait for it to end. Unless the lane has a ``side`` engine (the pack
    opened again, ``egate run``; ``gate.lane.side_engine``): the chip photo is then enrolled
    on it while the capture runs."""

    def __init__(
        self,
        engine: FaceEngine,
        pipeline: CapturePipeline,
        enrol_min_face: int = 40,
        blink: BlinkSignal | None = None,
        side: SideEngine | None = None,
    ) -> None:
        self.engine = engine
        self.side = side
        self.pipeline = pipeline
        self.enrol_min_face = enrol_min_face
        self.blink = blink  # an eye-openness signal (a dense-landmark blink cue), if any
        self.lock = threading.Lock()

    @property
    def pack_id(self) -> str:
        return self.engine.pack_id

    def threshold(self, fmr: str) -> float:
        return float(self.engine.threshold(fmr))

    def enrol(self, photo: ImageBGR) -> FloatArray:
        # The chip photo may hold a small face; take the largest one found.
        if self.side is not None:  # while the capture runs
            return self.side.enrol(photo, self.enrol_min_face)
        with self.lock:
            face = self.engine.embed_one(photo, policy="largest", min_face=self.enrol_min_face)
        if face.embedding is None:
            raise FaceError("the engine gave no embedding for the chip photo")
        return np.asarray(face.embedding, dtype=np.float32)

    def capture(
        self, camera: Camera, clock: Clock, deadline_s: float, scanned: Event | None = None
    ) -> CaptureOutcome:
        pipeline = self.pipeline
        if isinstance(camera, PreviewCamera):  # the officer's view: faces of previewed frames
            from gate.capture.pipeline import CapturePipeline

            pipeline = CapturePipeline(
                _NotingEngine(self.engine, camera, pipeline), pipeline.settings
            )
        with self.lock:
            result = pipeline.capture(camera, clock, deadline_s, scanned)
        embeddings = tuple(
            np.asarray(face.embedding, dtype=np.float32)
            for face in result.best_faces
            if face.embedding is not None
        )
        return CaptureOutcome(
            status=result.status,
            embeddings=embeddings,
            liveness=float(result.liveness_score),
            quality=None if result.quality is None else float(result.quality.score),
            frames_seen=result.frames_seen,
            frames_dropped=result.frames_dropped,
            timings_ms=dict(result.timings_ms),
            detail=result.detail,
            best_shot=result.best_image,
            face_box=_box(result.best_faces[0]) if result.best_faces else None,
            liveness_verdict="" if result.liveness is None else result.liveness.verdict,
            liveness_cues=liveness_cues(result.liveness),
        )

    def challenge_actions(self) -> tuple[str, ...]:
        return available_actions(self.blink is not None)

    def watch_challenge(
        self, camera: Camera, clock: Clock, check: ChallengeCheck, deadline_s: float
    ) -> ChallengeOutcome:
        """The challenge's frames: the main face's yaw (or eye openness) into ``check``,
        and every face into a fresh passive liveness check, whose ``attack`` verdict fails
        the challenge (a picture turned by hand shows itself flat)."""
        from gate.capture.liveness import LivenessChecker
        from gate.capture.quality import face_points, head_pose

        settings, layout = self.pipeline.settings, self.pipeline.layout
        liveness = LivenessChecker(layout, settings.liveness)
        start, seen, waited, elapsed = clock.now(), 0, 0.0, 0.0
        while not check.done:
            # gate time, and at least the frames read and the reads that timed out (a
            # clock held still, as a replay's after its recorded capture, ends it too)
            elapsed = max(clock.now() - start, seen / settings.max_fps + waited)
            if elapsed >= deadline_s:
                break
            try:
                frame = camera.read(settings.read_timeout_s)
            except DeviceTimeoutError:
                waited += settings.read_timeout_s
                continue
            seen += 1
            faces = self.engine.analyze(frame.image, min_face=settings.min_face)
            if not faces:
                check.add(None)
                continue
            liveness.add(frame.image, faces[0])
            if check.action in TURNS:
                check.add(head_pose(face_points(faces[0].landmarks, layout), layout)[0])
            elif self.blink is not None:
                check.add(self.blink(frame.image, faces[0]))
        attack = liveness.frames > 0 and liveness.result().verdict == "attack"
        return check.outcome(elapsed, attack)

    def distance(self, reference: FloatArray, probes: Sequence[FloatArray]) -> float:
        if not probes:
            raise InputError("no live embeddings to compare")
        with self.lock:
            distances = self.engine.distances(np.stack(list(probes)), reference[None, :])
        # Multi-frame fusion: the median of the best shots resists one odd frame.
        return float(np.median(distances))


class PassportChipReader:
    """``gate.icao.reader.read_passport`` over the presented document's transport, which
    is closed when the read ends, whatever its outcome."""

    def __init__(self, trust: TrustStore) -> None:
        self.trust = trust

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead:
        from gate.icao.mrz import parse_mrz
        from gate.icao.reader import read_passport

        if document.transport is None:
            raise DeviceError("no chip transport for the presented document")
        try:
            printed = parse_mrz(document.printed_mrz)
        except DocumentError as exc:  # a bad scan: named, value-free, before any chip I/O
            document.transport.close()
            raise UnreadableMrz(mrz_problem(exc)) from None
        now = dt.datetime.fromtimestamp(wall_time, dt.timezone.utc)
        try:
            result = read_passport(document.transport, printed, self.trust, now=now)
        finally:
            # The card handle goes back at once: one left open per traveller would pile up
            # in pcscd (and, with a context each, use up its clients).
            document.transport.close()
        if result.photo is None and result.photo_error:
            log.warning("chip photo unusable: %s", result.photo_error)
        return DocumentRead(
            document_number=result.dg1.document_number,
            expiry_date=result.dg1.expiry_date,
            dg1_mrz="\n".join(result.dg1.lines),
            photo=result.photo,
            passive_auth=result.passive_auth.status,
            active_auth=result.active_auth.status,
            chip_auth=result.chip_auth.status,
            access=result.access.protocol,
            timings_ms=dict(result.timings_ms),
            chip_files=result.files,
        )


def engine_biometrics_loader(
    pack: str | None,
    min_face: int = 60,
    window_s: float = 3.0,
    threads: int = 0,
    side_engine: bool = False,
) -> Callable[[], EngineBiometrics]:
    """A loader for ``ResilientBiometrics``: the pack's engine plus the capture pipeline
    (and, with ``side_engine``, the pack opened a second time, on one thread, for the
    chip photo's enrolment during the capture)."""

    def load() -> EngineBiometrics:
        from gate.capture.pipeline import CapturePipeline, CaptureSettings
        from gate.lane.side_engine import SideEngine
        from models.engine import load_engine

        name = None if pack == "default" else pack
        engine = load_engine(name, threads=threads)
        side = SideEngine(load_engine(name, threads=1)) if side_engine else None
        # The passive liveness check scores head motion across the window: 3 seconds give
        # it enough distinct poses whether the detector manages 6 or 15 frames a second
        # (with 2 s, measured false alarms on live synthetic travellers).
        settings = CaptureSettings(min_face=min_face, window_s=window_s)
        return EngineBiometrics(engine, CapturePipeline(engine, settings), side=side)

    return load
