"""``egate mrz read`` and ``egate bench mrz``: a rendered page reads back, hostile files are
one line and exit 2, the benchmark's report holds its figures."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.mrz_pages import random_document, synthetic_portrait
from gate.cli import main
from gate.page import render_page


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    rng = np.random.default_rng(5)
    mrz = random_document(rng, "td2")
    path = tmp_path_factory.mktemp("mrz") / "page.png"
    cv2.imwrite(str(path), render_page(mrz, synthetic_portrait(rng)).image)
    return path, mrz.lines


def test_read_prints_the_lines_as_json(
    page_file: tuple[Path, tuple[str, ...]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, lines = page_file
    assert main(["mrz", "read", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lines"] == list(lines)
    assert report["valid"] is True
    assert report["format"] == "TD2"
    assert [len(c) for c in report["confidence"]] == [36, 36]


def _bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (60000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\0" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("case", ["fifo", "folder", "bomb", "text", "non-utf8-name-text"])
def test_hostile_files_are_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "page.png"
    if case == "fifo":
        os.mkfifo(target)
    elif case == "folder":
        target.mkdir()
    elif case == "bomb":
        target.write_bytes(_bomb())
    elif case == "text":
        target.write_text("P<UTOERIKSSON<<ANNA\n")
    else:
        raw = os.fsencode(tmp_path) + b"/page-\xff\xfe.png"
        with open(raw, "wb") as out:
            out.write(b"not a picture")
        target = Path(os.fsdecode(raw))
    assert main(["mrz", "read", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_a_picture_without_mrz_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.png"
    cv2.imwrite(str(path), np.full((200, 300, 3), 180, np.uint8))
    assert main(["mrz", "read", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no machine readable zone" in err and len(err.splitlines()) == 1


def test_bench_mrz_on_rendered_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    assert (
        main(["bench", "mrz", "--pages", "12", "--seed", "3", "--no-progress", "--json", str(out)])
        == 0
    )
    report = json.loads(out.read_text())
    assert report["pages"] == 12
    assert sum(v["pages"] for v in report["by_format"].values()) == 12
    assert set(report["by_format"]) == {"TD1", "TD2", "TD3"}
    assert report["valid_but_wrong"] == 0
    assert report["exact"] >= 10  # the full run's figure is >= 99.5 %
    assert len(report["misses"]) == 12 - report["exact"]
    assert report["time"]["median_ms"] > 0
    assert "pages read exactly" in capsys.readouterr().out


def test_bench_mrz_on_a_folder(
    page_file: tuple[Path, tuple[str, ...]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "specimens"
    folder.mkdir()
    (folder / "page.png").write_bytes(page_file[0].read_bytes())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert main(["bench", "mrz", "--folder", str(folder), "--no-progress", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 2 and report["valid"] == 1
    assert [Path(m["file"]).name for m in report["misses"]] == ["broken.jpg"]
