"""The officer's queue: document referrals carry the document data (number masked, held
in memory only), each card its priority; the console's store never holds them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.lane.work import document_view
from gate.transaction import DocumentRead
from tests.gate.console.apps import ConsoleWithLane, wait_for


@pytest.fixture
def made(tmp_path: Path) -> Iterator[ConsoleWithLane]:
    with ConsoleWithLane(tmp_path, state=tmp_path / "state") as console:
        yield console


def test_a_document_referral_shows_the_document_with_its_number_masked(
    made: ConsoleWithLane, tmp_path: Path
) -> None:
    made.fake.traveller("expired")
    tx = made.lane.serve_one(1.0)
    assert tx is not None and tx.decision.value == "REFER_DOCUMENT"
    officer, _ = made.client("olga")

    assert wait_for(lambda: bool(officer.get("/api/referrals").json()["referrals"]))
    card = officer.get("/api/referrals").json()["referrals"][0]
    document = card["document"]
    number = tx.document_number or ""
    assert number and document["number"].endswith(number[-2:])
    assert number not in officer.get("/api/referrals").text
    assert document["expiry"][:2] == "20" and document["name"] == "FAKE, EXPIRED-1"
    assert card["priority"] == 3
    for path in (tmp_path / "state").iterdir():
        assert number.encode() not in path.read_bytes()
        assert document["name"].split(",")[0].encode() not in path.read_bytes()
    assert "page_mrz" not in document  # a typed MRZ: no page was checked
    # Issue 22: a genuine chip under a page showing another face; the card shows both checks.
    made.fake.traveller("substituted_photo")
    tx = made.lane.serve_one(1.0)
    assert tx is not None and tx.decision.value == "REFER_DOCUMENT"
    assert wait_for(lambda: len(officer.get("/api/referrals").json()["referrals"]) == 2)
    (card,) = [c for c in officer.get("/api/referrals").json()["referrals"]
               if c["reason"] == "page portrait does not match the chip photo (DG2)"]  # fmt: skip
    assert card["document"]["page_mrz"] == "matches the chip"
    assert card["document"]["page_portrait"].startswith("differs from the chip (distance ")


def test_the_document_view_masks_all_but_two_and_refuses_garbage() -> None:
    td3 = (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    )
    read = DocumentRead("L898902C3", "120415", "\n".join(td3), None, "valid")
    assert document_view(read) == {
        "type": "P",
        "issuing_state": "UTO",
        "name": "ERIKSSON, ANNA MARIA",
        "nationality": "UTO",
        "expiry": "2012-04-15",
        "number": "*******C3",
    }
    garbled = DocumentRead("123456789", "991231", "not an MRZ", None, "valid")
    assert document_view(garbled) == {"expiry": "2099-12-31", "number": "*******89"}


def test_the_shift_report_counts_what_each_lane_and_officer_did(made: ConsoleWithLane) -> None:
    made.traveller("genuine")
    tid = made.traveller("tailgater")
    officer, csrf = made.client("olga")
    body = {"decision": "refuse", "reason": "walk back"}
    headers = {"X-CSRF-Token": csrf}
    path = f"/api/referrals/{tid}/decision"
    assert officer.post(path, json=body, headers=headers).status_code == 202
    assert officer.get("/api/report").status_code == 403  # supervisors and auditors only
    auditor, _ = made.client("ada")
    lane = auditor.get("/api/report", params={"hours": "1"}).json()["lanes"]["lane-1"]
    assert lane["travellers"] == 2
    assert lane["outcomes"] == {"ACCEPT": 1, "TAILGATING": 1}
    assert lane["decisions"] == {"olga refuse": 1}
    assert lane["alarms"] == 1 and lane["acknowledged"] == 0
    text = auditor.get("/api/report", params={"format": "csv"}).text
    assert "lane-1,outcome TAILGATING,1" in text.replace("\r", "")
    assert auditor.get("/api/report", params={"hours": "0"}).status_code == 422
