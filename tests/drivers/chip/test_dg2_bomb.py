"""A hostile portrait in DG2 or given to ``passport issue --photo`` (issues 18 and 23).

The chip's DG2 comes off a card anyone can program: a 50-megapixel JPEG or a PNG that would
inflate to gigabytes is refused by the one image decoder from its header, before a pixel is
decoded. ``egate chip read`` then ends in one line naming DG2 and exit 2, and its peak memory
stays far from what decoding would take.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcscd import PcscdStatus
from drivers.chip.vpcd import VpcdCardLink
from gate.icao import lds
from gate.simulate.issue import IssuedPassport
from gate.simulate.pki import TestPki
from tests.gate.icao.passports import reissue

ROOT = Path(__file__).resolve().parents[3]
MAX_RSS_MB = 300
# Runs the command given after it and prints its exit status, output and peak RSS as JSON:
# RUSAGE_CHILDREN of this small parent is the command's own peak, not the test session's.
MEASURE = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=240)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'rc': done.returncode, 'out': done.stdout, 'err': done.stderr,"
    " 'peak_kb': peak}))\n"
)


def png_bomb(side: int) -> bytes:
    """A valid side x side 1-bit PNG of zeros (side a multiple of 1000): tiny on disk,
    side * side / 8 bytes once inflated. Built from one deflate block repeated (each ends
    in a full flush, so every copy is the same bytes), with the Adler-32 of all zeros."""
    row = 1 + (side + 7) // 8
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = packer.compress(b"\0" * (row * 1000)) + packer.flush(zlib.Z_FULL_FLUSH)
    adler = ((row * side) % 65521) << 16 | 1
    stream = b"\x78\xda" + piece * (side // 1000) + b"\x03\x00" + struct.pack(">I", adler)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
    )


def jpeg_50_megapixels() -> bytes:
    """A real 7072 x 7072 (50.0 megapixels) greyscale JPEG, ~200 KB with optimised tables."""
    flat = np.zeros((7072, 7072), np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, 10, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    ok, data = cv2.imencode(".jpg", flat, params)
    assert ok
    return bytes(data)


def egate(*args: str) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "gate", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_png_bomb_is_what_it_claims() -> None:
    """The test input itself: a valid PNG whose pixels would take 450 MB at 1 bit each."""
    data = png_bomb(60000)
    assert len(data) < 512 * 1024
    inflate = zlib.decompressobj()
    stream = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    total = 0
    while stream:
        total += len(inflate.decompress(stream, 1 << 24))
        stream = inflate.unconsumed_tail
    assert inflate.eof and total == 60000 * (1 + 60000 // 8)


@pytest.mark.pcsc
@pytest.mark.parametrize(("picture", "declared"), [("png", "60000x60000"), ("jpeg", "7072x7072")])
def test_chip_read_refuses_a_hostile_dg2_in_one_line(
    pcscd: PcscdStatus,
    passport: IssuedPassport,
    pki_ecdsa: TestPki,
    tmp_path: Path,
    picture: str,
    declared: str,
) -> None:
    image = png_bomb(60000) if picture == "png" else jpeg_50_megapixels()
    # The record claims an ordinary JPEG portrait; only the picture's own header tells.
    dg2 = lds.encode_dg2([lds.FaceImage(image, lds.IMAGE_JPEG, 480, 600)])
    folder = reissue(passport, pki_ecdsa, tmp_path, replace_groups={2: dg2})  # SOD re-signed
    mrz = "|".join(passport.mrz.lines)
    with VpcdCardLink(load_passport_folder(folder)) as link:
        run = egate("chip", "read", "--reader", link.reader_name, "--mrz", mrz, "--chunk", "65000")
    err = str(run["err"])
    assert run["rc"] == 2, run
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("egate: error: DG2: image declares " + declared), err
    assert "over the 16-megapixel limit" in err
    print(f"peak RSS {int(str(run['peak_kb'])) // 1024} MB")
    assert int(str(run["peak_kb"])) < MAX_RSS_MB * 1024, run["peak_kb"]


@pytest.mark.parametrize("photo", ["bomb.png", "empty.jpg"])
def test_passport_issue_refuses_a_hostile_photo(tmp_path: Path, photo: str) -> None:
    pki = tmp_path / "pki"
    assert egate("pki", "init", str(pki))["rc"] == 0
    path = tmp_path / photo
    path.write_bytes(png_bomb(60000) if photo == "bomb.png" else b"")
    run = egate(
        "passport", "issue", "--photo", str(path), "--pki", str(pki), "--out", str(tmp_path / "p"),
        "--surname", "Doe", "--given-names", "Jane", "--nationality", "UTO", "--birth", "800101",
        "--sex", "F", "--expiry", "341231", "--number", "L898902C3",
    )  # fmt: skip
    err = str(run["err"])
    assert run["rc"] == 2, run
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert photo in err
    wanted = "empty file (0 bytes)" if photo == "empty.jpg" else "declares 60000x60000"
    assert wanted in err, err
    assert not (tmp_path / "p").exists()
    print(f"peak RSS {int(str(run['peak_kb'])) // 1024} MB")
    assert int(str(run["peak_kb"])) < MAX_RSS_MB * 1024, run["peak_kb"]
