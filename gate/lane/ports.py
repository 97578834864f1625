"""What the lane needs from the outside world: small protocols over the real types.

The state machine is written against these ports only. ``gate.fakes`` implements them in
memory for unit tests; ``gate.lane.adapters`` wraps the real chip reader, face engine,
capture pipeline and audit log; the turnstile port is ``gate.turnstile.Turnstile`` itself,
which every driver in ``drivers.turnstile`` implements. Keeping the ports narrow is what lets
one state machine run a kiosk (``egate run``), the simulator and the fault tests unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import Event
from typing import Protocol, runtime_checkable

from gate.clock import Clock
from gate.interfaces import Camera
from gate.lane.actions import OfficerAction
from gate.lane.challenge import ChallengeCheck, ChallengeOutcome
from gate.outcome import Transaction
from gate.transaction import CaptureOutcome, DocumentRead, PresentedDocument
from gate.turnstile import Turnstile
from gate.types import FloatArray, ImageBGR

__all__ = [
    "AuditSink",
    "Biometrics",
    "ChallengeWatcher",
    "ChipReader",
    "DocumentSource",
    "Turnstile",
]


class DocumentSource(Protocol):
    """Waits for the next traveller's document; ``None`` when none came within ``timeout``."""

    @property
    def ended(self) -> bool:
        """True once no document can come any more (the page scanner's stream closed)."""
        ...

    def wait_document(self, timeout: float) -> PresentedDocument | None: ...


class ChipReader(Protocol):
    """Reads and checks the chip of a presented document.

    Raises ``SecurityError`` (BAC failed), ``DeviceGoneError`` (card removed),
    ``DocumentError``, ``ProtocolError`` or ``DeviceError``.
    """

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead: ...


class Biometrics(Protocol):
    """The face side: the chip photo's template, live capture and comparison."""

    @property
    def pack_id(self) -> str: ...

    def threshold(self, fmr: str) -> float:
        """Distance threshold at the target false-match rate (lower distance = more alike)."""
        ...

    def enrol(self, photo: ImageBGR) -> FloatArray:
        """The template of the chip photo; raises ``FaceError`` when it holds no usable face."""
        ...

    def capture(
        self, camera: Camera, clock: Clock, deadline_s: float, scanned: Event | None = None
    ) -> CaptureOutcome:
        """The live capture; ``scanned``: it begins before the scan, watching the approach
        until the event is set (``gate.capture.pipeline``)."""
        ...

    def distance(self, reference: FloatArray, probes: Sequence[FloatArray]) -> float:
        """Fused distance between the chip template and the live templates."""
        ...


@runtime_checkable
class ChallengeWatcher(Protocol):
    """A face side that can check a challenge (``gate.lane.challenge``); one without it
    refers an inconclusive traveller on liveness, as before challenges existed."""

    def challenge_actions(self) -> tuple[str, ...]:
        """The actions it can check (``gate.lane.challenge.available_actions``); none: it
        cannot check any now."""
        ...

    def watch_challenge(
        self, camera: Camera, clock: Clock, check: ChallengeCheck, deadline_s: float
    ) -> ChallengeOutcome:
        """Feed ``check`` from the camera's frames until it is ``done`` or ``deadline_s``
        (gate time) has passed; ``attack`` when the passive cues see a picture meanwhile."""
        ...


class AuditSink(Protocol):
    """Where transactions are recorded; each call is durable when it returns, and raises
    ``AuditError`` when it cannot be."""

    def record_decision(self, transaction: Transaction) -> None:
        """Write ahead: what the lane decided, before any door moves for it."""
        ...

    def commit(self, transaction: Transaction) -> None:
        """The transaction's end: the passage result and the final outcome."""
        ...

    def record_officer(self, action: OfficerAction, at: float) -> None:
        """An officer's action (with the officer's name), before the lane acts on it."""
        ...
