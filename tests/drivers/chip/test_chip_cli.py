"""The chip CLI: pki init, passport issue, chip read over PC/SC (card presented by a link)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcscd import PcscdStatus
from drivers.chip.vpcd import VpcdCardLink
from gate.cli import EXIT_ERROR, EXIT_FAILURE, EXIT_OK, main
from gate.icao.lds import decode_dg2
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory, sample_images: Path) -> Path:
    root = tmp_path_factory.mktemp("cli")
    assert main(["pki", "init", str(root / "pki")]) == EXIT_OK
    args = ["passport", "issue", "--photo", str(sample_images / "Tom_Hanks_54745.png")]
    args += ["--surname", "Hanks", "--given-names", "Tom", "--nationality", "UTO"]
    args += ["--birth", "560709", "--sex", "M", "--expiry", "341231", "--number", "X1234567"]
    args += ["--pki", str(root / "pki"), "--out", str(root / "pp")]
    assert main(args) == EXIT_OK
    return root


def test_issue_writes_the_lds_and_keys(issued: Path) -> None:
    manifest = json.loads((issued / "pp" / "passport.json").read_text())
    assert manifest["mrz"][1].startswith("X1234567<7UTO5607091M341231")
    assert {"011E", "0101", "0102", "010F", "011D"} <= set(manifest["files"])
    assert (issued / "pki" / "csca.pem").is_file() and (issued / "pp" / "aa-key.pem").is_file()


def test_issue_rejects_bad_date(issued: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["passport", "issue", "--photo", str(issued / "pki" / "csca.pem"), "--surname", "A"]
    args += ["--given-names", "B", "--nationality", "UTO", "--birth", "561309", "--sex", "M"]
    args += ["--expiry", "341231", "--number", "1", "--pki", str(issued / "pki")]
    args += ["--out", str(issued / "bad")]
    assert main(args) == EXIT_ERROR
    assert "birth date" in capsys.readouterr().err


@pytest.mark.pcsc
def test_chip_read_json_and_photo(
    pcscd: PcscdStatus, issued: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = load_passport_folder(issued / "pp")
    photo = tmp_path / "face.jpg"
    with VpcdCardLink(card) as link:
        args = ["chip", "read", "--reader", f"pcsc:{link.reader_name}", "--json"]
        args += ["--number", "X1234567", "--birth", "560709", "--expiry", "341231"]
        args += ["--trust", str(issued / "pki"), "--photo-out", str(photo)]
        code = main(args)
        report = json.loads(capsys.readouterr().out)
        # Without a trust store the answer is "not checked", and the exit code says "no".
        assert main(args[:-4]) == EXIT_FAILURE
    assert code == EXIT_OK
    assert report["document"] == {
        "type": "P",
        "issuing_state": "UTO",
        "number": "X1234567",
        "surname": "HANKS",
        "given_names": "TOM",
        "nationality": "UTO",
        "birth_date": "560709",
        "sex": "M",
        "expiry_date": "341231",
    }
    assert report["passive_auth"]["status"] == "valid"
    assert report["active_auth"]["status"] == "valid"
    assert report["printed_mrz_matches"] is None  # only the BAC keys were typed
    # The photo that came over PC/SC is byte-identical to the one the issuer put in DG2.
    (issued_face,) = decode_dg2((issued / "pp" / "DG2.bin").read_bytes())
    assert photo.read_bytes() == issued_face.image


def test_chip_read_an_emulator_address_with_the_trace_and_without_pcsc(
    issued: Path, tmp_path: Path
) -> None:
    """``--reader emulator:FOLDER`` (a kiosk config's address) reads the passport in process;
    pyscard is made unimportable to show PC/SC is not involved. ``--trace`` prints two
    lines per APDU on stderr, and never the holder's data."""
    import subprocess
    import sys

    (tmp_path / "smartcard").mkdir()
    (tmp_path / "smartcard" / "__init__.py").write_text("raise ImportError('no PC/SC here')\n")
    args = [sys.executable, "-m", "gate", "chip", "read", "--reader", f"emulator:{issued / 'pp'}"]
    args += ["--trace", "--json", "--number", "X1234567", "--birth", "560709"]
    trust = tmp_path / "trust"  # the CSCA alone (the PKI's ds.pem would be a warning line)
    trust.mkdir()
    (trust / "csca.pem").write_bytes((issued / "pki" / "csca.pem").read_bytes())
    args += ["--expiry", "341231", "--trust", str(trust)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)]))
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["document"]["number"] == "X1234567"
    assert report["passive_auth"]["status"] == "valid"
    trace = done.stderr.splitlines()
    assert len(trace) == 2 * report["apdus"] > 40
    assert re.fullmatch(r"\s*1 > 00 A4 020C SELECT, data 011C", trace[0])
    assert any("READ BINARY, secure messaging" in line for line in trace)
    for secret in ("X1234567", "HANKS", "5607091", "341231"):
        assert secret not in done.stderr


def test_chip_read_refuses_an_unknown_reader_address(
    issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["chip", "read", "--reader", "nfc:reader0", "--number", "X1234567"]
    args += ["--birth", "560709", "--expiry", "341231"]
    assert main(args) == EXIT_ERROR
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'nfc:reader0'" in line and "pcsc:, emulator:" in line


def test_chip_read_needs_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chip", "read", "--number", "X1"]) == EXIT_ERROR
    assert "--birth" in capsys.readouterr().err


@pytest.mark.pcsc
def test_chip_serve_process_and_chip_read(
    pcscd: PcscdStatus, issued: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal
    import subprocess
    import sys

    serve = subprocess.Popen(
        [sys.executable, "-m", "gate", "chip", "serve", str(issued / "pp"), "--seconds", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        banner = serve.stdout.readline()
        # The first free vpcd reader (another run may hold the other one), named in the banner.
        found = re.search(r"presenting .* on '(Virtual PCD 00 0\d)'", banner)
        assert found, banner
        args = ["chip", "read", "--reader", found.group(1), "--trust", str(issued / "pki")]
        args += [
            "--mrz",
            "|".join(json.loads((issued / "pp" / "passport.json").read_text())["mrz"]),
        ]
        assert main(args) == EXIT_OK
        out = capsys.readouterr().out
        assert "passive auth   valid" in out and "active auth    valid" in out
    finally:
        serve.send_signal(signal.SIGINT)
        rest, errors = serve.communicate(timeout=20)
    assert serve.returncode == 0, errors
    assert "served" in rest
