"""Page and chip must agree (issue 22): the page's MRZ read by OCR, then compared with DG1 by
field; the printed portrait compared with DG2; a bad page refers and asks for the passport
again. Over the in-memory fakes (the OCR stubbed), and the real OCR on one rendered page."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gate.fakes import FakeLane, fake_photo
from gate.icao.mrz import Mrz, format_td3
from gate.lane import GateEvent
from gate.lane.bad_mrz import PLACE_AGAIN, UnreadableMrz
from gate.lane.document_stage import read_page_mrz
from gate.lane.page_check import (
    NO_PORTRAIT_REASON,
    PAGE_MRZ_REASON,
    PORTRAIT_REASON,
    mrz_differences,
)
from gate.outcome import Decision, Transaction
from gate.simulate.travellers import ALTERED_SURNAME, altered_name
from gate.transaction import CaptureOutcome, DocumentRead, PresentedDocument
from gate.types import ImageBGR


class _Transport:
    def __init__(self) -> None:
        self.closed = False

    def transmit(self, apdu: bytes) -> bytes:  # pragma: no cover - the chip is never reached
        raise AssertionError("the chip must not be read")

    def close(self) -> None:
        self.closed = True


def _mrz() -> Mrz:
    return format_td3(surname="HOLDER", given_names="PAGE", document_number="L898902C3",
                      issuing_state="UTO", nationality="UTO", birth_date="740812", sex="F",
                      expiry_date="351231")  # fmt: skip


def _serve(
    page_mrz: str | Exception,
    page: ImageBGR,
    chip: Mrz,
    transport: _Transport | None = None,
) -> tuple[Transaction, list[GateEvent], FakeLane]:
    """One traveller whose page is ``page`` (its MRZ read as ``page_mrz`` by the stubbed
    OCR), on a chip holding ``chip`` and identity 1's photo; the live face is identity 1."""
    lane = FakeLane()
    events: list[GateEvent] = []
    gate = lane.build(observers=(events.append,))
    read: list[ImageBGR] = []

    def ocr(image: ImageBGR) -> str:
        read.append(image)
        if isinstance(page_mrz, Exception):
            raise page_mrz
        return page_mrz

    gate.document_stage.read_mrz = ocr
    gate.start()
    lane.chip.answers["page"] = DocumentRead(
        document_number=chip.document_number, expiry_date=chip.expiry_date, dg1_mrz=chip.text,
        photo=fake_photo(1), passive_auth="valid", active_auth="valid", chip_auth="valid",
    )  # fmt: skip
    lane.biometrics.script.append(CaptureOutcome("ok", (np.eye(16, dtype=np.float32)[1],),
                                                 liveness=0.9, quality=0.8))  # fmt: skip
    lane.documents.present(PresentedDocument("", transport, "page", page=page))
    tx = gate.serve_one(0.1)
    assert tx is not None
    assert read and read[0] is page  # the page itself went to the OCR
    return tx, events, lane


def test_a_genuine_page_is_read_then_accepted_with_both_checks_shown() -> None:
    tx, events, _ = _serve(_mrz().text, fake_photo(1), _mrz())
    assert tx.decision is Decision.ACCEPT, tx.detail
    assert {"page_ocr", "page_portrait", "document"} <= set(tx.stage_ms)
    assert tx.stage_ms["document"] >= tx.stage_ms["page_ocr"]
    checks = {e.detail: e.data for e in events if e.kind == "document"}
    assert checks["page mrz"]["page_mrz"] is True
    assert checks["page portrait"]["matches"] is True


def test_a_substituted_portrait_refers_and_the_card_shows_why() -> None:
    tx, events, lane = _serve(_mrz().text, fake_photo(2), _mrz())
    assert tx.decision is Decision.REFER_DOCUMENT
    assert tx.detail == PORTRAIT_REASON
    assert lane.audit.records[0].detail == PORTRAIT_REASON
    (referral,) = [e for e in events if e.kind == "referral"]
    document = referral.data["document"]
    assert document["page_mrz"] == "matches the chip"
    assert document["page_portrait"].startswith("differs from the chip (distance ")
    assert not any(e.kind == "capture" for e in events)  # referred before the face stage


def test_a_page_mrz_naming_another_holder_refers_by_field_never_by_value() -> None:
    chip = _mrz()
    tx, events, lane = _serve(altered_name(chip).text, fake_photo(1), chip)
    assert tx.decision is Decision.REFER_DOCUMENT
    assert tx.detail == f"{PAGE_MRZ_REASON} (surname)"
    (referral,) = [e for e in events if e.kind == "referral"]
    assert referral.data["document"]["page_mrz"] == "differs from the chip (surname)"
    recorded = lane.audit.records[0]
    for value in (ALTERED_SURNAME, chip.surname, chip.document_number):
        assert value not in recorded.detail
        assert all(value not in e.detail for e in events)


def test_an_unreadable_page_refers_and_asks_for_the_passport_again() -> None:
    transport = _Transport()
    problem = UnreadableMrz("no MRZ found on the page")
    tx, events, lane = _serve(problem, fake_photo(1), _mrz(), transport)
    assert tx.decision is Decision.REFER_DOCUMENT
    assert tx.detail == "document: page MRZ unreadable (no MRZ found on the page)"
    assert not tx.fail_safe
    (unreadable,) = [e for e in events if e.kind == "document"]
    assert unreadable.detail == "unreadable" and unreadable.data["prompt"] == PLACE_AGAIN
    assert transport.closed  # the chip's handle went back unread
    assert lane.turnstile.locked


def test_a_page_without_a_face_refers() -> None:
    tx, _, _ = _serve(_mrz().text, fake_photo(0, face=False), _mrz())
    assert tx.decision is Decision.REFER_DOCUMENT
    assert tx.detail == NO_PORTRAIT_REASON


def test_the_fields_that_differ_are_named() -> None:
    chip = _mrz()
    assert mrz_differences(chip.text, chip.text) == ()
    assert mrz_differences(altered_name(chip).text, chip.text) == ("surname",)
    other = replace(chip, lines=(chip.lines[0], chip.lines[1][:20] + "M" + chip.lines[1][21:]))
    assert mrz_differences(other.text, chip.text) == ("sex",)
    assert mrz_differences("not an MRZ", chip.text) == ("mrz",)


@pytest.fixture(scope="module")
def rendered() -> ImageBGR:
    from gate.page import render_page

    return render_page(_mrz(), fake_photo(1, size=64)).image


def test_the_real_ocr_reads_a_rendered_page_and_refuses_a_blank_one(rendered: ImageBGR) -> None:
    assert read_page_mrz(rendered) == _mrz().text
    with pytest.raises(UnreadableMrz, match="no MRZ found on the page"):
        read_page_mrz(np.full((400, 600, 3), 200, np.uint8))


def test_a_page_laid_across_is_straightened_before_the_face_is_looked_for(
    rendered: ImageBGR,
) -> None:
    from gate.lane import upright_views
    from gate.page import Degradation, degrade

    across = degrade(rendered, np.random.default_rng(0), Degradation(rotation=97.0))
    assert across.shape[0] > across.shape[1]  # laid across: taller than wide
    straight = upright_views(across)[0]
    height, width = straight.shape[:2]
    assert width > height
    assert abs(width / height - rendered.shape[1] / rendered.shape[0]) < 0.05
