"""The audit row's liveness column (schema 4): the score, each cue and the challenge, as
numbers; chained, exported and verified; a version-3 log and its exports still verify."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from gate.audit import AuditLog, AuditRecord, chain_key, verify_chain
from gate.audit.export import parse_export
from gate.audit.secret import load_secret
from gate.lane.adapters import evidence_json
from gate.outcome import LivenessEvidence

EVIDENCE = LivenessEvidence(
    score=0.4,
    verdict="inconclusive",
    cues={"motion": 0.21, "texture": 1.0, "moire_peak": float("nan")},
    challenge="turn_left",
    challenge_result="passed",
    challenge_ms=1234.5678,
    challenge_peak=7.25,
)


def _record(n: int, liveness: str | None = None) -> AuditRecord:
    return AuditRecord(
        transaction_id=f"t{n}",
        started_at=1000.0 + n,
        finished_at=1001.0 + n,
        outcome="ACCEPT",
        score=0.3,
        threshold=0.6,
        document_number=f"D{n:08d}",
        liveness=liveness,
    )


def test_the_evidence_is_numbers_and_labels_only() -> None:
    text = evidence_json(EVIDENCE)
    assert text is not None
    data = json.loads(text)
    assert data["cues"] == {"motion": 0.21, "texture": 1.0}  # a NaN cue is left out
    assert data["challenge"] == "turn_left" and data["challenge_result"] == "passed"
    assert data["challenge_ms"] == 1234.5678 and data["score"] == 0.4
    assert evidence_json(None) is None


def test_the_liveness_column_is_chained_exported_and_verified(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog.open(path) as log:
        log.record(_record(1, evidence_json(EVIDENCE)), "decision")
        log.record(_record(2))  # no capture: NULL
        assert log.verify().ok
        rows = list(log.entries())
        json_export, csv_export = log.export("json"), log.export("csv")
    assert json.loads(str(rows[0]["liveness"]))["challenge"] == "turn_left"
    assert rows[1]["liveness"] is None
    assert "D00000001" not in json_export + csv_export
    key = chain_key(load_secret(path.with_suffix(".salt")) or b"")
    for text in (json_export, csv_export):
        assert verify_chain(key, parse_export(text.encode(), "export")).ok
    # a changed cue breaks the chain at its row
    forged = json.loads(json_export)
    forged[0]["liveness"] = forged[0]["liveness"].replace('"motion":0.21', '"motion":0.99')
    report = verify_chain(key, forged)
    assert not report.ok and "row 1" in report.where


def _as_version_3(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE entries DROP COLUMN liveness")
    db.execute("PRAGMA user_version=3")
    db.commit()
    db.close()


def test_a_version_3_log_and_its_export_still_verify_and_migrate(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog.open(path) as log:
        log.record(_record(1))
        log.record(_record(2))
        old_csv = log.export("csv")
    _as_version_3(path)
    # an export written before schema 4: no liveness column
    table = list(csv.reader(io.StringIO(old_csv, newline="")))
    drop = table[0].index("liveness")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [cell for i, cell in enumerate(row) if i != drop] for row in table
    )
    key = chain_key(load_secret(path.with_suffix(".salt")) or b"")
    assert verify_chain(key, parse_export(buffer.getvalue().encode(), "old export")).ok
    old_json = [{k: v for k, v in row.items() if k != "liveness"} for row in json.loads(
        AuditLog.open_readonly(path).export("json"))]  # fmt: skip
    assert verify_chain(key, old_json).ok

    reader = AuditLog.open_readonly(path)  # read as is: liveness read as NULL
    assert reader.verify().ok and all(r["liveness"] is None for r in reader.entries())
    reader.close()
    with AuditLog.open(path) as log:  # migrated: the column is added, the chain goes on
        log.record(_record(3, evidence_json(EVIDENCE)))
        assert log.verify().ok and log.count() == 3
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    db.close()
