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
from collections.abc import Callable

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

# Calibrated on rendered pages (``python -m bench.page_portrait``; 80 LFW-dev people, TD3
# pages, each page against its own chip and the 79 others: 80 genuine, 6,320 substituted):
# the default pack's fused distance at FAR <= 1e-3. Under the kiosk reader's view
# (``--view reader --seed 2``): FAR 0.095 %, FRR 2.5 %; under the mixed degradations of
# ``gate.page.random_degradation`` (any rotation, blur, glare, low light, JPEG; ``--seed 1``):
# FAR 0.095 %, FRR 1.25 %. Genuine pages lie near -9 (the page prints DG2's own picture),
# substituted ones from -3.0 up (median -0.5).
PAGE_THRESHOLDS: dict[str, float] = {"fusion": -2.66}
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
            threshold = self.threshold(biometrics)
            distance = page_distance(
                biometrics.enrol,
                lambda template: biometrics.distance(reference, [template]),
                page_views(page, document),
                threshold,
            )
        except GateError as exc:
            reason = f"page portrait: {type(exc).__name__}: {exc}"
            raise StageStop(Verdict(Decision.REFER_DEVICE, reason)) from exc
        finally:
            work.timed("page_portrait", started)
        if distance is None:
            work.document["page_portrait"] = NO_FACE
            self._bus.emit("document", work.transaction_id, "page portrait", matches=False)
            return Verdict(Decision.REFER_DOCUMENT, NO_PORTRAIT_REASON)
        matches = distance <= threshold
        said = MATCHES if matches else DIFFERS
        work.document["page_portrait"] = (
            f"{said} (distance {distance:.2f}, threshold {threshold:.2f})"
        )
        self._bus.emit("document", work.transaction_id, "page portrait", matches=matches,
                       distance=distance, threshold=threshold)  # fmt: skip
        if not matches:
            return Verdict(Decision.REFER_DOCUMENT, PORTRAIT_REASON)
        return None


DG1_REASON = "DG1 differs from the printed MRZ"  # gate.decision.check_document's
PAGE_MRZ_REASON = "page MRZ differs from the chip's DG1"
PORTRAIT_REASON = "page portrait does not match the chip photo (DG2)"
NO_PORTRAIT_REASON = "page portrait: no face found on the page"


def page_views(page: ImageBGR, document: PresentedDocument) -> list[ImageBGR]:
    """Where to look for the printed portrait: the renderer's box when it is known, else the
    page straightened (``upright_views``)."""
    return [portrait_area(page, document)] if document.portrait_box else upright_views(page)


def page_distance(
    enrol: Callable[[ImageBGR], FloatArray],
    distance_to: Callable[[FloatArray], float],
    views: list[ImageBGR],
    threshold: float = float("-inf"),
) -> float | None:
    """The smallest distance (``distance_to``: from the chip's template) of a face found
    (``enrol``: its template; ``FaceError`` when none) in ``views``
    (looked at in turn, stopping at the first that matches at ``threshold``); ``None`` when
    no view holds a face. The page's way up is not known: the portrait is matched in the
    view where it matches best, as ``bench.page_portrait`` calibrates it."""
    best: float | None = None
    for view in views:
        try:
            template = enrol(view)
        except FaceError:
            continue
        distance = distance_to(template)
        best = distance if best is None else min(best, distance)
        if best <= threshold:
            break
    return best


def upright_views(page: ImageBGR) -> list[ImageBGR]:
    """Where to look for the portrait, most likely first: the page straightened by the
    smaller turn (its outline, brighter than the tray, turned square to the picture, long
    side across), the same upside down, then the page as laid. A reader's page lies nearly straight;
    a camera's may lie at any angle, and the face detector wants the face near upright."""
    import cv2
    import numpy as np

    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) if page.ndim == 3 else page
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=cv2.contourArea) if contours else None
    if outline is None or cv2.contourArea(outline) < 0.2 * grey.size:
        return [page, *(np.ascontiguousarray(np.rot90(page, k), np.uint8) for k in (1, 3, 2))]
    (cx, cy), (w, h), angle = cv2.minAreaRect(outline)
    if w < h:  # the page's long side across
        w, h, angle = h, w, angle - 90.0
    angle = (angle + 90.0) % 180.0 - 90.0  # the smaller turn: a page laid straight stays up
    turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    turn[:, 2] += np.array([w / 2 - cx, h / 2 - cy])
    straight: ImageBGR = np.asarray(
        cv2.warpAffine(page, turn, (max(8, round(w)), max(8, round(h)))), np.uint8
    )
    # The long side across: the page is upright or upside down.
    return [straight, np.ascontiguousarray(np.rot90(straight, 2), np.uint8), page]


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
