"""What one transaction ended with: the ``Decision`` and the ``Transaction`` value.

Every way a traveller can leave the lane is a ``Decision``; only ``ACCEPT`` opens the exit.
``Transaction`` is what observers, the simulator summary and the audit log see: no images,
no templates; the document number travels only to the audit log, which hashes it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from gate.types import ActiveAuthStatus, ChipAuthStatus, PassiveAuthStatus


class Decision(enum.Enum):
    ACCEPT = "ACCEPT"  # verified: exit door opened, passage completed
    REJECT_MISMATCH = "REJECT_MISMATCH"  # live face does not match the chip photo
    REFER_DOCUMENT = "REFER_DOCUMENT"  # PA failed, expired, photo missing, DG1 != printed MRZ
    REFER_CAPTURE = "REFER_CAPTURE"  # failure to acquire one usable face
    REFER_LIVENESS = "REFER_LIVENESS"  # presentation attack suspected
    REFER_WATCHLIST = "REFER_WATCHLIST"  # the document or the person is on a watchlist
    REFER_ELIGIBILITY = "REFER_ELIGIBILITY"  # not admitted to this lane (nationality, age ...)
    REFER_DEVICE = "REFER_DEVICE"  # a device or the software failed: fail-safe
    TIMEOUT = "TIMEOUT"  # a stage ran past its time limit
    TAILGATING = "TAILGATING"  # a second person followed: alarm
    AUDIT_FAILED = "AUDIT_FAILED"  # the audit record could not be committed: fail-safe

    @property
    def opens_exit(self) -> bool:
        return self is Decision.ACCEPT

    @classmethod
    def parse(cls, text: str) -> Decision:
        """``"accept"``, ``"REFER_DOCUMENT"`` ... -> Decision; unknown names raise ConfigError."""
        from gate.errors import ConfigError

        key = text.strip().upper().replace("-", "_")
        try:
            return cls[key]
        except KeyError as exc:
            names = ", ".join(d.name for d in cls)
            raise ConfigError(f"unknown outcome {text!r} (one of {names})") from exc


class State(enum.Enum):
    """States of the lane (``gate.lane``)."""

    IDLE = "idle"
    DOCUMENT = "document"
    CAPTURE = "capture"
    VERIFY = "verify"
    EXIT_OPEN = "exit_open"
    PASSAGE = "passage"
    REFERRED = "referred"
    FAIL_SAFE = "fail_safe"
    AUDIT = "audit"


CHALLENGE_RESULTS = ("passed", "failed", "attack", "no_face")


@dataclass(frozen=True)
class LivenessEvidence:
    """Why liveness came out as it did, for the record: the passive score and its verdict,
    each cue's value (``gate.capture.liveness``), and the one action asked of the traveller
    when the passive cues could not decide (``gate.lane.challenge``). Numbers and fixed
    labels only: never an image, a template or a landmark."""

    score: float
    verdict: str = ""  # live, attack or inconclusive; "" when the capture gave none
    cues: Mapping[str, float] = field(default_factory=dict)
    challenge: str | None = None  # the action asked (turn_left, turn_right, blink), if any
    challenge_result: str | None = None  # one of CHALLENGE_RESULTS
    challenge_ms: float | None = None  # how long the traveller took (gate time)
    challenge_peak: float | None = None  # the answer's size: degrees turned, blink depth

    def as_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "verdict": self.verdict,
            "cues": dict(self.cues),
            "challenge": self.challenge,
            "challenge_result": self.challenge_result,
            "challenge_ms": self.challenge_ms,
            "challenge_peak": self.challenge_peak,
        }


@dataclass(frozen=True)
class Transaction:
    """The result of one traveller's pass through the gate."""

    transaction_id: str
    started_at: float  # Unix time
    finished_at: float  # Unix time
    decision: Decision
    score: float | None = None  # face distance (lower = more similar)
    threshold: float | None = None  # distance threshold at the target FMR
    liveness: float | None = None  # [0, 1], higher = more likely live
    pack_id: str | None = None
    passive_auth: PassiveAuthStatus | None = None
    active_auth: ActiveAuthStatus | None = None
    chip_auth: ChipAuthStatus | None = None
    stage_ms: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    alarm: bool = False  # tailgating or door forced raised an alarm
    fail_safe: bool = False  # the gate went through its fail-safe path
    frames_seen: int = 0  # camera frames the capture stage analysed
    document_number: str | None = field(default=None, repr=False, compare=False)
    liveness_evidence: LivenessEvidence | None = None  # the cues and the challenge, if any

    @property
    def total_ms(self) -> float:
        return (self.finished_at - self.started_at) * 1000.0

    def summary(self) -> dict[str, object]:
        """A JSON-ready view without the document number."""
        return {
            "transaction_id": self.transaction_id,
            "decision": self.decision.value,
            "score": self.score,
            "threshold": self.threshold,
            "liveness": self.liveness,
            "pack_id": self.pack_id,
            "passive_auth": self.passive_auth,
            "active_auth": self.active_auth,
            "chip_auth": self.chip_auth,
            "stage_ms": dict(self.stage_ms),
            "detail": self.detail,
            "alarm": self.alarm,
            "fail_safe": self.fail_safe,
            "frames_seen": self.frames_seen,
            "liveness_evidence": (
                None if self.liveness_evidence is None else self.liveness_evidence.as_dict()
            ),
        }
