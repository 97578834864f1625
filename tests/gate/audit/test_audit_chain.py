"""The audit chain: decisions written ahead, results appended, every row chained by a MAC;
``egate audit verify`` names the first row that was changed, deleted, inserted or moved;
export and verify open the database read-only."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from gate.audit import AuditLog, AuditRecord
from gate.cli import main
from gate.errors import AuditError


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        transaction_id=f"tx-{n}",
        started_at=1_700_000_000.0 + n,
        finished_at=1_700_000_004.0 + n,
        outcome="ACCEPT",
        score=0.25 + n / 100,
        threshold=0.5344,
        pack_id="dlib-cc0",
        document_number=f"L{n:08d}",
        passive_auth="valid",
        active_auth="valid",
        stage_ms={"document": 120.5 + n},
        detail="face verified",
    )


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    db = tmp_path / "audit.db"
    with AuditLog.open(db) as log:
        for n in range(5):
            log.record(_record(n), kind="decision")
            log.record(_record(n), kind="result")
    return db


def _verify(db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--db", str(db)])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).strip()


def _raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)  # the attacker's own tool


def test_untouched_log_verifies(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _verify(log_path, capsys)
    assert code == 0 and text == "audit chain intact: 10 rows"
    with AuditLog.open(log_path) as log:
        assert log.count() == 5
        assert [r["kind"] for r in log.rows()] == ["result"] * 5


def test_a_changed_score_is_named(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _raw(log_path).execute("UPDATE entries SET score = 0.01 WHERE id = 6")
    code, text = _verify(log_path, capsys)
    assert code == 1
    assert text.startswith("audit chain broken at row 6 (transaction tx-2)")


def test_a_deleted_row_is_named(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _raw(log_path).execute("DELETE FROM entries WHERE id = 4")
    code, text = _verify(log_path, capsys)
    assert code == 1 and "row 5 " in text and "missing (deleted)" in text


def test_two_swapped_rows_are_named(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    con = _raw(log_path)
    con.execute("UPDATE entries SET id = -3 WHERE id = 3")
    con.execute("UPDATE entries SET id = 3 WHERE id = 4")
    con.execute("UPDATE entries SET id = 4 WHERE id = -3")
    code, text = _verify(log_path, capsys)
    assert code == 1 and text.startswith("audit chain broken at row 3 ")


def test_an_inserted_row_with_a_forged_mac_is_named(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    con = _raw(log_path)
    columns = [r[1] for r in con.execute("PRAGMA table_info(entries)")]
    values = con.execute("SELECT * FROM entries WHERE id = 7").fetchone()
    row = dict(zip(columns, values, strict=True))
    # Make room after row 7: 8, 9, 10 become 9, 10, 11 (through negatives: ids are unique).
    con.execute("UPDATE entries SET id = -id - 1 WHERE id >= 8")
    con.execute("UPDATE entries SET id = -id WHERE id < 0")
    forged = {**row, "id": 8, "transaction_id": "tx-forged", "kind": "decision", "mac": "ab" * 32}
    con.execute(
        f"INSERT INTO entries ({', '.join(forged)}) VALUES ({', '.join('?' for _ in forged)})",
        list(forged.values()),
    )
    code, text = _verify(log_path, capsys)
    assert code == 1 and text.startswith("audit chain broken at row 8 (transaction tx-forged)")


def test_export_carries_the_chain_and_a_copy_verifies(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export.json"
    assert main(["audit", "export", "--db", str(log_path), "--format", "json", "-o", str(out)]) == 0
    salt = str(log_path.with_suffix(".salt"))
    assert main(["audit", "verify", "--export", str(out), "--salt", salt]) == 0
    rows = json.loads(out.read_text())
    rows[3]["outcome"] = "REFER_DOCUMENT"
    out.write_text(json.dumps(rows))
    capsys.readouterr()
    assert main(["audit", "verify", "--export", str(out), "--salt", salt]) == 1
    assert "row 4 " in capsys.readouterr().out


def test_export_is_read_only_and_needs_only_the_database(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An auditor's copy: the database alone, in a folder nobody may write to.
    copy = tmp_path / "copy"
    copy.mkdir()
    with sqlite3.connect(log_path) as source, sqlite3.connect(copy / "audit.db") as target:
        source.backup(target)
    before = sorted(p.name for p in copy.iterdir())
    mtime = (copy / "audit.db").stat().st_mtime_ns
    copy.chmod(0o500)
    (copy / "audit.db").chmod(0o400)
    try:
        assert main(["audit", "export", "--db", str(copy / "audit.db"), "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert len(rows) == 10
        # Without the secret it cannot verify, and says so in one line.
        assert main(["audit", "verify", "--db", str(copy / "audit.db")]) == 2
        assert "not readable: cannot verify" in capsys.readouterr().err
    finally:
        copy.chmod(0o700)
    assert sorted(p.name for p in copy.iterdir()) == before  # no salt, no -wal, no -shm
    assert (copy / "audit.db").stat().st_mtime_ns == mtime


def test_export_refuses_a_database_that_is_not_an_audit_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE customers (name TEXT)")
    before = other.read_bytes()
    assert main(["audit", "export", "--db", str(other)]) == 2
    err = capsys.readouterr().err
    assert "is not an egate audit log" in err and err.count("\n") == 1
    assert other.read_bytes() == before
    assert not other.with_suffix(".salt").exists()


def test_export_refuses_a_folder_as_output(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "export", "--db", str(log_path), "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_read_only_log_refuses_to_write(log_path: Path) -> None:
    with AuditLog.open_readonly(log_path) as log, pytest.raises(AuditError, match="read-only"):
        log.record(_record(9))


def test_the_secret_file_is_private_and_not_followed_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "audit.salt").symlink_to(target)
    with pytest.raises(AuditError, match=r"audit\.salt"):
        AuditLog.open(tmp_path / "audit.db")
    assert not target.exists()
    os.unlink(tmp_path / "audit.salt")
    with AuditLog.open(tmp_path / "audit.db"):
        pass
    assert (tmp_path / "audit.salt").stat().st_mode & 0o077 == 0


@pytest.mark.timeout(20)
def test_verify_refuses_a_fifo_without_opening_it(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)
    salt = str(log_path.with_suffix(".salt"))
    assert main(["audit", "verify", "--export", str(fifo), "--salt", salt]) == 2
    assert "FIFO" in capsys.readouterr().err
