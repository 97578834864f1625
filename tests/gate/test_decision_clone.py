"""Clone and revocation rules: CA/AA invalid, require_clone_check, revoked and stale CRLs;
the chip_auth column of the audit log, and version-2 logs that predate it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from gate.audit import AuditLog, AuditRecord
from gate.decision import DecisionPolicy, check_document
from gate.outcome import Decision
from tests.gate.documents import MRZ, TODAY, document_read


@pytest.mark.parametrize(
    ("changes", "policy", "reason"),
    [
        ({"chip_auth": "invalid"}, DecisionPolicy(), "chip authentication invalid"),
        ({"chip_auth": "invalid", "active_auth": "not_supported"}, DecisionPolicy(), "chip auth"),
        ({"active_auth": "invalid", "chip_auth": "valid"}, DecisionPolicy(), "active auth"),
        (
            {"active_auth": "not_supported", "chip_auth": "not_supported"},
            DecisionPolicy(require_clone_check=True),
            "neither CA nor AA",
        ),
        ({"passive_auth": "revoked"}, DecisionPolicy(), "revoked"),
        ({"passive_auth": "crl_stale"}, DecisionPolicy(), "next update"),
    ],
)
def test_clone_and_revocation_refer(
    changes: dict[str, object], policy: DecisionPolicy, reason: str
) -> None:
    verdict = check_document(document_read(**changes), MRZ, TODAY, policy)
    assert verdict is not None and verdict.decision is Decision.REFER_DOCUMENT
    assert reason in verdict.reason


STRICT = DecisionPolicy(require_clone_check=True)
LENIENT = DecisionPolicy(refer_on_stale_crl=False)


@pytest.mark.parametrize(
    ("changes", "policy"),
    [
        ({"active_auth": "not_supported", "chip_auth": "not_supported"}, DecisionPolicy()),
        ({"active_auth": "not_supported", "chip_auth": "valid"}, STRICT),
        ({"active_auth": "valid", "chip_auth": "not_supported"}, STRICT),
        ({"passive_auth": "crl_stale"}, LENIENT),
    ],
)
def test_what_may_pass(changes: dict[str, object], policy: DecisionPolicy) -> None:
    assert check_document(document_read(**changes), MRZ, TODAY, policy) is None


def _record(tid: str, chip_auth: str | None) -> AuditRecord:
    now = dt.datetime(2026, 11, 29, tzinfo=dt.timezone.utc).timestamp()
    return AuditRecord(tid, now, now + 1, "REFER_DOCUMENT", chip_auth=chip_auth)


def test_chip_auth_is_audited_and_version_2_logs_still_verify(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    with AuditLog.open(db) as log:
        log.record(_record("t1", None))
    # Turn it into what egate wrote before schema 3: no chip_auth column.
    raw = sqlite3.connect(db)
    raw.execute("ALTER TABLE entries DROP COLUMN chip_auth")
    raw.execute("PRAGMA user_version=2")
    raw.commit()
    raw.close()
    with AuditLog.open_readonly(db) as old:
        assert old.verify().ok and [r["chip_auth"] for r in old.rows()] == [None]
    with AuditLog.open(db) as log:  # upgraded in place
        log.record(_record("t2", "invalid"))
        assert log.verify().ok
        assert [r["chip_auth"] for r in log.rows()] == [None, "invalid"]
    raw = sqlite3.connect(db)
    raw.execute("UPDATE entries SET chip_auth='valid' WHERE transaction_id='t2'")
    raw.commit()
    raw.close()
    with AuditLog.open(db) as log:
        assert not log.verify().ok  # the CA result is covered by the chain
