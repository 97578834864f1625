"""A recording folder is hostile input: each way of spoiling one is refused with one line
naming what was wrong (an ``InputError``; exit 2 and no traceback from the CLI)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.cli import main
from gate.errors import InputError
from gate.fakes import FakeLane
from gate.record import RecordSettings, load_recording, record_lane


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of one genuine traveller through a lane of fakes."""
    folder = tmp_path_factory.mktemp("pristine") / "rec"
    fake = FakeLane()
    lane = fake.build()
    fake.traveller("genuine")
    with record_lane(lane, RecordSettings(folder, 1, "test")):
        lane.serve_one(0.1)
    return folder


@pytest.fixture()
def recording(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "rec"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def _transaction(recording: Path) -> Path:
    (folder,) = [p for p in recording.iterdir() if p.is_dir()]
    return folder


def _edit(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _png_declaring(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


def test_the_pristine_recording_reads(recording: Path) -> None:
    (only,) = load_recording(recording).transactions
    assert only.frames and only.frames[0].image().shape == (8, 8, 3)


def _spoil_version(rec: Path) -> None:
    _edit(rec / "recording.json", lambda d: d.update(format_version=9))


def _spoil_transaction_version(rec: Path) -> None:
    _edit(_transaction(rec) / "transaction.json", lambda d: d.update(format_version="1"))


def _fifo_frame(rec: Path) -> None:
    frame = _transaction(rec) / "frames" / "000000.png"
    frame.unlink()
    os.mkfifo(frame)


def _linked_frame(rec: Path) -> None:
    frame = _transaction(rec) / "frames" / "000000.png"
    frame.unlink()
    frame.symlink_to("/etc/hostname")


def _linked_transaction(rec: Path) -> None:
    folder = _transaction(rec)
    moved = rec.parent / "moved"
    folder.rename(moved)
    folder.symlink_to(moved, target_is_directory=True)


def _escaping_frame_name(rec: Path) -> None:
    def change(data: dict[str, object]) -> None:
        frames = data["frames"]
        assert isinstance(frames, list)
        frames[0]["file"] = "../../../etc/passwd"

    _edit(_transaction(rec) / "transaction.json", change)


def _deep_nesting(rec: Path) -> None:
    (_transaction(rec) / "transaction.json").write_text("[" * 5000 + "]" * 5000)


def _not_utf8_name(rec: Path) -> None:
    os.mkdir(os.fsencode(rec) + b"/\xff\xfe-not-utf8")


def _unknown_chip_error(rec: Path) -> None:
    def change(data: dict[str, object]) -> None:
        document = data["document"]
        assert isinstance(document, dict)
        document["error"] = {"type": "SystemExit", "message": "bye"}

    _edit(_transaction(rec) / "transaction.json", change)


def _no_manifest(rec: Path) -> None:
    (rec / "recording.json").unlink()


SPOILED: dict[str, tuple[Callable[[Path], None], str]] = {
    "version": (_spoil_version, r"format_version 9 is not one this egate reads \(1\)"),
    "transaction version": (_spoil_transaction_version, "format_version '1' is not one"),
    "fifo": (_fifo_frame, r"it is a FIFO \(named pipe\), not a regular file"),
    "link": (_linked_frame, "it is a symbolic link, not a regular file"),
    "linked folder": (_linked_transaction, "it is a symbolic link, not a folder"),
    "escape": (_escaping_frame_name, r"is not one of the format's names \(frames/NNNNNN.png\)"),
    "nesting": (_deep_nesting, "nested more than 32 levels deep"),
    "not utf-8": (_not_utf8_name, r"unexpected entry '\\xff\\xfe-not-utf8'"),
    "chip error": (_unknown_chip_error, "'document.error.type' 'SystemExit' is not one of"),
    "no manifest": (_no_manifest, "recording.json: missing"),
}


@pytest.mark.parametrize("spoil", SPOILED, ids=list(SPOILED))
def test_a_spoiled_recording_is_refused_in_one_line(recording: Path, spoil: str) -> None:
    make, message = SPOILED[spoil]
    make(recording)
    with pytest.raises(InputError, match=message) as refused:
        load_recording(recording)
    assert "\n" not in str(refused.value)
    str(refused.value).encode("utf-8")  # printable as it stands: no lone surrogates


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x00garbage" * 100, "not a PNG image"),
        (_png_declaring(100_000, 100_000), "100000x100000"),
    ],
    ids=["corrupt", "declares a huge picture"],
)
def test_a_corrupt_or_huge_frame_is_refused_when_read(
    recording: Path, content: bytes, message: str
) -> None:
    (_transaction(recording) / "frames" / "000000.png").write_bytes(content)
    (only,) = load_recording(recording).transactions
    with pytest.raises(InputError, match=message):
        only.frames[0].image()


def test_a_frame_file_over_the_size_limit_is_not_read(recording: Path) -> None:
    frame = _transaction(recording) / "frames" / "000000.png"
    with frame.open("r+b") as out:
        out.truncate(65 * 1024 * 1024)  # sparse: no disk used
    (only,) = load_recording(recording).transactions
    with pytest.raises(InputError, match="over the 67108864-byte limit"):
        only.frames[0].image()


def test_a_transaction_without_its_file_is_left_out_as_incomplete(recording: Path) -> None:
    (_transaction(recording) / "transaction.json").unlink()
    loaded = load_recording(recording)
    assert loaded.transactions == () and len(loaded.incomplete) == 1


def test_the_cli_refuses_a_spoiled_recording_in_one_line(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fifo_frame(recording)
    assert main(["simulate", "--replay", str(recording), "--no-pcsc"]) == 2
    err = capsys.readouterr().err
    assert "FIFO" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_replay_options_that_do_not_fit_are_refused(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--config", "kiosk.toml", "--no-pcsc"]) == 2
    assert "--config needs --replay" in capsys.readouterr().err
    args = ["simulate", "--replay", str(recording), "--lanes", "2", "--limit", "3"]
    assert main(args) == 2
    assert "--lanes, --limit: not with --replay" in capsys.readouterr().err
    assert main(["simulate", "--record-days", "3", "--no-pcsc"]) == 2
    assert "--record-days needs --record" in capsys.readouterr().err
