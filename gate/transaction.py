"""The values one transaction passes between the lane's stages: the presented document, what
its chip gave, and what the camera stage captured.

They sit beside ``gate.outcome`` at the bottom layer, so the decision rules
(``gate.decision``), the lane (``gate.lane``) and the in-memory fakes share them without
importing each other. No value here is ever written to a log, nor to disk but by the opt-in
recorder (``gate.record``): the MRZ, the document number and the photo are kept out of
``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gate.interfaces import ChipTransport
from gate.types import (
    ActiveAuthStatus,
    Box,
    CaptureStatus,
    ChipAuthStatus,
    FloatArray,
    ImageBGR,
    PassiveAuthStatus,
)


@dataclass(frozen=True)
class PresentedDocument:
    """A document laid on the reader: the printed MRZ (from the page scanner) and the chip.

    A page reader that images the data page hands over the ``page`` instead (the MRZ left
    empty: the lane reads it by OCR, ``gate.lane.page_check``), with the printed
    portrait's box on it when it is known (a rendered page's); the page is held in memory
    only."""

    printed_mrz: str = field(repr=False)
    transport: ChipTransport | None = field(default=None, repr=False)
    label: str = ""  # free text for logs and the simulator (never the MRZ)
    page: ImageBGR | None = field(default=None, repr=False, compare=False)
    portrait_box: Box | None = field(default=None, repr=False)  # in the page's pixels


@dataclass(frozen=True)
class DocumentRead:
    """What the chip gave: DG1's MRZ, the DG2 photo and the security checks' results."""

    document_number: str = field(repr=False)
    expiry_date: str  # YYMMDD as in the MRZ
    dg1_mrz: str = field(repr=False)
    photo: ImageBGR | None = field(repr=False, compare=False)
    passive_auth: PassiveAuthStatus
    active_auth: ActiveAuthStatus = "not_supported"
    chip_auth: ChipAuthStatus = "not_supported"
    access: str = ""  # "PACE" or "BAC"
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    # The chip's files as read (``gate.icao.reader.PassportRead.files``): for the opt-in
    # recorder (``gate.record``) alone, which is the one writer of these values to disk.
    chip_files: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class CaptureOutcome:
    """The camera stage's result, reduced to what the decision needs."""

    status: CaptureStatus
    embeddings: Sequence[FloatArray] = field(default=(), repr=False)
    liveness: float | None = None
    quality: float | None = None
    frames_seen: int = 0
    frames_dropped: int = 0
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    # The best shot and its face box (left, top, right, bottom), for an officer's screen.
    best_shot: ImageBGR | None = field(default=None, repr=False, compare=False)
    face_box: tuple[float, float, float, float] | None = None
    # What the liveness score was made of: the passive verdict (live, attack, inconclusive)
    # and each cue's value (``gate.capture.liveness.LivenessResult``'s numbers).
    liveness_verdict: str = ""
    liveness_cues: Mapping[str, float] = field(default_factory=dict)
