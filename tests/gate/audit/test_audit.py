"""The audit log: durable rows, hashed document numbers, disk-full errors, export.
The chain, write-ahead decisions and read-only access are in test_audit_chain.py."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gate.audit import AuditLog, AuditRecord, hash_document_number
from gate.cli import main
from gate.errors import AuditError


def _record(n: int, number: str | None = "L898902C3") -> AuditRecord:
    return AuditRecord(
        transaction_id=f"tx-{n}",
        started_at=1_700_000_000.0 + n,
        finished_at=1_700_000_005.0 + n,
        outcome="ACCEPT" if n % 2 else "REFER_CAPTURE",
        score=0.31,
        threshold=0.5,
        pack_id="dlib-cc0",
        document_number=number,
        passive_auth="valid",
        active_auth="not_supported",
        stage_ms={"document": 120.5, "capture": 900.25},
    )


def test_rows_survive_reopen_and_hold_no_raw_document_number(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    with AuditLog.open(db) as log:
        ids = [log.record(_record(i)) for i in range(3)]
        assert ids == sorted(ids)
    with AuditLog.open(db) as log:
        rows = list(log.rows())
        assert [r["transaction_id"] for r in rows] == ["tx-0", "tx-1", "tx-2"]
        assert rows[0]["document_hash"] == log.document_hash("L898902C3")
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("audit.sqlite*"))
        assert b"L898902C3" not in raw
        assert b"dlib-cc0" in raw  # the scan did see the rows
    assert (tmp_path / "audit.salt").stat().st_mode & 0o077 == 0


def test_wal_mode_and_full_sync(tmp_path: Path) -> None:
    with AuditLog.open(tmp_path / "a.sqlite"):
        pass
    con = sqlite3.connect(tmp_path / "a.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_salt_differs_per_installation(tmp_path: Path) -> None:
    with (
        AuditLog.open(tmp_path / "a" / "x.sqlite") as a,
        AuditLog.open(tmp_path / "b" / "x.sqlite") as b,
    ):
        assert a.document_hash("X1234567") != b.document_hash("X1234567")
        assert a.document_hash("x1234567<<") == a.document_hash("X1234567")


def test_hash_is_keyed() -> None:
    assert hash_document_number(b"a" * 32, "A") != hash_document_number(b"b" * 32, "A")


def test_duplicate_transaction_id_is_an_audit_error(tmp_path: Path) -> None:
    with AuditLog.open(tmp_path / "a.sqlite") as log:
        log.record(_record(1))
        with pytest.raises(AuditError, match="tx-1"):
            log.record(_record(1))
        assert log.count() == 1
        log.record(_record(2))  # the log keeps working after a failed write
        assert log.count() == 2


def test_disk_full_is_an_audit_error_and_log_recovers(tmp_path: Path) -> None:
    with AuditLog.open(tmp_path / "a.sqlite") as log:
        log.record(_record(0))
        log.limit_pages(log.page_count())  # the "disk" is now full
        big = AuditRecord(**{**_record(1).__dict__, "detail": "x" * 200_000})
        with pytest.raises(AuditError, match="full"):
            log.record(big)
        assert log.count() == 1
        log.limit_pages(None)
        log.record(_record(2))
        assert log.count() == 2


def test_corrupt_salt_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.salt").write_bytes(b"short")
    with pytest.raises(AuditError, match="a.salt"):
        AuditLog.open(tmp_path / "a.sqlite")


def test_not_a_database_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AuditError, match="bad.sqlite"):
        AuditLog.open(bad)


def test_export_csv_and_json_with_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.sqlite"
    with AuditLog.open(db) as log:
        for i in range(4):
            log.record(_record(i))
    assert (
        main(["audit", "export", "--db", str(db), "--format", "json", "--since", "1700000002"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["transaction_id"] for r in rows] == ["tx-2", "tx-3"]
    # stage_ms stays the stored text: the chain's MAC covers those exact bytes.
    assert json.loads(rows[0]["stage_ms"]) == {"capture": 900.25, "document": 120.5}
    assert all(r["kind"] == "result" and len(r["mac"]) == 64 for r in rows)
    assert main(["audit", "export", "--db", str(db), "--since", "2023-11-14T22:13:21"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["transaction_id"] for r in table] == ["tx-1", "tx-2", "tx-3"]


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "none.sqlite: No such file or directory" in capsys.readouterr().err
    db = tmp_path / "a.sqlite"
    AuditLog.open(db).close()
    assert main(["audit", "export", "--db", str(db), "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err


def test_sigkill_during_writes_loses_no_committed_row(tmp_path: Path) -> None:
    """A writer killed with SIGKILL: every row it reported committed is there, intact."""
    db = tmp_path / "audit.sqlite"
    script = textwrap.dedent(
        f"""
        import sys
        from gate.audit import AuditLog, AuditRecord
        log = AuditLog.open({str(db)!r})
        i = 0
        while True:
            log.record(AuditRecord(transaction_id=f"k-{{i}}", started_at=i, finished_at=i,
                                   outcome="ACCEPT", document_number="X{{i}}",
                                   stage_ms={{"a": i}}))
            print(i, flush=True)
            i += 1
        """
    )
    for _round in range(3):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        committed = []
        for line in proc.stdout:
            committed.append(int(line))
            if len(committed) >= 20 + 7 * _round:
                break
        proc.kill()
        proc.wait()
        with AuditLog.open(db) as log:
            ids = {str(r["transaction_id"]) for r in log.rows()}
        assert {f"k-{i}" for i in committed} <= ids
        db_con = sqlite3.connect(db)
        assert db_con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db_con.close()
        db.rename(tmp_path / f"round{_round}.sqlite")
