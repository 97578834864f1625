"""One transaction while it runs: the facts gathered so far (and the ``Transaction`` value
they make), stage timing on the gate's clock, and the translation of a stage's errors into
the verdict that ends it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from gate.clock import Clock
from gate.decision import Verdict
from gate.errors import DeviceError, DocumentError, FaceError, GateError
from gate.lane.challenge import ChallengeOutcome
from gate.outcome import Decision, LivenessEvidence, Transaction
from gate.transaction import CaptureOutcome, DocumentRead
from gate.types import ActiveAuthStatus, ChipAuthStatus, ImageBGR, PassiveAuthStatus

T = TypeVar("T")


class StageStop(Exception):
    """A stage reached its verdict early; unwinds to the state machine's ``process``."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


def verdict_for_error(stage: str, exc: GateError) -> Verdict:
    """The verdict for a stage that failed with one of our errors."""
    text = f"{stage}: {type(exc).__name__}: {exc}"
    # A device that stops answering is a device failure (REFER_DEVICE); TIMEOUT is kept
    # for a stage that ran past its own time limit.
    if isinstance(exc, DeviceError):
        return Verdict(Decision.REFER_DEVICE, text)
    if stage == "document" and isinstance(exc, DocumentError):
        return Verdict(Decision.REFER_DOCUMENT, text)
    if stage == "enrol" and isinstance(exc, FaceError):
        return Verdict(Decision.REFER_DOCUMENT, f"no usable face in the chip photo ({exc})")
    if stage == "capture" and isinstance(exc, FaceError):
        return Verdict(Decision.REFER_CAPTURE, text)
    return Verdict(Decision.REFER_DEVICE, text)


@dataclass
class TransactionWork:
    """Mutable facts gathered while one transaction runs, and its stage timings.

    Timings are gate time (``clock.now()``), so an accelerated simulation reports what the
    lane would take at real speed.
    """

    transaction_id: str
    clock: Clock = field(repr=False)
    started_wall: float = 0.0
    started: float = 0.0
    stage_ms: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    threshold: float | None = None
    liveness: float | None = None
    passive_auth: PassiveAuthStatus | None = None
    active_auth: ActiveAuthStatus | None = None
    chip_auth: ChipAuthStatus | None = None
    document_number: str | None = field(default=None, repr=False)
    alarm: bool = False
    frames_seen: int = 0
    decided_from: float = 0.0  # when the capture's result was in (decision latency)
    # What liveness was made of, and the challenge asked when the passive cues could not
    # decide (``gate.lane.liveness_step``): numbers and labels for the record.
    liveness_verdict: str = ""
    liveness_cues: dict[str, float] = field(default_factory=dict)
    challenge: str | None = None  # the action asked
    challenge_outcome: ChallengeOutcome | None = None
    # For the officer's referral screen only (held in memory by the console while the
    # referral is open; never logged or written).
    chip_photo: ImageBGR | None = field(default=None, repr=False)
    best_shot: ImageBGR | None = field(default=None, repr=False)
    face_box: tuple[float, float, float, float] | None = None
    quality: float | None = None
    document: dict[str, str] = field(default_factory=dict, repr=False)  # document_view

    def timed(self, stage: str, started: float) -> float:
        """Record ``stage`` as having run from ``started`` until now; returns its seconds."""
        elapsed = self.clock.now() - started
        self.stage_ms[stage] = elapsed * 1000.0
        return elapsed

    def run(self, stage: str, call: Callable[[], T]) -> T:
        """Run one stage's call, timed, translating its errors into the stage's verdict."""
        started = self.clock.now()
        try:
            return call()
        except GateError as exc:
            raise StageStop(verdict_for_error(stage, exc)) from exc
        finally:
            self.timed(stage, started)

    def note_document(self, doc: DocumentRead) -> None:
        """What the chip said: the authentication results, the document number and what the
        officer's referral screen may show of it (``document_view``)."""
        self.passive_auth = doc.passive_auth
        self.active_auth = doc.active_auth
        self.chip_auth = doc.chip_auth
        self.document_number, self.document = doc.document_number, document_view(doc)

    def note_capture(self, capture: CaptureOutcome) -> None:
        """What the capture found: liveness, the best shot and the capture's own timings."""
        self.liveness = capture.liveness
        self.liveness_verdict = capture.liveness_verdict
        self.liveness_cues = {k: float(v) for k, v in capture.liveness_cues.items()}
        self.frames_seen = capture.frames_seen
        self.best_shot, self.face_box, self.quality = (
            capture.best_shot,
            capture.face_box,
            capture.quality,
        )
        for key, value in capture.timings_ms.items():
            self.stage_ms[f"capture.{key}"] = float(value)

    def note_challenge(self, outcome: ChallengeOutcome) -> None:
        self.challenge, self.challenge_outcome = outcome.action, outcome

    def evidence(self) -> LivenessEvidence | None:
        """The liveness evidence so far; ``None`` before the capture gave a score."""
        if self.liveness is None:
            return None
        outcome = self.challenge_outcome
        return LivenessEvidence(
            score=self.liveness,
            verdict=self.liveness_verdict,
            cues=dict(self.liveness_cues),
            challenge=self.challenge,
            challenge_result=None if outcome is None else outcome.result,
            challenge_ms=None if outcome is None else outcome.elapsed_s * 1000.0,
            challenge_peak=None if outcome is None else outcome.peak,
        )

    def transaction(
        self, verdict: Verdict, fail_safe: bool, finished_at: float, pack_id: str | None
    ) -> Transaction:
        """The record of this transaction as it stands, ending in ``verdict``."""
        return Transaction(
            transaction_id=self.transaction_id,
            started_at=self.started_wall,
            finished_at=finished_at,
            decision=verdict.decision,
            score=self.score,
            threshold=self.threshold,
            liveness=self.liveness,
            pack_id=pack_id,
            passive_auth=self.passive_auth,
            active_auth=self.active_auth,
            chip_auth=self.chip_auth,
            stage_ms=dict(self.stage_ms),
            detail=verdict.reason,
            alarm=self.alarm,
            fail_safe=fail_safe,
            frames_seen=self.frames_seen,
            document_number=self.document_number,
            liveness_evidence=self.evidence(),
        )


def document_view(doc: DocumentRead) -> dict[str, str]:
    """What the officer's referral screen shows of the chip's data: type, issuing state,
    name, nationality, expiry, and the document number masked (its last two characters
    only). A DG1 that does not parse is read by position (TD3), for display only. Held in
    memory only, like the photos."""
    from gate.icao.mrz import parse_mrz

    number, expiry = doc.document_number.rstrip("<"), doc.expiry_date
    view = {
        "expiry": f"20{expiry[:2]}-{expiry[2:4]}-{expiry[4:6]}" if len(expiry) == 6 else "",
        "number": "*" * max(0, len(number) - 2) + number[-2:],
    }
    try:
        mrz = parse_mrz(doc.dg1_mrz)
        fields = (mrz.document_type, mrz.issuing_state, mrz.surname, mrz.given_names)
        nationality = mrz.nationality
    except (DocumentError, ValueError):
        lines = doc.dg1_mrz.splitlines()
        if len(lines) != 2 or len(lines[0]) != 44 or len(lines[1]) < 13:
            return view
        surname, _, given = lines[0][5:].partition("<<")
        fields = (lines[0][:2], lines[0][2:5], surname, given)
        nationality = lines[1][10:13]
    kind, state, surname, given = (f.replace("<", " ").strip() for f in fields)
    name = f"{surname}, {given}" if given else surname
    view |= {"type": kind, "issuing_state": state, "name": name, "nationality": nationality}
    return {k: v.replace("<", " ").strip() for k, v in view.items() if v.strip("< ")}
