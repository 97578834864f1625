"""What the gate controller needs from the outside world, as small protocols and values.

The controller is written against these ports only; ``gate.fakes`` implements them in memory
for unit tests and ``gate.adapters`` wraps the real chip reader, face engine, capture
pipeline and turnstile driver. Keeping the ports narrow is what lets one state machine run
a kiosk (``egate run``), the simulator and the fault tests unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gate.clock import Clock
from gate.interfaces import Camera, ChipTransport
from gate.types import FloatArray, ImageBGR


@dataclass(frozen=True)
class PresentedDocument:
    """A document laid on the reader: the printed MRZ (from the page scanner) and the chip."""

    printed_mrz: str = field(repr=False)
    transport: ChipTransport | None = field(default=None, repr=False)
    label: str = ""  # free text for logs and the simulator (never the MRZ)


@dataclass(frozen=True)
class DocumentRead:
    """What the chip gave: DG1's MRZ, the DG2 photo and the security checks' results."""

    document_number: str = field(repr=False)
    expiry_date: str  # YYMMDD as in the MRZ
    dg1_mrz: str = field(repr=False)
    photo: ImageBGR | None = field(repr=False, compare=False)
    passive_auth: str  # "valid" | "invalid" | "not_checked"
    active_auth: str = "not_supported"  # "valid" | "invalid" | "not_supported" | "not_checked"
    timings_ms: Mapping[str, float] = field(default_factory=dict)


class DocumentSource(Protocol):
    """Waits for the next traveller's document; ``None`` when none came within ``timeout``."""

    def wait_document(self, timeout: float) -> PresentedDocument | None: ...


class ChipReader(Protocol):
    """Reads and checks the chip of a presented document.

    Raises ``SecurityError`` (BAC failed), ``DeviceGoneError`` (card removed),
    ``DocumentError``, ``ProtocolError`` or ``DeviceError``.
    """

    def read(self, document: PresentedDocument, wall_time: float) -> DocumentRead: ...


@dataclass(frozen=True)
class CaptureOutcome:
    """The camera stage's result, reduced to what the decision needs."""

    status: str  # "ok" | "fta" | "multiple_faces" | "camera_failed"
    embeddings: Sequence[FloatArray] = field(default=(), repr=False)
    liveness: float | None = None
    quality: float | None = None
    frames_seen: int = 0
    frames_dropped: int = 0
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""


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

    def capture(self, camera: Camera, clock: Clock, deadline_s: float) -> CaptureOutcome: ...

    def distance(self, reference: FloatArray, probes: Sequence[FloatArray]) -> float:
        """Fused distance between the chip template and the live templates."""
        ...


class TurnstileEventLike(Protocol):
    """An event from the turnstile driver; the controller only looks at ``kind.name``."""

    @property
    def kind(self) -> Any: ...


class TurnstileLike(Protocol):
    """The subset of ``gate.turnstile.Turnstile`` the controller drives."""

    def open_entry(self) -> Any: ...

    def open_exit(self) -> Any: ...

    def lock(self) -> Any: ...

    def next_event(self, timeout: float) -> Any: ...


class AuditSink(Protocol):
    """Where transactions are committed (``gate.audit.AuditLog`` via an adapter)."""

    def commit(self, transaction: Any) -> None: ...
