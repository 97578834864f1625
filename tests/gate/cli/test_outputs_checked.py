"""Outputs are checked before a run, and exit codes tell the truth (issue 23, part 3).

``--audit``, ``--json``, ``--report`` and ``-o`` are refused while the arguments are parsed:
a long run must not end in "cannot write", and ``--audit`` must never add egate's tables to
another program's SQLite file. A benchmark whose travellers came out wrong exits 1, and a
pack whose threshold is NaN is refused by ``models verify``."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.audit import AuditLog
from gate.cli import build_parser, main
from gate.outcome import Decision


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_audit_into_a_folder_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    assert "directory" in _refused(["simulate", "--no-pcsc", "--audit", str(folder)], capsys)
    assert not (tmp_path / "logs.salt").exists() and not list(folder.iterdir())


def test_audit_never_touches_another_programs_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "otherapp.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    before = other.read_bytes()
    assert "another program" in _refused(["demo", "--no-pcsc", "--audit", str(other)], capsys)
    assert other.read_bytes() == before
    assert not (tmp_path / "otherapp.salt").exists()


@pytest.mark.parametrize(
    "content", [b"not a database at all\n", b"SQLite format 3\x00" + b"\x00" * 100]
)
def test_audit_refuses_a_file_that_is_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    _refused(["simulate", "--audit", str(path)], capsys)
    assert path.read_bytes() == content


def test_an_empty_audit_path_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert "empty" in _refused(["simulate", "--audit", ""], capsys)


def test_audit_accepts_a_new_path_and_an_egate_log(tmp_path: Path) -> None:
    with AuditLog.open(tmp_path / "audit.db"):
        pass
    for path in (tmp_path / "audit.db", tmp_path / "new.db"):
        args = build_parser().parse_args(["simulate", "--audit", str(path)])
        assert args.audit == str(path)


@pytest.mark.parametrize("flag", ["--json", "--report"])
def test_outputs_that_cannot_be_written_are_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    _refused(["bench", "throughput", flag, "/proc/egate-test/x.json"], capsys)
    _refused(["simulate", flag, "/proc/x.json"], capsys)
    a_file = tmp_path / "report.txt"
    a_file.write_text("mine\n")
    if flag == "--report":
        assert "not a folder" in _refused(["bench", "soak", flag, str(a_file)], capsys)
        assert a_file.read_text() == "mine\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="root writes anywhere but /proc")
def test_a_read_only_place_is_found_by_trying(capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot write" in _refused(["simulate", "--json", "/proc/x"], capsys)


def test_a_report_folder_is_made_under_a_writable_one(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    args = build_parser().parse_args(["bench", "soak", "--report", str(target)])
    assert args.report == target


def test_a_throughput_of_wrong_travellers_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def referred(travellers: int, speed: float, **options: Any) -> dict[str, Any]:
        return {"speed": speed, "travellers": travellers, "as_expected": 0,
                "travellers_per_hour": 900.0, "cpu_percent_of_one_core": 50.0}  # fmt: skip

    monkeypatch.setattr("bench.throughput.run_throughput", referred)
    monkeypatch.setattr("bench.environment.describe_environment", lambda: {})
    assert main(["bench", "throughput", "--travellers", "3", "--no-pcsc"]) == 1
    assert "0 of 3 travellers as expected" in capsys.readouterr().err


def test_a_pack_with_a_nan_threshold_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = {
        "format": 1, "id": "nan-pack", "kind": "dlib", "embedding_size": 128,
        "distance": "euclidean", "files": {}, "calibration": "x",
        "input": {"chip_size": 150, "colour_order": "rgb", "normalisation": "x",
                  "alignment": "y"},
        "thresholds": {"1e-3": float("nan")},
    }  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert "NaN" in _refused(["models", "verify", str(tmp_path)], capsys)
    import cv2
    import numpy as np

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    # Before: "NO MATCH" for an image against itself (every comparison with NaN is false).
    assert "NaN" in _refused(["verify", str(image), str(image), "--pack", str(tmp_path)], capsys)


@dataclass(frozen=True)
class _Result:
    actual: Decision


def test_a_dataset_run_where_every_traveller_failed_is_a_failure() -> None:
    from gate.cli.simulate_dataset import every_transaction_failed

    failed = [_Result(Decision.REFER_DEVICE), _Result(Decision.AUDIT_FAILED)]
    assert every_transaction_failed(failed)
    assert not every_transaction_failed([*failed, _Result(Decision.REJECT_MISMATCH)])
    assert not every_transaction_failed([])


def test_the_audit_store_itself_never_writes_into_another_programs_database(
    tmp_path: Path,
) -> None:
    """``egate run`` takes its log from the config, not ``--audit``: the store checks too."""
    from gate.errors import AuditError

    other = tmp_path / "otherapp.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    before = other.read_bytes()
    with pytest.raises(AuditError, match="another program"):
        AuditLog.open(other)
    assert other.read_bytes() == before and not (tmp_path / "otherapp.salt").exists()
    os.mkfifo(tmp_path / "fifo.db")
    with pytest.raises(AuditError, match="FIFO"):
        AuditLog.open(tmp_path / "fifo.db")
