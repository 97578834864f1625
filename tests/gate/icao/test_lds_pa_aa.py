"""LDS encoders/decoders, EF.SOD parsing, passive-auth chain rules and AA verification."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import ConfigError, DocumentError
from gate.icao import lds
from gate.icao.aa import verify_active_auth
from gate.icao.mrz import format_td3
from gate.icao.pa import TrustStore, passive_authentication
from gate.icao.reader import decode_photo, read_passport
from gate.icao.sod import parse_sod
from gate.simulate.issue import IssuedPassport, issue_passport, write_passport_folder
from gate.simulate.pki import TestPki
from tests.gate.icao.passports import HOLDER, reissue


def test_com_lists_the_groups(passport: IssuedPassport) -> None:
    assert lds.decode_com(passport.files[lds.FID_COM]) == [1, 2, 14, 15]


def test_dg2_round_trip_with_jpeg2000(sample_images: Path) -> None:
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"))
    ok, jp2 = cv2.imencode(".jp2", image)
    assert ok
    encoded = lds.encode_dg2([lds.FaceImage(bytes(jp2), lds.IMAGE_JPEG2000, 112, 112)])
    (face,) = lds.decode_dg2(encoded)
    assert face.image == bytes(jp2) and face.image_type == lds.IMAGE_JPEG2000
    assert (face.width, face.height) == (112, 112)
    assert decode_photo(face.image).shape == image.shape


def test_dg2_with_wrong_record_magic() -> None:
    good = lds.encode_dg2([lds.FaceImage(b"\xff\xd8abc", lds.IMAGE_JPEG, 1, 1)])
    with pytest.raises(DocumentError, match="FAC"):
        lds.decode_dg2(good.replace(b"FAC\x00", b"FAX\x00"))


def test_photo_decode_failure_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match="cannot be decoded"):
        decode_photo(b"\xff\xd8" + os.urandom(64))


def test_sod_contents(passport: IssuedPassport) -> None:
    sod = parse_sod(passport.files[lds.FID_SOD])
    assert sod.hash_algorithm == "sha256"
    assert sorted(sod.data_group_hashes) == [1, 2, 14, 15]
    assert sod.signature_algorithm == "sha256_ecdsa"
    with pytest.raises(DocumentError, match="EF.SOD"):
        parse_sod(b"\x77\x03\x30\x01\x00")


def test_issuing_state_must_match_the_signer_country(
    passport: IssuedPassport, pki_ecdsa: TestPki, tmp_path: Path
) -> None:
    # issue_passport refuses such a passport: DG1 of NLD re-signed by UTO's DS, by hand.
    mrz = format_td3(**{**HOLDER, "nationality": "NLD", "issuing_state": "NLD"})
    folder = reissue(passport, pki_ecdsa, tmp_path, replace_groups={1: lds.encode_dg1(mrz)})
    card = load_passport_folder(folder)
    read = read_passport(InProcessTransport(card), mrz, TrustStore.from_folder(pki_ecdsa.folder))
    assert read.passive_auth.status == "invalid"
    assert "issuing state NLD" in read.passive_auth.reason


def test_pa_of_a_group_not_in_the_sod(passport: IssuedPassport, pki_ecdsa: TestPki) -> None:
    result = passive_authentication(
        {1: passport.files[0x0101], 3: b"\x63\x00"},
        passport.files[lds.FID_SOD],
        TrustStore.from_folder(pki_ecdsa.folder),
        issuing_state="UTO",
    )
    assert (result.status, result.reason) == ("invalid", "DG3 has no hash in EF.SOD")


def test_aa_with_a_cloned_chip_is_invalid(passport: IssuedPassport, tmp_path: Path) -> None:
    # A clone copies the LDS files but not the private key: it signs with another key.
    write_passport_folder(
        tmp_path / "clone", passport.mrz, passport.files, ec.generate_private_key(ec.SECP256R1())
    )
    card = load_passport_folder(tmp_path / "clone")
    read = read_passport(InProcessTransport(card), passport.mrz, None)
    assert read.active_auth.status == "invalid"
    assert "does not verify" in read.active_auth.reason


def test_aa_rsa_rejects_a_signature_over_another_challenge(passport_rsa: IssuedPassport) -> None:
    card = load_passport_folder(passport_rsa.folder)
    transport = InProcessTransport(card)
    read = read_passport(transport, passport_rsa.mrz, None)
    assert read.active_auth.status == "valid"
    signature = b"\x00" * 128
    result = verify_active_auth(passport_rsa.files[0x010F], b"12345678", signature)
    assert result.status == "invalid"


def test_trust_store_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        TrustStore.from_folder(tmp_path / "none")
    (tmp_path / "x.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(ConfigError, match="x.pem"):
        TrustStore.from_folder(tmp_path)


def test_photo_pixels_identical_after_reading(passport: IssuedPassport, face_jpeg: bytes) -> None:
    (face,) = lds.decode_dg2(passport.files[0x0102])
    expected = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(decode_photo(face.image), expected)


def test_master_list_trust_store(
    passport: IssuedPassport, pki_ecdsa: TestPki, pki_rsa: TestPki, tmp_path: Path
) -> None:
    from gate.icao.masterlist import build_master_list
    from gate.simulate.pki import sign_with

    certs = [pki_rsa.csca_certificate, pki_ecdsa.csca_certificate]
    data = build_master_list(
        certs, pki_rsa.csca_certificate, lambda m: sign_with(pki_rsa.csca_key, m), "sha256_rsa"
    )
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "icao.ml").write_bytes(data)
    store = TrustStore.from_folder(tmp_path / "trust")
    assert [c.subject for c in store.certificates] == [c.subject for c in certs]
    read = read_passport(
        InProcessTransport(load_passport_folder(passport.folder)), passport.mrz, store
    )
    assert read.passive_auth.status == "valid"
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 1
    (tmp_path / "trust" / "icao.ml").write_bytes(bytes(tampered))
    with pytest.raises(ConfigError, match=r"icao\.ml"):
        TrustStore.from_folder(tmp_path / "trust")


def test_jpeg2000_passport_reads_back_pixel_identical(
    pki_ecdsa: TestPki, sample_images: Path, tmp_path: Path
) -> None:
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"))
    ok, jp2 = cv2.imencode(".jp2", image, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000])
    assert ok
    issued = issue_passport(tmp_path / "p", pki=pki_ecdsa, photo=bytes(jp2), **HOLDER)
    (face,) = lds.decode_dg2(issued.files[0x0102])
    assert face.image_type == lds.IMAGE_JPEG2000
    read = read_passport(InProcessTransport(load_passport_folder(issued.folder)), issued.mrz, None)
    assert read.photo is not None and np.array_equal(read.photo, image)  # lossless JP2


def test_pillow_decodes_what_opencv_refuses(
    sample_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"))
    ok, jp2 = cv2.imencode(".jp2", image, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000])
    assert ok
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: None)  # as on a chroma-subsampled JP2
    assert np.array_equal(decode_photo(bytes(jp2)), image)


def test_dg2_accepts_only_jpeg_and_jpeg2000(sample_images: Path) -> None:
    """ISO 19794-5 portraits are JPEG or JPEG 2000: a PNG in DG2 is not handed to a decoder."""
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"))
    ok, png = cv2.imencode(".png", image)
    assert ok
    with pytest.raises(DocumentError, match=r"DG2: not a JPEG or JPEG 2000 image"):
        decode_photo(bytes(png))
