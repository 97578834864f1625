"""Session fixtures shared by the ICAO and chip tests: test PKIs, issued passports, photos.

Key generation happens once per session (RSA is slow); tests that tamper with a passport copy
its folder first.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import cv2
import pytest
from cryptography.hazmat.primitives import serialization

from gate.icao import lds
from gate.icao.mrz import Mrz
from gate.icao.sod import build_sod
from gate.simulate.issue import IssuedPassport, issue_passport, write_passport_folder
from gate.simulate.pki import TestPki, init_pki

HOLDER = {
    "surname": "Hanks",
    "given_names": "Tom",
    "nationality": "UTO",
    "birth_date": "560709",
    "sex": "M",
    "expiry_date": "341231",
    "document_number": "X1234567",
}


@pytest.fixture(scope="session")
def face_jpeg(sample_images: Path) -> bytes:
    """A ~20 KB JPEG portrait made from the Tom Hanks sample photo (300 x 375)."""
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"))
    big = cv2.resize(image, (300, 375), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(buf)


@pytest.fixture(scope="session")
def pki_ecdsa(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("pki-ec"), algorithm="ecdsa")


@pytest.fixture(scope="session")
def pki_rsa(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("pki-rsa"), algorithm="rsa")


@pytest.fixture(scope="session")
def passport(
    tmp_path_factory: pytest.TempPathFactory, pki_ecdsa: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    out = tmp_path_factory.mktemp("passport") / "p"
    return issue_passport(out, pki=pki_ecdsa, photo=face_jpeg, aa="ecdsa", **HOLDER)


@pytest.fixture(scope="session")
def passport_rsa(
    tmp_path_factory: pytest.TempPathFactory, pki_rsa: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    out = tmp_path_factory.mktemp("passport-rsa") / "p"
    return issue_passport(out, pki=pki_rsa, photo=face_jpeg, aa="rsa", **HOLDER)


def copy_passport(passport: IssuedPassport, target: Path) -> Path:
    folder = target / "copy"
    shutil.copytree(passport.folder, folder)
    return folder


def reissue(
    passport: IssuedPassport,
    pki: TestPki,
    target: Path,
    *,
    replace_groups: dict[int, bytes] | None = None,
    drop_sod: bool = False,
    resign: bool = True,
    **options: object,
) -> Path:
    """A variant of ``passport``: data groups replaced, SOD re-signed (or dropped)."""
    files = dict(passport.files)
    for number, content in (replace_groups or {}).items():
        files[lds.DATA_GROUPS[number][0]] = content
    if resign:
        groups = {dg: files[fid] for dg, (fid, _) in lds.DATA_GROUPS.items() if fid in files}
        files[lds.FID_SOD] = build_sod(
            groups,
            sign=pki.sign,
            signature_algorithm=pki.signature_algorithm,
            ds_certificate_der=pki.ds_certificate.public_bytes(serialization.Encoding.DER),
            signing_time=datetime.now(timezone.utc),
        )
    if drop_sod:
        del files[lds.FID_SOD]
    folder = target / "variant"
    aa_key = serialization.load_pem_private_key(
        (passport.folder / "aa-key.pem").read_bytes(), password=None
    )
    write_passport_folder(folder, passport.mrz, files, aa_key, **options)  # type: ignore[arg-type]
    return folder


def with_document_signer(pki: TestPki, **changes: object) -> TestPki:
    return replace(pki, **changes)  # type: ignore[arg-type]


def wrong_mrz(mrz: Mrz) -> Mrz:
    return replace(mrz, birth_date="560710")
