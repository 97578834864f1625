"""The lane's document read: the data page's MRZ read by OCR when the reader handed over a
page image (``PresentedDocument.page``), then the chip opened with that MRZ and read.

A page on which no valid MRZ is found, like a scan whose MRZ does not parse, refers the
traveller (``REFER_DOCUMENT``) with a ``document`` event ``unreadable`` that asks the
traveller to place the passport again; the chip is then not touched. The stage's time
(``stage_ms["document"]``) covers both the OCR and the chip; ``page_ocr`` is the OCR alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from gate.clock import Clock
from gate.decision import Verdict
from gate.lane.bad_mrz import PLACE_AGAIN, UnreadableMrz
from gate.lane.events import EventBus
from gate.lane.ports import ChipReader
from gate.lane.work import StageStop, TransactionWork
from gate.outcome import Decision
from gate.transaction import DocumentRead, PresentedDocument
from gate.types import ImageBGR

log = logging.getLogger("gate.lane")

# Reads a page's MRZ: its text when every check digit holds; raises UnreadableMrz otherwise.
PageReader = Callable[[ImageBGR], str]


def read_page_mrz(image: ImageBGR) -> str:
    """The MRZ on a page image by ``gate.page``'s OCR; ``UnreadableMrz`` naming what was
    wrong (never a character of it) when none is found or its check digits fail."""
    from gate.page import MrzNotFoundError, read_mrz

    try:
        reading = read_mrz(image)
    except MrzNotFoundError as exc:
        raise UnreadableMrz("no MRZ found on the page") from exc
    except Exception as exc:  # a picture the OCR cannot take: the page is bad, not the lane
        raise UnreadableMrz(f"page not readable ({type(exc).__name__})") from exc
    if not reading.valid:
        raise UnreadableMrz("the page's MRZ check digits do not match")
    return reading.text


class DocumentStage:
    """Reads the presented document for ``Lane``: page OCR (when a page came), then the chip."""

    def __init__(self, bus: EventBus, clock: Clock, limit_s: Callable[[], float]) -> None:
        self._bus = bus
        self._clock = clock
        self._limit_s = limit_s  # the lane's timeouts.document_s, read at each traveller
        self.read_mrz: PageReader = read_page_mrz

    def warm_up(self) -> None:
        """Load the OCR (its imports and model) now, before the first traveller's page: a
        lane whose pages come as images calls it once at start."""
        import numpy as np

        with contextlib.suppress(UnreadableMrz):
            self.read_mrz(np.full((64, 96, 3), 255, np.uint8))

    def read(
        self, document: PresentedDocument, work: TransactionWork, chip_reader: ChipReader
    ) -> tuple[PresentedDocument, DocumentRead]:
        """The document with its printed MRZ (read from the page if need be) and what the
        chip gave; raises ``StageStop`` with the verdict when either cannot be read."""
        started = self._clock.now()
        try:
            document = self._page_mrz(document, work)
            doc = work.run("document", lambda: chip_reader.read(document, self._clock.wall()))
        except StageStop as stop:  # a bad scan: the traveller's screen asks for it again
            if isinstance(bad := stop.__cause__, UnreadableMrz):
                self._bus.emit("document", work.transaction_id, "unreadable", problem=bad.problem,
                               prompt=PLACE_AGAIN)  # fmt: skip
            work.timed("document", started)
            raise
        work.note_document(doc)
        if work.timed("document", started) > self._limit_s():
            raise StageStop(Verdict(Decision.TIMEOUT, "document read ran past its time limit"))
        return document, doc

    def _page_mrz(self, document: PresentedDocument, work: TransactionWork) -> PresentedDocument:
        if document.page is None or document.printed_mrz:
            return document
        started = self._clock.now()
        try:
            text = self.read_mrz(document.page)
        except UnreadableMrz as exc:
            if document.transport is not None:  # the chip is not read: its handle goes back
                document.transport.close()
            log.warning("page: %s", exc.problem)
            reason = f"document: page MRZ unreadable ({exc.problem})"
            raise StageStop(Verdict(Decision.REFER_DOCUMENT, reason)) from exc
        finally:
            work.timed("page_ocr", started)
        return replace(document, printed_mrz=text)
