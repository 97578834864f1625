"""Signed chain heads (checkpoints): written every N rows and on close, atomically and
privately; ``egate audit verify --checkpoint FILE`` names rows cut off at the end of a
database, and a chain rewritten after the head; a log shorter than its head is refused
when a writer opens it; a SIGKILLed writer's head never covers a row it had not committed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gate.audit import AuditLog, AuditRecord, Checkpointing, head_key, read_head
from gate.audit.secret import load_secret
from gate.cli import main
from gate.errors import AuditError


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        transaction_id=f"tx-{n}",
        started_at=1_700_000_000.0 + n,
        finished_at=1_700_000_003.0 + n,
        outcome="ACCEPT",
        score=0.2,
        threshold=0.5,
        stage_ms={"document": 100.0},
    )


def _write(db: Path, count: int, every: int = 5, first: int = 0) -> None:
    with AuditLog.open(db, checkpoint=Checkpointing("lane-7", every=every)) as log:
        for n in range(first, first + count):
            log.record(_record(n))


def _verify(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", *argv])
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert "Traceback" not in text and "\n" not in text, text
    return code, text


def _head_of(db: Path) -> tuple[int, str]:
    secret = load_secret(db.with_suffix(".salt"))
    assert secret is not None
    head = read_head(db.with_suffix(".head"), head_key(secret))
    return head.rows, head.lane


def test_a_head_is_written_every_n_rows_and_on_close(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with AuditLog.open(db, checkpoint=Checkpointing("lane-7", every=5)) as log:
        for n in range(4):
            log.record(_record(n))
        assert not db.with_suffix(".head").exists()
        for n in range(4, 12):
            log.record(_record(n))
        assert _head_of(db) == (10, "lane-7")
    assert _head_of(db) == (12, "lane-7")  # the shutdown head
    assert db.with_suffix(".head").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.db", "audit.head", "audit.salt"]


def test_deleted_newest_rows_are_named_by_the_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.db"
    _write(db, 20)
    head = str(db.with_suffix(".head"))
    assert _verify(["--db", str(db), "--checkpoint", head], capsys)[0] == 0
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM entries WHERE id > 17")
    con.close()
    code, text = _verify(["--db", str(db)], capsys)
    assert (code, text) == (0, "audit chain intact: 17 rows")  # the chain alone cannot tell
    code, text = _verify(["--db", str(db), "--checkpoint", head], capsys)
    assert code == 1
    assert text.startswith(
        "audit chain broken: rows 18-20 missing after row 17: the checkpoint of "
    )
    assert text.endswith("(lane lane-7) covers 20 rows")


def test_every_row_deleted_is_named_by_the_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.db"
    _write(db, 3)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM entries")
    con.close()
    code, text = _verify(["--db", str(db), "--checkpoint", str(db.with_suffix(".head"))], capsys)
    assert code == 1 and "rows 1-3 missing (the log holds no row)" in text


def test_a_writer_refuses_a_log_shorter_than_its_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    _write(db, 6)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM entries WHERE id = 6")
    con.close()
    with pytest.raises(AuditError, match=r"holds 5 rows and does not match the checkpoint of"):
        AuditLog.open(db)


def test_a_chain_rewritten_after_its_checkpoint_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An insider with the secret cuts the log and writes new rows in their place: the chain
    is valid, but its row 6 is not the one the earlier checkpoint signed."""
    db = tmp_path / "audit.db"
    _write(db, 6)
    kept = tmp_path / "published.head"
    db.with_suffix(".head").rename(kept)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM entries WHERE id > 3")
    con.close()
    _write(db, 3, first=100)
    assert _verify(["--db", str(db)], capsys) == (0, "audit chain intact: 6 rows")
    code, text = _verify(["--db", str(db), "--checkpoint", str(kept)], capsys)
    assert code == 1 and text.startswith("audit chain broken at row 6 (transaction tx-102): ")
    assert "differs from the checkpoint of" in text and "the chain was rewritten" in text


def test_a_forged_or_foreign_checkpoint_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.db"
    _write(db, 4)
    head = db.with_suffix(".head")
    data = json.loads(head.read_text())
    data["rows"] = 3  # a head that would hide the newest row
    forged = tmp_path / "forged.head"
    forged.write_text(json.dumps(data))
    code, text = _verify(["--db", str(db), "--checkpoint", str(forged)], capsys)
    assert code == 1 and "its signature does not match this log's key" in text
    other = tmp_path / "other" / "audit.db"
    _write(other, 4)
    code, text = _verify(["--db", str(db), "--checkpoint", str(other.with_suffix(".head"))], capsys)
    assert code == 1 and "its signature does not match" in text


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000, "over the 4096-byte limit"),
        (b"[" * 3000, "nested 3000 levels deep"),
        (b'{"rows": 1}', "not a checkpoint"),
        (b"9" * 4000, "not a checkpoint"),
        (None, "FIFO"),
    ],
)
def test_a_checkpoint_that_is_not_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, said: str
) -> None:
    db = tmp_path / "audit.db"
    _write(db, 2)
    bad = tmp_path / "bad.head"
    if content is None:
        os.mkfifo(bad)
    else:
        bad.write_bytes(content)
    code, text = _verify(["--db", str(db), "--checkpoint", str(bad)], capsys)
    assert code == 2 and said in text


def test_a_planted_symlink_at_the_checkpoint_is_replaced_not_followed(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    with AuditLog.open(db, checkpoint=Checkpointing("lane-7", every=2)) as log:
        log.record(_record(0))
        (tmp_path / "audit.head").symlink_to(target)  # planted while the gate runs
        log.record(_record(1))
    assert target.read_text() == "keep me"
    assert not (tmp_path / "audit.head").is_symlink() and _head_of(db) == (2, "lane-7")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.db",
        "audit.head",
        "audit.salt",
        "elsewhere",
    ]  # no temporary file left


def test_a_sigkilled_writer_leaves_a_checkpoint_that_its_rows_satisfy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.db"
    script = textwrap.dedent(
        f"""
        from gate.audit import AuditLog, AuditRecord, Checkpointing
        log = AuditLog.open({str(db)!r}, checkpoint=Checkpointing("k", every=3))
        i = 0
        while True:
            log.record(AuditRecord(transaction_id=f"k-{{i}}", started_at=i, finished_at=i,
                                   outcome="ACCEPT"))
            print(i, flush=True)
            i += 1
        """
    )
    head = str(db.with_suffix(".head"))
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for count, _line in enumerate(proc.stdout, start=1):
            if count >= 10 + 4 * round_:
                break
        proc.kill()
        proc.wait()
        code, text = _verify(["--db", str(db), "--checkpoint", head], capsys)
        assert code == 0 and "the checkpoint of" in text, text


def test_the_kiosk_config_names_the_checkpoint_file_and_its_period(tmp_path: Path) -> None:
    from gate.config import config_from_mapping

    config = config_from_mapping(
        {"audit": {"checkpoint_path": "heads/a.head", "checkpoint_every": 7}}, tmp_path
    )
    assert config.audit.checkpoint_path == tmp_path / "heads" / "a.head"
    assert config.audit.checkpoint_every == 7
    (tmp_path / "heads").mkdir()
    settings = Checkpointing(config.lane.name, config.audit.checkpoint_path, 7)
    with AuditLog.open(tmp_path / "audit.db", checkpoint=settings) as log:
        for n in range(7):
            log.record(_record(n))
        assert config.audit.checkpoint_path.exists()
    with pytest.raises(AuditError, match=r"audit\.checkpoint_every: 0 must be >= 1"):
        AuditLog.open(tmp_path / "audit.db", checkpoint=Checkpointing(every=0))


def test_each_head_is_handed_to_a_publisher_and_a_failing_one_fails_no_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published: list[str] = []
    db = tmp_path / "audit.db"
    with AuditLog.open(
        db, checkpoint=Checkpointing("lane-2", every=2, publish=published.append)
    ) as log:
        for n in range(5):
            log.record(_record(n))
    assert [json.loads(h)["rows"] for h in published] == [2, 4, 5]
    kept = tmp_path / "console-copy.head"  # what a console would keep from the broker
    kept.write_text(published[-1])
    assert _verify(["--db", str(db), "--checkpoint", str(kept)], capsys)[0] == 0

    def broken(_head: str) -> None:
        raise ConnectionError("broker gone")

    with AuditLog.open(db, checkpoint=Checkpointing(every=1, publish=broken)) as log:
        assert log.record(_record(9)) == 6
    assert _head_of(db)[0] == 6
