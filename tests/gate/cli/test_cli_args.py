"""Bad numbers and bad files on the command line (issue "Safety and integrity", part 6): each
reproduction the testers found is one line on stderr and exit 2, never a traceback or a hang.

``EGATE_HOME`` points at an empty folder, so a command that got past its arguments would fail
on the missing model pack instead: the assertions on the option's name tell the two apart.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.cli import main


@pytest.fixture(autouse=True)
def _no_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGATE_HOME", str(tmp_path / "egate-home"))


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``egate ARGV``; assert exit 2 and exactly one ``egate: error:`` line; return it."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("egate: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((96, 96, 3), 128, np.uint8))
    return path


@pytest.mark.parametrize("port", ["70000", "-1", "65536", "1e3", "8080.5"])
def test_emulate_camera_port_out_of_range(
    capsys: pytest.CaptureFixture[str], photo: Path, port: str
) -> None:
    line = one_line_error(capsys, "emulate", "camera", "--photo", str(photo), "--port", port)
    assert "--port" in line and "0..65535" in line


@pytest.mark.parametrize("fps", ["nan", "inf", "0", "-3"])
def test_emulate_camera_fps_must_be_finite_and_positive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fps: str
) -> None:
    missing = str(tmp_path / "none.jpg")
    line = one_line_error(
        capsys, "emulate", "camera", "--photo", missing, "--port", "0", "--fps", fps
    )
    assert "--fps" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["emulate", "camera", "--photo", "p.jpg", "--port", "0", "--seed", "-1"],
        ["bench", "accuracy", "--dataset", "d.csv", "--seed", "-7"],
        ["bench", "calibrate", "--pack", "p", "--dataset", "d.csv", "--seed", "-1"],
    ],
)
def test_negative_seeds_are_refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert "--seed" in one_line_error(capsys, *argv)


@pytest.mark.parametrize("timeout", ["inf", "1e300", "nan", "0", "-1"])
def test_chip_read_timeout_must_be_finite_positive_and_bounded(
    capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    line = one_line_error(
        capsys, "chip", "read", "--number", "X1", "--birth", "900101", "--expiry", "301231",
        "--timeout", timeout,
    )  # fmt: skip
    assert "--timeout" in line


@pytest.mark.parametrize("timeout", ["inf", "1e300"])
def test_simulate_capture_timeout_must_be_finite_and_bounded(
    capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    assert "--capture-timeout" in one_line_error(capsys, "simulate", "--capture-timeout", timeout)


@pytest.mark.parametrize("command", [["embed", "x.jpg"], ["verify", "a.jpg", "b.jpg"]])
def test_thread_count_is_bounded(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    line = one_line_error(capsys, *command, "--threads", "100000")
    assert "--threads" in line and f"0..{(os.cpu_count() or 1) * 4}" in line


def test_min_face_must_not_be_negative(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--min-face" in one_line_error(capsys, "verify", "a.jpg", "b.jpg", "--min-face", "-5")


def test_unicode_digits_are_not_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--port" in one_line_error(
        capsys, "emulate", "camera", "--photo", "p.jpg", "--port", "²"
    )
    assert "--travellers" in one_line_error(capsys, "simulate", "--travellers", "٣")


def test_audit_export_to_a_directory_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`egate audit export -o DIR` gave IsADirectoryError with a traceback; the CLI now turns
    an OSError from a file the user named into one line (audit_cmd's owner may check -o
    when parsing as well, with gate.cli.args.output_file)."""
    from gate.audit import AuditLog

    db = tmp_path / "audit.db"
    with AuditLog.open(db):
        pass
    out = tmp_path / "out"
    out.mkdir()
    line = one_line_error(capsys, "audit", "export", "--db", str(db), "-o", str(out))
    assert str(out) in line


@pytest.mark.parametrize("since", ["nan", "inf", "-inf"])
def test_audit_export_since_must_be_finite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, since: str
) -> None:
    """`--since nan` was accepted (audit_cmd's owner now checks it; gate.cli.args.since is
    the shared type for it)."""
    from gate.audit import AuditLog

    db = tmp_path / "audit.db"
    with AuditLog.open(db):
        pass
    assert "--since" in one_line_error(capsys, "audit", "export", "--db", str(db), "--since", since)


def test_argparse_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid choice" in one_line_error(capsys, "no-such-command")
    assert "required" in one_line_error(capsys, "verify")
    line = one_line_error(capsys, "verify", "a", "b", "--no-such-option\nsecond line")
    assert "unrecognized arguments" in line and "\\n" in line  # the newline is escaped


@pytest.mark.timeout(30)
def test_fifo_as_image_is_refused_without_blocking(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_insightface_pack: Path
) -> None:
    fifo = tmp_path / "camera.jpg"
    os.mkfifo(fifo)
    line = one_line_error(
        capsys, "verify", str(fifo), str(fifo), "--pack", str(tiny_insightface_pack)
    )
    assert "FIFO" in line and str(fifo) in line


@pytest.mark.timeout(30)
def test_thirty_thousand_deep_toml_config_and_scenario(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 30_000 + "]" * 30_000 + "\n")
    assert "nested more than" in one_line_error(capsys, "run", "--config", str(deep))
    assert "nested more than" in one_line_error(capsys, "simulate", "--scenario", str(deep))


def test_unicode_digit_in_lfw_pairs_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\t1\nAaron 1 ²\n", encoding="utf-8")
    line = one_line_error(capsys, "bench", "accuracy", "--dataset", str(pairs))
    assert "pairs.txt:2: image number" in line
