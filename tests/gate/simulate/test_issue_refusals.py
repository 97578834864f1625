"""``egate passport issue`` checks every field the reader and the gate will check before it
writes anything (issue 23): a passport that would not read back, or that contradicts its
flags, is refused in one line (exit 2, no traceback) and never written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.cli import EXIT_ERROR, EXIT_OK, main
from gate.decision import expiry_to_date
from gate.errors import DocumentError
from gate.icao.mrz import parse_mrz
from gate.icao.reader import PassportRead, TrustStore, read_passport
from gate.simulate.issue import issue_passport
from gate.simulate.issue_checks import MAX_LDS_FILE, issued_at
from gate.simulate.pki import TestPki, init_pki

HOLDER = {
    "--surname": "DOE",
    "--given-names": "JANE",
    "--nationality": "UTO",
    "--birth": "800101",
    "--sex": "F",
    "--expiry": "341231",
    "--number": "X1234567",
}


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "face.jpg"
    gradient = np.tile(np.arange(0, 200, 2, dtype=np.uint8), (120, 1))
    assert cv2.imwrite(str(path), cv2.merge([gradient, gradient, gradient]))
    return path


SWITCH = "(a switch)"


def _argv(pki: TestPki, photo: Path, out: Path, **changes: str) -> list[str]:
    fields = {**HOLDER, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
    argv = ["passport", "issue", "--photo", str(photo), "--pki", str(pki.folder)]
    argv += ["--out", str(out)]
    for flag, value in fields.items():
        argv += [flag] if value == SWITCH else [flag, value]
    return argv


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_ERROR, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not out.exists()  # nothing written
    return lines[0]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"number": ""}, "document number is empty"),
        ({"number": "   "}, "document number is empty"),
        ({"number": "X12345678Z"}, "document number has 10 characters; the MRZ holds 9"),
        ({"number": "X-123"}, "document number: only A-Z and 0-9"),
        ({"number": "X<123"}, "document number: only A-Z and 0-9"),
        ({"number": "X１23"}, "document number: only A-Z and 0-9"),
        ({"birth": "800231"}, "birth date is not a calendar date"),
        ({"birth": "801301"}, "birth date is not a calendar date"),
        ({"birth": "8001"}, "birth date is not a YYMMDD date"),
        ({"birth": "８00101"}, "birth date is not a YYMMDD date"),
        ({"expiry": "340231"}, "expiry date is not a calendar date"),
        ({"expiry": "270229"}, "expiry date is not a calendar date"),
        ({"expiry": "200101"}, "is not after the date of issue"),
        ({"expiry": "200101", "issued": "210101"}, "is not after the date of issue"),
        ({"issued": "350101"}, "date of issue is not between 1950 and today"),
        ({"issued": "230229"}, "date of issue is not a calendar date"),
        ({"surname": ""}, "surname is empty"),
        ({"surname": " - "}, "surname is empty"),
        ({"surname": "MÜLLER"}, "surname: the MRZ carries only the letters A-Z"),
        ({"surname": "D0E"}, "surname: only letters A-Z, spaces and hyphens"),
        ({"surname": "O'NEIL"}, "surname: only letters A-Z, spaces and hyphens"),
        ({"surname": "VAN  DER"}, "two separators in a row would end the surname early"),
        ({"given_names": "JOSÉ"}, "given names: the MRZ carries only the letters A-Z"),
        ({"given_names": "J4NE"}, "given names: only letters A-Z"),
        ({"nationality": "ZZZ"}, "nationality 'ZZZ' is not an ICAO Doc 9303 code"),
        ({"nationality": "12"}, "nationality '12' is not an ICAO Doc 9303 code"),
        ({"nationality": "XXA"}, "issuing state XXA is a nationality code"),
        ({"issuing_state": "XXX"}, "issuing state XXX is a nationality code"),
        ({"issuing_state": "ZZ"}, "issuing state 'ZZ' is not an ICAO Doc 9303 code"),
        ({"issuing_state": "DEU"}, "is not the country of the PKI's CSCA (UT)"),
        ({"nationality": "FRA"}, "issuing state FRA (FR) is not the country of the PKI's CSCA"),
        ({"cam": SWITCH, "access": "bac"}, "(--cam) contradicts access 'bac'"),
        ({"pace": SWITCH, "access": "bac"}, "PACE (--pace) contradicts access 'bac'"),
        ({"can": "123456", "access": "bac"}, "a CAN needs PACE"),
        ({"cam": SWITCH, "ca": "dh"}, "PACE-CAM needs an ECDH Chip Authentication key"),
        # Non-UTF-8 bytes on the command line arrive as surrogate escapes.
        ({"place_of_birth": "\udcff"}, "DG11 place_of_birth: not UTF-8 text"),
        ({"issuing_authority": "A\udcfe"}, "DG12 issuing_authority: not UTF-8 text"),
    ],
)
def test_passport_issue_refuses_what_the_reader_would_not_read(
    pki: TestPki,
    photo: Path,
    tmp_path: Path,
    changes: dict[str, str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "p"
    assert expected in _refused(capsys, _argv(pki, photo, out, **changes), out)


def test_a_dg2_above_the_readers_limit_is_refused(
    pki: TestPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    noise = np.random.default_rng(3).integers(0, 256, (640, 640, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok and len(jpeg) > MAX_LDS_FILE  # kept as is: the JPEG alone is over the limit
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg.tobytes())
    out = tmp_path / "p"
    line = _refused(capsys, _argv(pki, big, out), out)
    assert f"above the reader's limit of {MAX_LDS_FILE}" in line and line.count("DG2") == 1


def test_pace_with_access_bac_is_refused_by_the_library_too(
    pki: TestPki, tmp_path: Path, photo: Path
) -> None:
    holder = {
        "surname": "DOE", "given_names": "JANE", "nationality": "UTO", "birth_date": "800101",
        "sex": "F", "expiry_date": "341231", "document_number": "X1",
    }  # fmt: skip
    for options in ({"offer_pace": True}, {"pace_cam": True}):
        with pytest.raises(DocumentError, match="contradicts access 'bac'"):
            issue_passport(tmp_path / "p", pki=pki, photo=photo, access="bac", **options, **holder)
    assert not (tmp_path / "p").exists()


def _read(folder: Path, trust: Path, printed: list[str]) -> PassportRead:
    card = load_passport_folder(folder)
    return read_passport(
        InProcessTransport(card), parse_mrz(printed), TrustStore.from_folder(trust)
    )


@pytest.mark.parametrize(
    ("country", "changes"),
    [
        ("UTO", {"nationality": "XXA", "issuing_state": "UTO", "given_names": ""}),
        ("D", {"nationality": "D", "surname": "VAN DER BERG-SMITH"}),
        ("DEU", {"nationality": "DEU", "issuing_state": "D", "number": "c01x"}),
        ("GBD", {"nationality": "GBN", "issuing_state": "GBD"}),
    ],
)
def test_what_is_accepted_reads_back_with_passive_authentication_valid(
    country: str,
    changes: dict[str, str],
    tmp_path: Path,
    photo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pki = init_pki(tmp_path / "pki", country=country)
    out = tmp_path / "p"
    assert main(_argv(pki, photo, out, **changes)) == EXIT_OK
    printed = capsys.readouterr().out.splitlines()[:2]
    read = _read(out, pki.folder, printed)
    assert read.passive_auth.status == "valid", read.passive_auth.reason
    assert read.dg1.lines == tuple(printed)


def test_an_expired_passport_needs_an_earlier_date_of_issue(
    pki: TestPki, tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p"
    assert main(_argv(pki, photo, out, expiry="240101", issued="190101")) == EXIT_OK
    printed = capsys.readouterr().out.splitlines()[:2]
    read = _read(out, pki.folder, printed)
    assert read.passive_auth.status == "valid"
    today = dt.datetime.now(dt.UTC).date()
    assert expiry_to_date(read.dg1.expiry_date, today) < today
    assert issued_at("190101").date() == dt.date(2019, 1, 1)
