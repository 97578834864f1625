"""Page and chip must agree (issue 22): the data page's MRZ, read by OCR, must equal DG1, and
the portrait printed on the page must match DG2. A genuine chip under a page whose portrait
was substituted, or whose MRZ names another holder (the chip still opens when only fields
outside the BAC/PACE key differ), is referred (``REFER_DOCUMENT``) with its own reason.

What reaches the reason, the events and the audit row names a field or a result, never a
value of the MRZ. The page's portrait and its template stay in memory.

The portrait is compared with the lane's own face pack at a page threshold: a printed
portrait is small, screened and seen through a scanner or a document camera, so its distance
to DG2 is not a live face's. ``PAGE_THRESHOLDS`` holds the threshold calibrated on rendered
pages for the default pack (``bench/page_portrait.py``); another pack uses its own threshold
at ``FALLBACK_FMR``.
"""

from __future__ import annotations

import logging

from gate.decision import Verdict
from gate.errors import DocumentError, FaceError, GateError
from gate.icao.mrz import parse_mrz
from gate.lane.events import EventBus
from gate.lane.ports import Biometrics
from gate.lane.work import StageStop, TransactionWork
from gate.outcome import Decision
from gate.transaction import DocumentRead, PresentedDocument
from gate.types import FloatArray, ImageBGR

log = logging.getLogger("gate.lane")

# Calibrated on rendered genuine and substituted pages (``python -m bench.page_portrait``):
# the fused distance of the default pack at which a page's portrait matches DG2.
PAGE_THRESHOLDS: dict[str, float] = {"fusion": -1.5}
FALLBACK_FMR = "1e-2"
PORTRAIT_MARGIN = 0.15  # around the renderer's portrait box: the detector needs some context
MRZ_FIELDS = (
    "document_type", "issuing_state", "surname", "given_names", "document_number",
    "nationality", "birth_date", "sex", "expiry_date", "optional_data",
)  # fmt: skip
# What the console's document card shows of each check (labels, never values).
MATCHES, DIFFERS, NO_FACE = "matches the chip", "differs from the chip", "no face found"


def mrz_differences(printed: str, dg1: str) -> tuple[str, ...]:
    """The names of the MRZ fields in which the page and DG1 differ (no values); ``("mrz",)``
    when one of them does not parse but their text differs."""
    try:
        page, chip = parse_mrz(printed), parse_mrz(dg1)
    except DocumentError:
        same = _squeezed(printed) == _squeezed(dg1)
        return () if same else ("mrz",)
    differ = tuple(f for f in MRZ_FIELDS if getattr(page, f) != getattr(chip, f))
    if not differ and _squeezed(printed) != _squeezed(dg1):
        return ("mrz",)  # the same fields, printed otherwise (fillers, check digits)
    return differ


def _squeezed(text: str) -> str:
    return "".join(line.strip() for line in text.strip().splitlines())


class PageCheck:
    """The lane's page-chip consistency checks (``Lane.page``)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self.thresholds = dict(PAGE_THRESHOLDS)
        self._threshold: tuple[str, float] | None = None  # (pack id, threshold)

    def threshold(self, biometrics: Biometrics) -> float:
        """The page threshold of the lane's pack (asked once per pack)."""
        pack = biometrics.pack_id
        if self._threshold is None or self._threshold[0] != pack:
            value = self.thresholds.get(pack)
            if value is None:
                value = biometrics.threshold(FALLBACK_FMR)
            self._threshold = (pack, float(value))
        return self._threshold[1]

    def mrz(
        self,
        work: TransactionWork,
        document: PresentedDocument,
        doc: DocumentRead,
        verdict: Verdict | None,
    ) -> Verdict | None:
        """``verdict`` (the document rules'), with the page-vs-DG1 referral naming the fields
        that differ when the MRZ came from the page; notes the check for the console."""
        if document.page is None:
            return verdict
        differ = mrz_differences(document.printed_mrz, doc.dg1_mrz)
        work.document["page_mrz"] = f"{DIFFERS} ({', '.join(differ)})" if differ else MATCHES
        self._bus.emit("document", work.transaction_id, "page mrz", page_mrz=not differ,
                       fields=list(differ))  # fmt: skip
        if differ and (verdict is None or verdict.reason == DG1_REASON):
            return Verdict(Decision.REFER_DOCUMENT, f"{PAGE_MRZ_REASON} ({', '.join(differ)})")
        return verdict

    def portrait(
        self,
        work: TransactionWork,
        biometrics: Biometrics,
        reference: FloatArray,
        document: PresentedDocument,
    ) -> Verdict | None:
        """``None`` when the page's printed portrait matches the chip's (or there is no
        page); else the referral. Raises ``StageStop`` for a face side that failed."""
        page = document.page
        if page is None:
            return None
        started = work.clock.now()
        try:
            crop = portrait_area(page, document)
            try:
                template = biometrics.enrol(crop)
            except FaceError:
                work.document["page_portrait"] = NO_FACE
                self._bus.emit("document", work.transaction_id, "page portrait", matches=False)
                return Verdict(Decision.REFER_DOCUMENT, NO_PORTRAIT_REASON)
            distance = biometrics.distance(reference, [template])
            threshold = self.threshold(biometrics)
        except GateError as exc:
            reason = f"page portrait: {type(exc).__name__}: {exc}"
            raise StageStop(Verdict(Decision.REFER_DEVICE, reason)) from exc
        finally:
            work.timed("page_portrait", started)
        matches = distance <= threshold
        work.document["page_portrait"] = (
            f"{MATCHES if matches else DIFFERS} (distance {distance:.3f}, "
            f"a match at or below {threshold:.3f})"
        )
        self._bus.emit("document", work.transaction_id, "page portrait", matches=matches,
                       distance=distance, threshold=threshold)  # fmt: skip
        if not matches:
            return Verdict(Decision.REFER_DOCUMENT, PORTRAIT_REASON)
        return None


DG1_REASON = "DG1 differs from the printed MRZ"  # gate.decision.check_document's
PAGE_MRZ_REASON = "page MRZ differs from the chip (DG1)"
PORTRAIT_REASON = "page portrait does not match the chip photo (DG2)"
NO_PORTRAIT_REASON = "page portrait: no face found on the page"


def portrait_area(page: ImageBGR, document: PresentedDocument) -> ImageBGR:
    """Where to look for the printed portrait: the renderer's box with a margin, or the whole
    page (the largest face on it: the ghost image beside the portrait is smaller)."""
    box = document.portrait_box
    if box is None:
        return page
    height, width = page.shape[:2]
    dx, dy = box.width * PORTRAIT_MARGIN, box.height * PORTRAIT_MARGIN
    left, top = max(0, int(box.left - dx)), max(0, int(box.top - dy))
    right, bottom = min(width, int(box.right + dx)), min(height, int(box.bottom + dy))
    if right - left < 8 or bottom - top < 8:
        return page
    return page[top:bottom, left:right]
