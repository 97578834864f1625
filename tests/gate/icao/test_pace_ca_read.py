"""PACE and Chip Authentication end to end over the in-process transport, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import DocumentError, ProtocolError, SecurityError
from gate.icao import lds, security_infos, tlv
from gate.icao.reader import PassportRead, TrustStore, read_passport
from gate.simulate.issue import IssuedPassport, issue_passport, write_passport_folder
from gate.simulate.pki import TestPki
from tests.gate.icao.passports import HOLDER, wrong_mrz

CAN = "123456"


@pytest.fixture(scope="module")
def trust(pki_ecdsa: TestPki) -> TrustStore:
    return TrustStore.from_folder(pki_ecdsa.folder)


@pytest.fixture(scope="module")
def pace_only(
    tmp_path_factory: pytest.TempPathFactory, pki_ecdsa: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    out = tmp_path_factory.mktemp("pace-only") / "p"
    return issue_passport(
        out, pki=pki_ecdsa, photo=face_jpeg, access="pace-only", can=CAN, ca="ecdh", **HOLDER
    )


def _read(
    folder: Path, issued: IssuedPassport, trust: TrustStore | None, **kw: object
) -> PassportRead:
    clone = bool(kw.pop("clone", False))
    card = load_passport_folder(folder, clone=clone)
    return read_passport(InProcessTransport(card), issued.mrz, trust, **kw)  # type: ignore[arg-type]


def test_pace_only_passport_reads_with_mrz_and_with_can(
    pace_only: IssuedPassport, trust: TrustStore
) -> None:
    for kw in ({}, {"can": CAN}):
        read = _read(pace_only.folder, pace_only, trust, **kw)
        assert read.access.protocol == "PACE" and read.access.cipher == "AES-128"
        assert read.access.password == ("CAN" if kw else "MRZ")
        assert read.passive_auth.status == "valid", read.passive_auth.reason
        assert read.chip_auth.status == "valid", read.chip_auth.reason
        assert read.active_auth.status == "valid"


def test_can_alone_opens_the_chip(pace_only: IssuedPassport, trust: TrustStore) -> None:
    card = load_passport_folder(pace_only.folder)
    read = read_passport(InProcessTransport(card), None, trust, can=CAN)
    assert read.dg1 == pace_only.mrz and read.printed_mrz_matches is None


def test_wrong_mrz_or_can_says_pace_failed(pace_only: IssuedPassport) -> None:
    card = load_passport_folder(pace_only.folder)
    with pytest.raises(SecurityError, match="PACE failed: .*wrong MRZ or CAN"):
        read_passport(InProcessTransport(card), wrong_mrz(pace_only.mrz), None)
    card = load_passport_folder(pace_only.folder)
    with pytest.raises(SecurityError, match="PACE failed: .*wrong MRZ or CAN"):
        read_passport(InProcessTransport(card), None, None, can="654321")


def test_clone_fails_chip_and_active_authentication(
    pace_only: IssuedPassport, trust: TrustStore
) -> None:
    read = _read(pace_only.folder, pace_only, trust, clone=True)
    assert read.passive_auth.status == "valid"  # the data groups are genuine copies
    assert read.active_auth.status == "invalid"
    assert read.chip_auth.status == "invalid"
    assert "Chip Authentication failed" in read.chip_auth.reason


@pytest.mark.parametrize("parameter_id", [0, 12, 15])
def test_dh_chip_authentication_and_other_pace_domains(
    tmp_path: Path, pki_ecdsa: TestPki, face_jpeg: bytes, trust: TrustStore, parameter_id: int
) -> None:
    issued = issue_passport(
        tmp_path / "p",
        pki=pki_ecdsa,
        photo=face_jpeg,
        access="bac+pace",
        ca="dh",
        aa="none",
        pace_parameter_id=parameter_id,
        **HOLDER,
    )
    read = _read(issued.folder, issued, trust)
    assert read.access.protocol == "PACE"
    assert read.chip_auth.status == "valid", read.chip_auth.reason
    assert read.chip_auth.algorithm == "CA-DH-AES-128"
    clone = _read(issued.folder, issued, trust, clone=True)
    assert clone.chip_auth.status == "invalid"


def _variant(issued: IssuedPassport, tmp_path: Path, **files: bytes) -> Path:
    """The passport with files replaced (SOD not re-signed: these tests fail earlier)."""
    content = dict(issued.files)
    for name, data in files.items():
        content[{"card_access": lds.FID_CARD_ACCESS, "dg14": 0x010E}[name]] = data
    folder = tmp_path / "variant"
    write_passport_folder(folder, issued.mrz, content, None)
    return folder


def test_malformed_card_access_is_a_clear_error(pace_only: IssuedPassport, tmp_path: Path) -> None:
    folder = _variant(pace_only, tmp_path, card_access=b"\x31\x05\x30\x03\x06\x01")
    with pytest.raises(DocumentError, match="EF.CardAccess"):
        _read(folder, pace_only, None)


def test_unknown_parameter_id_is_a_clear_error(pace_only: IssuedPassport, tmp_path: Path) -> None:
    info = security_infos.PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 99)
    folder = _variant(pace_only, tmp_path, card_access=security_infos.encode_security_infos([info]))
    with pytest.raises(SecurityError, match="parameter ID 99 is not a standardised domain"):
        _read(folder, pace_only, None)


def test_integrated_mapping_is_recognised_and_refused(
    pace_only: IssuedPassport, tmp_path: Path
) -> None:
    info = security_infos.PaceInfo("0.4.0.127.0.7.2.2.4.4.2", 2, 13)
    folder = _variant(pace_only, tmp_path, card_access=security_infos.encode_security_infos([info]))
    with pytest.raises(SecurityError, match="IM mapping; egate supports generic mapping"):
        _read(folder, pace_only, None)


def _dg14_with_point(point: bytes) -> bytes:
    """DG14 whose ECDH key is ``point`` under a P-256 SubjectPublicKeyInfo."""
    real = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = real.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spki = spki[: -len(point)] + point
    infos: list[security_infos.SecurityInfo] = [
        security_infos.CaInfo(security_infos.ca_oid("ECDH", "AES-128"), 1, None),
        security_infos.CaPublicKey(security_infos.ID_PK_ECDH, spki, None),
    ]
    return tlv.encode(0x6E, security_infos.encode_security_infos(infos))


def test_ca_key_off_its_curve_is_refused(pace_only: IssuedPassport, tmp_path: Path) -> None:
    # A brainpoolP256r1 point in a P-256 key: same length, wrong curve (invalid-curve attack).
    other = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    point = other.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    folder = _variant(pace_only, tmp_path, dg14=_dg14_with_point(point))
    read = _read(folder, pace_only, None)
    assert read.chip_auth.status == "invalid"
    assert "not a point on its curve" in read.chip_auth.reason


def test_truncated_dg14_is_a_clear_error(pace_only: IssuedPassport, tmp_path: Path) -> None:
    dg14 = pace_only.files[0x010E]
    folder = _variant(pace_only, tmp_path, dg14=dg14[:2] + dg14[2:-7])
    with pytest.raises(DocumentError, match="DG14"):
        _read(folder, pace_only, None)


@pytest.mark.parametrize("start", [2, 3, 4, 5])
def test_garbage_during_pace_is_a_clear_error(pace_only: IssuedPassport, start: int) -> None:
    card = load_passport_folder(pace_only.folder, garbage=start)
    with pytest.raises((ProtocolError, SecurityError), match="PACE failed|garbage"):
        read_passport(InProcessTransport(card), pace_only.mrz, None)


@pytest.mark.parametrize(("document", "sex"), [("td1", "F"), ("td2", "M"), ("td3", "<")])
def test_td1_td2_with_dg11_dg12_and_gender(
    tmp_path: Path, pki_ecdsa: TestPki, face_jpeg: bytes, trust: TrustStore, document: str, sex: str
) -> None:
    holder = dict(HOLDER, sex=sex)
    issued = issue_passport(
        tmp_path / "p",
        pki=pki_ecdsa,
        photo=face_jpeg,
        document=document,  # type: ignore[arg-type]
        access="pace-only" if document == "td1" else "bac",
        can=CAN if document == "td1" else None,
        aa="none",
        dg11={"full_name": "HANKS, TOM", "place_of_birth": "CONCORD"},
        dg12={"issuing_authority": "UTOPIA MOI", "date_of_issue": "20240101"},
        **holder,
    )
    assert issued.mrz.kind == document.upper()
    card = load_passport_folder(issued.folder)
    mrz = None if document == "td1" else issued.mrz
    read = read_passport(InProcessTransport(card), mrz, trust, can=CAN if mrz is None else None)
    assert read.dg1 == issued.mrz
    assert read.access.protocol == ("PACE" if document == "td1" else "BAC")
    assert read.dg11 == {"full_name": "HANKS, TOM", "place_of_birth": "CONCORD"}
    assert read.dg12["issuing_authority"] == "UTOPIA MOI"
    assert read.passive_auth.data_group_hashes[11] and read.passive_auth.data_group_hashes[12]
    assert read.passive_auth.status == "valid" and read.chip_auth.status == "valid"
    face = lds.decode_dg2(issued.files[0x0102])[0]
    assert face.gender == {"M": 1, "F": 2, "<": 0}[sex]


@pytest.mark.parametrize("cipher", ["3DES", "AES-192", "AES-256"])
def test_secure_messaging_ciphers_end_to_end(
    tmp_path: Path, pki_ecdsa: TestPki, face_jpeg: bytes, trust: TrustStore, cipher: str
) -> None:
    issued = issue_passport(
        tmp_path / "p", pki=pki_ecdsa, photo=face_jpeg, access="pace-only", aa="ecdsa",
        pace_cipher=cipher, pace_parameter_id=16 if cipher == "AES-192" else 13, **HOLDER,
    )  # fmt: skip
    read = _read(issued.folder, issued, trust)
    assert (read.access.protocol, read.access.cipher) == ("PACE", cipher)
    assert read.chip_auth.algorithm == f"CA-ECDH-{cipher}"
    assert read.chip_auth.status == "valid", read.chip_auth.reason
    assert read.passive_auth.status == "valid" and read.active_auth.status == "valid"
    assert _read(issued.folder, issued, trust, clone=True).chip_auth.status == "invalid"


def test_chip_authentication_mapping(
    tmp_path: Path, pki_ecdsa: TestPki, face_jpeg: bytes, trust: TrustStore
) -> None:
    issued = issue_passport(
        tmp_path / "p", pki=pki_ecdsa, photo=face_jpeg, access="pace-only", ca="ecdh",
        aa="none", pace_cam=True, **HOLDER,
    )  # fmt: skip
    infos = security_infos.parse_card_access(issued.files[lds.FID_CARD_ACCESS])
    assert {info.mapping for info in infos} == {"GM", "CAM"}
    read = _read(issued.folder, issued, trust)
    assert (read.access.protocol, read.access.mapping) == ("PACE", "CAM")
    assert (read.chip_auth.status, read.chip_auth.algorithm) == ("valid", "PACE-CAM")
    assert read.passive_auth.status == "valid"
    clone = _read(issued.folder, issued, trust, clone=True)
    assert (clone.chip_auth.status, clone.chip_auth.algorithm) == ("invalid", "PACE-CAM")
    assert "does not hold the EF.CardSecurity key" in clone.chip_auth.reason
