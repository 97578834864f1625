"""The reader over the in-process transport: a good passport and every bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import DeviceGoneError, DocumentError, ProtocolError, SecurityError
from gate.icao import lds, tlv
from gate.icao.reader import PassportRead, TrustStore, read_passport
from gate.simulate.issue import IssuedPassport, card_access_pace, issue_passport
from gate.simulate.pki import TestPki, init_pki, make_document_signer, new_key
from tests.gate.icao.passports import HOLDER, reissue, wrong_mrz


def _read(
    folder: Path, passport: IssuedPassport, trust: TrustStore | None, **faults: object
) -> PassportRead:
    card = load_passport_folder(folder, **faults)  # type: ignore[arg-type]
    return read_passport(InProcessTransport(card), passport.mrz, trust)


@pytest.fixture(scope="module")
def trust(pki_ecdsa: TestPki) -> TrustStore:
    return TrustStore.from_folder(pki_ecdsa.folder)


def test_good_passport_reads_back_what_was_issued(
    passport: IssuedPassport, trust: TrustStore, face_jpeg: bytes
) -> None:
    read = _read(passport.folder, passport, trust)
    assert read.dg1 == passport.mrz
    assert (read.dg1.surname, read.dg1.given_names) == ("HANKS", "TOM")
    assert read.photo_bytes == face_jpeg
    expected = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert read.photo is not None and np.array_equal(read.photo, expected)
    assert read.passive_auth.status == "valid", read.passive_auth.reason
    assert read.passive_auth.data_group_hashes == {1: True, 2: True, 14: True, 15: True}
    assert read.active_auth.status == "valid", read.active_auth.reason
    assert read.pace_offered is False
    assert read.access.protocol == "BAC"
    assert read.chip_auth.status == "valid", read.chip_auth.reason
    assert read.printed_mrz_matches is True
    assert {"bac", "dg2", "ef_sod", "pa", "total"} <= set(read.timings_ms)


def test_forged_data_page_is_flagged(passport: IssuedPassport) -> None:
    printed = replace(
        passport.mrz, lines=(passport.mrz.lines[0].replace("TOM", "TIM"), passport.mrz.lines[1])
    )
    card = load_passport_folder(passport.folder)
    read = read_passport(InProcessTransport(card), printed, None)
    assert read.printed_mrz_matches is False


def test_rsa_pki_and_rsa_active_authentication(
    passport_rsa: IssuedPassport, pki_rsa: TestPki
) -> None:
    read = _read(passport_rsa.folder, passport_rsa, TrustStore.from_folder(pki_rsa.folder))
    assert read.passive_auth.status == "valid", read.passive_auth.reason
    assert read.active_auth.status == "valid"
    assert read.active_auth.algorithm == "RSA-ISO9796-2"


def test_without_trust_store_pa_is_not_checked(passport: IssuedPassport) -> None:
    read = _read(passport.folder, passport, None)
    assert read.passive_auth.status == "not_checked"
    assert "no trust store" in read.passive_auth.reason


def test_wrong_mrz_fails_bac(passport: IssuedPassport, trust: TrustStore) -> None:
    card = load_passport_folder(passport.folder)
    with pytest.raises(SecurityError, match="BAC failed"):
        read_passport(InProcessTransport(card), wrong_mrz(passport.mrz), trust)


def test_one_byte_changed_in_dg2_is_a_hash_mismatch(
    passport: IssuedPassport, trust: TrustStore
) -> None:
    read = _read(passport.folder, passport, trust, corrupt_dg=2)
    assert read.passive_auth.status == "invalid"
    assert read.passive_auth.reason.startswith("DG2 hash mismatch")
    assert read.passive_auth.data_group_hashes[2] is False
    assert read.passive_auth.data_group_hashes[1] is True


def test_sod_signed_by_untrusted_document_signer(
    passport: IssuedPassport, trust: TrustStore, tmp_path: Path
) -> None:
    rogue = init_pki(tmp_path / "rogue", algorithm="ecdsa")
    folder = reissue(passport, rogue, tmp_path)
    read = _read(folder, passport, trust)
    assert read.passive_auth.status == "invalid"
    assert "not issued by a trusted CSCA" in read.passive_auth.reason


@pytest.mark.parametrize(
    ("start_days", "end_days", "reason"),
    [
        (1, 400, "Document Signer certificate not yet valid"),
        (-400, -1, "Document Signer certificate expired"),
    ],
)
def test_document_signer_outside_its_validity(
    passport: IssuedPassport,
    pki_ecdsa: TestPki,
    trust: TrustStore,
    tmp_path: Path,
    start_days: int,
    end_days: int,
    reason: str,
) -> None:
    now = datetime.now(timezone.utc)
    key = new_key("ecdsa")
    cert = make_document_signer(
        pki_ecdsa.csca_certificate,
        pki_ecdsa.csca_key,
        key,
        not_before=now + timedelta(days=start_days),
        not_after=now + timedelta(days=end_days),
    )
    folder = reissue(passport, replace(pki_ecdsa, ds_certificate=cert, ds_key=key), tmp_path)
    read = _read(folder, passport, trust)
    assert read.passive_auth.status == "invalid"
    assert read.passive_auth.reason.startswith(reason)


def test_missing_sod(passport: IssuedPassport, trust: TrustStore, tmp_path: Path) -> None:
    folder = reissue(passport, None, tmp_path, drop_sod=True, resign=False)  # type: ignore[arg-type]
    read = _read(folder, passport, trust)
    assert read.passive_auth.status == "invalid"
    assert read.passive_auth.reason.startswith("EF.SOD missing")


def test_dg1_with_truncated_length(
    passport: IssuedPassport, pki_ecdsa: TestPki, tmp_path: Path
) -> None:
    dg1 = passport.files[0x0101]
    inner = tlv.decode(dg1).value
    broken = bytes([0x61, len(inner) + 20]) + inner  # declares 20 bytes more than the file has
    folder = reissue(passport, pki_ecdsa, tmp_path, replace_groups={1: broken})
    with pytest.raises(DocumentError, match="DG1: truncated"):
        _read(folder, passport, None)


def test_dg2_with_oversized_length(
    passport: IssuedPassport, pki_ecdsa: TestPki, tmp_path: Path
) -> None:
    broken = bytes.fromhex("7584FFFFFFF0") + b"\x00" * 32
    folder = reissue(passport, pki_ecdsa, tmp_path, replace_groups={2: broken})
    with pytest.raises(DocumentError, match="DG2: .*above the limit"):
        _read(folder, passport, None)


def test_deeply_nested_dg1(passport: IssuedPassport, pki_ecdsa: TestPki, tmp_path: Path) -> None:
    nested = tlv.encode(0x5F1F, b"X")
    for _ in range(60):
        nested = tlv.encode(0x30, nested)
    folder = reissue(passport, pki_ecdsa, tmp_path, replace_groups={1: tlv.encode(0x61, nested)})
    with pytest.raises(DocumentError, match="nesting deeper"):
        _read(folder, passport, None)


def test_dg2_with_corrupt_jpeg(
    passport: IssuedPassport,
    pki_ecdsa: TestPki,
    trust: TrustStore,
    face_jpeg: bytes,
    tmp_path: Path,
) -> None:
    corrupt = face_jpeg[:2] + bytes(range(256)) * 8  # a JPEG start marker, then noise
    dg2 = lds.encode_dg2([lds.FaceImage(corrupt, lds.IMAGE_JPEG, 300, 375)])
    folder = reissue(passport, pki_ecdsa, tmp_path, replace_groups={2: dg2})
    read = _read(folder, passport, trust)
    assert read.passive_auth.status == "valid"  # the issuer signed it: the data is authentic
    assert read.photo is None and read.photo_bytes == corrupt
    assert read.photo_error is not None and "cannot be decoded" in read.photo_error


def test_card_removed_mid_read(passport: IssuedPassport, trust: TrustStore) -> None:
    with pytest.raises(DeviceGoneError, match="removed"):
        _read(passport.folder, passport, trust, remove_after_apdus=20)


def test_sm_mac_failure(passport: IssuedPassport, trust: TrustStore) -> None:
    with pytest.raises(SecurityError, match="MAC does not verify"):
        _read(passport.folder, passport, trust, bad_mac=5)


def test_chip_answering_garbage(passport: IssuedPassport, trust: TrustStore) -> None:
    for start in (1, 4, 12):
        with pytest.raises(ProtocolError, match="garbage"):
            _read(passport.folder, passport, trust, garbage=start)


def test_pace_offered_is_detected(
    tmp_path: Path, pki_ecdsa: TestPki, face_jpeg: bytes, trust: TrustStore
) -> None:
    issued = issue_passport(
        tmp_path / "p", pki=pki_ecdsa, photo=face_jpeg, offer_pace=True, **HOLDER
    )
    read = _read(issued.folder, issued, trust)
    assert read.pace_offered is True and read.access.protocol == "PACE"
    assert read.passive_auth.status == "valid"


def test_pace_only_chip_is_read_with_pace(
    passport: IssuedPassport, pki_ecdsa: TestPki, tmp_path: Path, trust: TrustStore
) -> None:
    files = dict(passport.files)
    files[lds.FID_CARD_ACCESS] = card_access_pace()
    folder = tmp_path / "pace-only"
    from gate.simulate.issue import write_passport_folder

    write_passport_folder(folder, passport.mrz, files, None, pace_only=True)
    read = _read(folder, passport, trust)
    assert (read.access.protocol, read.access.mapping, read.access.cipher) == (
        "PACE",
        "GM",
        "AES-128",
    )
    assert read.passive_auth.status == "valid"


def test_aa_not_supported_without_dg15(
    tmp_path: Path, pki_ecdsa: TestPki, face_jpeg: bytes
) -> None:
    issued = issue_passport(tmp_path / "p", pki=pki_ecdsa, photo=face_jpeg, aa="none", **HOLDER)
    read = _read(issued.folder, issued, TrustStore.from_folder(pki_ecdsa.folder))
    assert read.active_auth.status == "not_supported"
    assert read.passive_auth.status == "valid"


def test_dg2_above_32_kib_is_read_with_odd_read_binary(
    tmp_path: Path, pki_ecdsa: TestPki, sample_images: Path, trust: TrustStore
) -> None:
    big = (sample_images / "t1.jpg").read_bytes()
    assert len(big) > 0x7FFF
    issued = issue_passport(tmp_path / "p", pki=pki_ecdsa, photo=big, **HOLDER)
    read = _read(issued.folder, issued, trust)
    assert read.photo_bytes == big
    assert read.passive_auth.status == "valid"
