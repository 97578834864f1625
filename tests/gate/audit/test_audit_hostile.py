"""Hostile input to ``egate audit export`` and ``egate audit verify`` (issue 23): forged
exports whose ids are text or floats, a FIFO or a folder as the salt file, BLOB and
non-ASCII fields, JSON nested 100,000 deep or with 5,000-digit numbers, empty and truncated
copies. Each answer is one line: exit 1 when the chain is shown broken, 2 when the input
cannot be used; never a traceback, never a hang, never "intact"."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from gate.audit import AuditLog, AuditRecord
from gate.cli import main


def _record(n: int) -> AuditRecord:
    return AuditRecord(
        transaction_id=f"tx-{n}",
        started_at=1_700_000_000.0 + n,
        finished_at=1_700_000_004.0 + n,
        outcome="REFER_CAPTURE",
        score=0.61,
        threshold=0.5344,
        pack_id="dlib-cc0",
        document_number=f"L{n:08d}",
        passive_auth="valid",
        stage_ms={"document": 120.5 + n},
        detail="no live face",
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with AuditLog.open(path) as log:
        for n in range(1, 4):
            log.record(_record(n), kind="decision")
            log.record(_record(n), kind="result")
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert "Traceback" not in text and text.count("\n") == 0, text
    return code, text


def _export(db: Path, tmp_path: Path, fmt: str = "json") -> Path:
    out = tmp_path / f"export.{fmt}"
    assert main(["audit", "export", "--db", str(db), "--format", fmt, "-o", str(out)]) == 0
    return out


def _verify_export(
    export: Path, db: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    salt = str(db.with_suffix(".salt"))
    return _run(["audit", "verify", "--export", str(export), "--salt", salt, *extra], capsys)


@pytest.mark.parametrize("forged_id", ["5", 5.0, True, None, [5], {"id": 5}])
def test_a_forged_row_with_an_id_of_another_type_is_broken_not_intact(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], forged_id: object
) -> None:
    export = _export(db, tmp_path)
    rows = json.loads(export.read_text())
    rows[4]["outcome"], rows[4]["id"] = "ACCEPT", forged_id
    export.write_text(json.dumps(rows))
    code, text = _verify_export(export, db, capsys)
    assert code == 1 and text.startswith("audit chain broken at row #5 in order: field id is")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_salt_beside_the_database_that_is_a_fifo_or_a_folder_is_refused_unopened(
    db: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    salt = db.with_suffix(".salt")
    salt.unlink()
    if kind == "fifo":
        os.mkfifo(salt)
    else:
        salt.mkdir()
    for argv in (["audit", "verify", "--db", str(db)], ["audit", "export", "--db", str(db)]):
        code, text = _run(argv, capsys)
        assert code == 2 and "audit.salt" in text
        assert ("FIFO" if kind == "fifo" else "directory") in text
    with pytest.raises(Exception, match="FIFO" if kind == "fifo" else "directory"):
        AuditLog.open(db)


def _tamper(db: Path, sql: str, *params: object) -> None:
    con = sqlite3.connect(db, isolation_level=None)  # the attacker's own tool
    con.execute(sql, params)
    con.close()


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("detail", b"\x00\xffblob", "field detail is a BLOB (6 bytes)"),
        ("mac", "é" * 64, "field mac is text with non-ASCII characters"),
        ("outcome", b"ACCEPT", "field outcome is a BLOB (6 bytes)"),
        ("started_at", "yesterday", "field started_at is text"),  # REAL keeps what is not numeric
    ],
)
def test_a_field_of_the_wrong_type_in_the_database_is_named_with_its_row(
    db: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, named: str
) -> None:
    _tamper(db, f"UPDATE entries SET {field} = ? WHERE id = 4", value)
    code, text = _run(["audit", "verify", "--db", str(db)], capsys)
    assert code == 1 and text.startswith("audit chain broken at row 4 (transaction tx-2): ")
    assert named in text


def test_text_that_is_not_utf8_in_the_database_is_named(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(db, "UPDATE entries SET detail = CAST(X'FF00FE' AS TEXT) WHERE id = 2")
    code, text = _run(["audit", "verify", "--db", str(db)], capsys)
    assert code == 1 and "row 2 " in text and "field detail is text that is not UTF-8" in text
    code, text = _run(["audit", "export", "--db", str(db), "--format", "json"], capsys)
    assert code == 2 and "row #2 in order, field detail" in text


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_exporting_a_blob_detail_is_one_line_naming_row_and_field(
    db: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    _tamper(db, "UPDATE entries SET detail = ? WHERE id = 3", b"\x00\x01")
    code, text = _run(["audit", "export", "--db", str(db), "--format", fmt], capsys)
    assert code == 2 and "row #3 in order, field detail is a BLOB (2 bytes)" in text


def test_a_non_ascii_mac_or_a_blob_like_value_in_an_export_is_named(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(db, tmp_path)
    rows = json.loads(export.read_text())
    rows[1]["mac"] = "\u0661" * 64  # Arabic-Indic digit one
    export.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    code, text = _verify_export(export, db, capsys)
    assert (
        code == 1
        and "row 2 (transaction tx-1)" in text
        and "field mac is text with non-ASCII" in text
    )


def test_an_export_nested_100000_deep_is_one_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "deep.json"
    export.write_text("[" * 100_000 + "]" * 100_000)
    code, text = _verify_export(export, db, capsys)
    assert code == 2 and "nested 100000 levels deep" in text
    rows = json.loads(_export(db, tmp_path).read_text())
    rows[2]["detail"] = "@@"
    export.write_text(json.dumps(rows).replace('"@@"', "[" * 100_000 + "]" * 100_000))
    code, text = _verify_export(export, db, capsys)
    assert code == 2 and "nested 100002 levels deep" in text  # list, row, then the detail


@pytest.mark.parametrize("field", ["id", "score", "started_at"])
def test_a_5000_digit_number_in_an_export_is_named(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str
) -> None:
    export = _export(db, tmp_path)
    rows = json.loads(export.read_text())
    rows[2][field] = "@@"
    export.write_text(json.dumps(rows).replace('"@@"', "7" * 5000))
    code, text = _verify_export(export, db, capsys)
    assert code == 1 and f"field {field} is a number of 5000 digits" in text
    export.write_text("[" + "9" * 5000 + "]")
    code, text = _verify_export(export, db, capsys)
    assert code == 1 and "row #1 in order: it is a number of 5000 digits, not a row" in text
    export.write_text("{" + '"a": ' + "9" * 5000 + "}")
    code, text = _verify_export(export, db, capsys)
    assert code == 2 and "not a JSON audit export" in text


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_an_export_are_named(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], constant: str
) -> None:
    export = _export(db, tmp_path)
    rows = json.loads(export.read_text())
    rows[0]["score"] = "@@"
    export.write_text(json.dumps(rows).replace('"@@"', constant))
    code, text = _verify_export(export, db, capsys)
    assert code == 1 and text.startswith(
        "audit chain broken at row 1 (transaction tx-1): field score"
    )


def test_a_repeated_field_in_an_export_is_refused(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(db, tmp_path)
    text = export.read_text().replace('"outcome": ', '"outcome": "ACCEPT", "outcome": ', 1)
    export.write_text(text)
    code, line = _verify_export(export, db, capsys)
    assert code == 2 and "field outcome appears twice" in line


@pytest.mark.parametrize("content", ["", "  \n", "[]", "[]\n"])
def test_an_empty_export_does_not_verify_against_a_checkpoint(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    export = tmp_path / "empty.json"
    export.write_text(content)
    checkpoint = db.with_suffix(".head")
    code, text = _verify_export(export, db, capsys, "--checkpoint", str(checkpoint))
    if content.strip():
        assert code == 1 and "rows 1-6 missing (the log holds no row)" in text
        assert "covers 6 rows" in text
    else:
        assert code == 2 and "empty, not an audit export" in text


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_truncated_export_names_the_missing_rows(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    export = _export(db, tmp_path, fmt)
    checkpoint = str(db.with_suffix(".head"))
    assert _verify_export(export, db, capsys, "--checkpoint", checkpoint)[0] == 0
    if fmt == "json":
        export.write_text(json.dumps(json.loads(export.read_text())[:4]))
    else:
        export.write_bytes(b"".join(export.read_bytes().splitlines(keepends=True)[:5]))
    code, text = _verify_export(export, db, capsys)
    assert code == 0  # without a checkpoint a shorter chain is a valid chain
    code, text = _verify_export(export, db, capsys, "--checkpoint", checkpoint)
    assert code == 1 and text.startswith("audit chain broken: rows 5-6 missing after row 4: ")
    assert "the checkpoint of " in text and "covers 6 rows" in text


def test_a_csv_export_verifies_and_a_changed_cell_is_named(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(db, tmp_path, "csv")
    assert _verify_export(export, db, capsys) == (0, "audit chain intact: 6 rows")
    text = export.read_text()
    for before, after in (("0.61", "0.610"), ("0.61", "0.6100000000000001"), ("\n4,", "\n4.0,")):
        assert before in text
        export.write_text(text.replace(before, after, 1))
        code, line = _verify_export(export, db, capsys)
        assert code == 1 and line.startswith("audit chain broken at row "), line


def test_a_csv_field_over_128_kib_is_one_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(db, tmp_path, "csv")
    export.write_text(export.read_text().replace("no live face", "x" * 200_000, 1))
    code, text = _verify_export(export, db, capsys)
    assert code == 2 and "not a CSV audit export (line 2" in text


def test_deleted_oldest_rows_are_named(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(db, "DELETE FROM entries WHERE id <= 2")
    code, text = _run(["audit", "verify", "--db", str(db)], capsys)
    assert code == 1 and text.startswith("audit chain broken at row 3 (transaction tx-2): ")
    assert "rows 1-2 before it are missing (deleted, or left out of an export" in text
