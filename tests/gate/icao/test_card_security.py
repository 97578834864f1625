"""EF.CardSecurity on the reader's side: PACE-CAM is checked against the key of a signed
EF.CardSecurity, never against an unsigned or untrusted one (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import CA_KEY_EC, load_passport_folder
from gate.icao import lds, security_infos
from gate.icao.card_security import build_card_security, check_card_security
from gate.icao.reader import PassportRead, TrustStore, read_passport
from gate.icao.sod import SECURITY_OBJECT_OID, parse_signed_data
from gate.simulate.issue import IssuedPassport, issue_passport, write_passport_folder
from gate.simulate.pki import TestPki, init_pki, sign_with
from tests.gate.icao.passports import HOLDER


@pytest.fixture(scope="module")
def trust(pki_ecdsa: TestPki) -> TrustStore:
    return TrustStore.from_folder(pki_ecdsa.folder)


@pytest.fixture(scope="module")
def cam_chip(
    tmp_path_factory: pytest.TempPathFactory, pki_ecdsa: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    out = tmp_path_factory.mktemp("card-security") / "p"
    return issue_passport(
        out, pki=pki_ecdsa, photo=face_jpeg, access="pace-only", ca="ecdh", aa="none",
        pace_cam=True, **HOLDER,
    )  # fmt: skip


def _infos(
    issued: IssuedPassport, key: ec.EllipticCurvePrivateKey
) -> list[security_infos.SecurityInfo]:
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return [
        *security_infos.parse_card_access(issued.files[lds.FID_CARD_ACCESS]),
        security_infos.CaInfo(security_infos.ca_oid("ECDH", "AES-128"), 1, None),
        security_infos.CaPublicKey(security_infos.ID_PK_ECDH, spki, None),
    ]


def _genuine_key(issued: IssuedPassport) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((issued.folder / CA_KEY_EC).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _read_variant(
    issued: IssuedPassport,
    folder: Path,
    trust: TrustStore,
    card_security: bytes | None,
    ca_key: ec.EllipticCurvePrivateKey,
) -> PassportRead:
    write_passport_folder(
        folder, issued.mrz, issued.files, None, ca_key=ca_key, card_security=card_security,
        pace_only=True,
    )  # fmt: skip
    return read_passport(InProcessTransport(load_passport_folder(folder)), issued.mrz, trust)


def test_issued_card_security_is_signed_and_carries_the_pace_and_ca_infos(
    cam_chip: IssuedPassport, trust: TrustStore
) -> None:
    """9303-11 9.2 (EF.CardSecurity): a SignedData whose content type is the SecurityObject
    and whose content is the SET OF SecurityInfo: the PACEInfos of EF.CardAccess and the
    ChipAuthenticationPublicKeyInfo CAM proves the chip holds (the same key as DG14's)."""
    assert cam_chip.card_security is not None
    signed = parse_signed_data(cam_chip.card_security, SECURITY_OBJECT_OID, "EF.CardSecurity")
    assert signed.content_type_attribute == SECURITY_OBJECT_OID
    check = check_card_security(cam_chip.card_security, trust, issuing_state="UTO")
    assert check.status == "valid", check.reason
    access = security_infos.parse_card_access(cam_chip.files[lds.FID_CARD_ACCESS])
    assert set(access) <= set(check.infos)
    dg14 = security_infos.parse_dg14(cam_chip.files[0x010E])
    key = [i for i in check.infos if isinstance(i, security_infos.CaPublicKey)]
    assert key and key == [i for i in dg14 if isinstance(i, security_infos.CaPublicKey)]


def test_pace_cam_is_checked_against_card_security(
    cam_chip: IssuedPassport, trust: TrustStore
) -> None:
    """9303-11 4.4.3.5.2: after CAM the terminal takes the chip's static key from
    EF.CardSecurity, authenticates that file passively, and checks the mapping key against
    the key and CAM's data."""
    read = read_passport(
        InProcessTransport(load_passport_folder(cam_chip.folder)), cam_chip.mrz, trust
    )
    assert (read.access.mapping, read.chip_auth.algorithm) == ("CAM", "PACE-CAM")
    assert read.chip_auth.status == "valid", read.chip_auth.reason
    assert "EF.CardSecurity" in read.chip_auth.reason
    assert "card_security" in read.timings_ms


def test_pace_cam_without_card_security_is_invalid(
    cam_chip: IssuedPassport, trust: TrustStore, tmp_path: Path
) -> None:
    """9303-11 4.4.3.5.2: with no EF.CardSecurity the static key CAM refers to cannot be
    authenticated, so CAM cannot pass."""
    genuine = _genuine_key(cam_chip)
    read = _read_variant(cam_chip, tmp_path / "v", trust, None, genuine)
    assert read.chip_auth.status == "invalid" and "EF.CardSecurity missing" in read.chip_auth.reason


def test_a_clone_with_its_own_card_security_fails_passive_authentication_of_it(
    cam_chip: IssuedPassport, pki_ecdsa: TestPki, trust: TrustStore, tmp_path: Path
) -> None:
    """9303-11 4.4.3.5.2 and 5.1: CAM alone proves only that the chip holds the key in the
    file it serves; the file's signature by a trusted Document Signer makes that key the
    issuer's. A clone with its own key and a CardSecurity naming it, signed with another key
    under the genuine DS certificate or by an untrusted DS, is refused."""
    clone = ec.generate_private_key(ec.BrainpoolP256R1())
    ds_cert = pki_ecdsa.ds_certificate.public_bytes(serialization.Encoding.DER)
    forger = ec.generate_private_key(ec.SECP256R1())
    forged = build_card_security(
        _infos(cam_chip, clone), sign=lambda m: sign_with(forger, m),
        signature_algorithm=pki_ecdsa.signature_algorithm, ds_certificate_der=ds_cert,
        signing_time=pki_ecdsa.ds_certificate.not_valid_before_utc,
    )  # fmt: skip
    read = _read_variant(cam_chip, tmp_path / "forged", trust, forged, clone)
    assert read.chip_auth.status == "invalid"
    assert "signature does not verify" in read.chip_auth.reason
    other = init_pki(tmp_path / "other-pki", algorithm="ecdsa")
    untrusted = build_card_security(
        _infos(cam_chip, clone), sign=other.sign, signature_algorithm=other.signature_algorithm,
        ds_certificate_der=other.ds_certificate.public_bytes(serialization.Encoding.DER),
        signing_time=other.ds_certificate.not_valid_before_utc,
    )  # fmt: skip
    read = _read_variant(cam_chip, tmp_path / "untrusted", trust, untrusted, clone)
    assert read.chip_auth.status == "invalid"
    assert "not issued by a trusted CSCA" in read.chip_auth.reason


def test_the_pace_protocol_run_must_be_among_the_signed_infos(
    cam_chip: IssuedPassport, pki_ecdsa: TestPki, trust: TrustStore, tmp_path: Path
) -> None:
    """9303-11 9.2: EF.CardSecurity repeats the SecurityInfos of EF.CardAccess, which is not
    signed; a CAM protocol that the signed file does not list is not the issuer's."""
    genuine = _genuine_key(cam_chip)
    infos = [
        i
        for i in _infos(cam_chip, genuine)
        if not (isinstance(i, security_infos.PaceInfo) and i.mapping == "CAM")
    ]
    gm_only = build_card_security(
        infos, sign=pki_ecdsa.sign, signature_algorithm=pki_ecdsa.signature_algorithm,
        ds_certificate_der=pki_ecdsa.ds_certificate.public_bytes(serialization.Encoding.DER),
        signing_time=pki_ecdsa.ds_certificate.not_valid_before_utc,
    )  # fmt: skip
    read = _read_variant(cam_chip, tmp_path / "gm-only", trust, gm_only, genuine)
    assert read.chip_auth.status == "invalid"
    assert "not among EF.CardSecurity's" in read.chip_auth.reason
