"""A bad MRZ is an event (issue 25: a scan with a wrong check digit, or garbage, vanished:
no log line, no audit row, no door move). Now it is a log line, an audit row (the document
unreadable, naming the field, never the value) and a lane event for the console and the
traveller's screen."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from gate.audit import AuditLog
from gate.config import GateConfig, ReaderConfig
from gate.errors import DocumentError
from gate.fakes import FakeLane
from gate.icao.mrz import parse_mrz
from gate.icao.pa import TrustStore
from gate.lane import GateEvent, build_lane
from gate.lane.adapters import AuditLogSink, PassportChipReader
from gate.lane.bad_mrz import PLACE_AGAIN, mrz_problem
from gate.simulate.issue import IssuedPassport
from tests.gate.documents import TD3
from tests.gate.icao.passports import face_jpeg, passport, pki_ecdsa  # noqa: F401

# The specimen TD3 with its document number's check digit (the 10th character of line 2)
# changed from 6 to 7.
LINE1, LINE2 = TD3.splitlines()
BAD_CHECK = LINE1 + "\n" + LINE2[:9] + "7" + LINE2[10:]
SECRETS = ("L898902C3", "ERIKSSON", "740812")  # what no log, audit or event text may hold


def _problem(text: str) -> str:
    with pytest.raises(DocumentError) as caught:
        parse_mrz(text)
    return mrz_problem(caught.value)


def test_the_problem_names_the_field_and_never_the_value() -> None:
    assert _problem(BAD_CHECK) == "check digit of document number does not match"
    assert _problem(LINE1 + "\n" + LINE2.replace("L898", "L8#8")) == (
        "line 2 has a character that is not allowed"
    )
    assert (
        _problem("GARBAGE") == "expected 2 lines of 44 (TD3), 2 of 36 (TD2) or 3 of 30 (TD1), got 7"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("scan", "problem"),
    [
        (BAD_CHECK + "\n", "check digit of document number does not match"),
        ("NOTANMRZ\n\n", "expected 2 lines of 44"),
    ],
)
def test_a_bad_scan_is_logged_audited_and_announced(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    scan: str,
    problem: str,
    passport: IssuedPassport,  # noqa: F811  (the fixture)
) -> None:
    path = tmp_path / "scanner.txt"
    path.write_text(scan)
    # The in-process reader: no pcscd needed (the bad scan never reaches a chip anyway).
    reader = ReaderConfig(address=f"emulator:{passport.folder}", mrz_source=str(path))
    config = GateConfig(reader=reader)
    parts = FakeLane()
    events: list[GateEvent] = []
    with (
        caplog.at_level(logging.INFO),
        AuditLog.open(tmp_path / "audit.db") as audit,
        build_lane(
            config,
            clock=parts.clock,
            chip_reader=PassportChipReader(TrustStore([])),
            biometrics=parts.biometrics,
            camera=parts.camera,
            turnstile=parts.turnstile,
            audit=AuditLogSink(audit),
            observers=(events.append,),
        ) as lane,
    ):
        assert lane.serve(threading.Event(), max_transactions=1) == 1
        rows = list(audit.entries())
    # The log line.
    logged = [r.getMessage() for r in caplog.records if "not a valid MRZ" in r.getMessage()]
    assert len(logged) == 1 and problem.split(" (")[0] in logged[0], caplog.text
    # The audit rows: the document refused as unreadable, the field named.
    assert [(r["kind"], r["outcome"]) for r in rows] == [
        ("decision", "REFER_DOCUMENT"),
        ("result", "REFER_DOCUMENT"),
    ]
    assert "printed MRZ unreadable" in rows[-1]["detail"] and problem in rows[-1]["detail"]
    # The event for the console and the traveller's screen.
    (event,) = [e for e in events if e.kind == "document"]
    assert event.detail == "unreadable" and event.data["prompt"] == PLACE_AGAIN
    assert problem in event.data["problem"]
    texts = [caplog.text, *(str(r["detail"]) for r in rows), *(str(e.data) for e in events)]
    assert not [s for s in SECRETS for text in texts if s in text]
