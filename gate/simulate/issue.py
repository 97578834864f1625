"""Issue a virtual passport: the LDS files, EF.SOD (and EF.CardSecurity for a PACE chip)
signed by the Document Signer, the AA and CA keys.

Writes a passport folder in the format of ``drivers.chip.passport_folder`` (its names:
``MANIFEST``, ``FORMAT``, ``AA_KEY``), which the virtual chip reads with
``load_passport_folder``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drivers.chip.passport_folder import AA_KEY, CA_KEY_DH, CA_KEY_EC, FORMAT, MANIFEST
from gate.errors import DocumentError, ImageError
from gate.files import read_regular_file
from gate.icao import lds, security_infos, tlv
from gate.icao.card_security import FID_CARD_SECURITY, build_card_security
from gate.icao.chip_auth import DhKey, dh_spki
from gate.icao.mrz import Mrz
from gate.icao.mrz_format import FORMATS
from gate.icao.pace_groups import DhGroup, standard_group
from gate.icao.sod import build_sod
from gate.images import JPEG, JPEG2000, PORTRAIT_LIMITS, decode_image, image_format
from gate.simulate.issue_checks import (
    Access,
    check_access,
    check_details,
    check_files,
    check_holder,
    check_issuer,
)
from gate.simulate.pki import TestPki, load_pki

AaAlgorithm = Literal["rsa", "ecdsa", "none"]
CaAlgorithm = Literal["ecdh", "dh", "none"]
DocumentFormat = Literal["td1", "td2", "td3"]
# BSI TR-03110 / ICAO 9303-11 object identifiers used in EF.CardAccess and DG14.
PACE_ECDH_GM_AES_128 = "0.4.0.127.0.7.2.2.4.2.2"
BRAINPOOL_P256R1 = 13
DH_2048_256 = 2
ID_AA = "2.23.136.1.1.5"
ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
PHOTO_MAX_BYTES = 64 << 20  # the photo file given to issue (it may be re-encoded)


@dataclass(frozen=True)
class IssuedPassport:
    folder: Path
    mrz: Mrz
    files: dict[int, bytes]  # FID -> contents (the application's, and EF.CardAccess)
    photo: bytes
    card_security: bytes | None = None  # EF.CardSecurity, in the master file (PACE chips)


def _photo_bytes(photo: Path | bytes, max_jpeg_bytes: int) -> tuple[bytes, int, int, int]:
    """The image to embed as-is when it is already JPEG/JPEG 2000, else encoded as JPEG.

    Any format is accepted here (it is re-encoded), within the portrait's pixel limit that
    the reader applies to DG2, so that what is issued can be read back."""
    import cv2

    limits = replace(PORTRAIT_LIMITS, max_bytes=PHOTO_MAX_BYTES, formats=None)
    if isinstance(photo, Path):
        raw = read_regular_file(photo, "photo", max_bytes=PHOTO_MAX_BYTES, error=ImageError)
        source = f"photo {photo}"
    else:
        raw, source = photo, "photo <bytes>"
    image = decode_image(raw, source, limits=limits)
    height, width = image.shape[:2]
    kind = image_format(raw)
    if kind == JPEG:
        return raw, lds.IMAGE_JPEG, width, height
    if kind == JPEG2000:
        return raw, lds.IMAGE_JPEG2000, width, height
    for quality in (90, 80, 70, 60, 50, 40):
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) <= max_jpeg_bytes:
            break
    return bytes(buf), lds.IMAGE_JPEG, width, height


def card_access_pace(
    parameter_id: int = BRAINPOOL_P256R1, cipher: str = "AES-128", cam: bool = False
) -> bytes:
    """EF.CardAccess announcing PACE generic mapping (default: ECDH, AES-128,
    brainpoolP256r1), and chip authentication mapping too with ``cam``."""
    kind = standard_group(parameter_id).kind
    infos: list[security_infos.SecurityInfo] = [
        security_infos.PaceInfo(security_infos.pace_oid(kind, cipher), 2, parameter_id)
    ]
    if cam:
        oid = security_infos.pace_oid("ECDH", cipher, "CAM")
        infos.append(security_infos.PaceInfo(oid, 2, parameter_id))
    return security_infos.encode_security_infos(infos)


def _dg14_aa_info() -> bytes:
    info = (
        core.ObjectIdentifier(ID_AA).dump()
        + core.Integer(1).dump()
        + core.ObjectIdentifier(ECDSA_PLAIN_SHA256).dump()
    )
    return bytes(tlv.encode(0x30, info))


CaKey = ec.EllipticCurvePrivateKey | DhKey


def new_ca_key(algorithm: CaAlgorithm) -> CaKey | None:
    if algorithm == "ecdh":
        return ec.generate_private_key(ec.BrainpoolP256R1())
    if algorithm == "dh":
        group = standard_group(DH_2048_256)
        assert isinstance(group, DhGroup)
        return DhKey(group, group.random_private())
    if algorithm != "none":
        raise DocumentError(f"CA algorithm {algorithm!r} is not 'ecdh', 'dh' or 'none'")
    return None


def _dg14_ca_infos(key: CaKey, cipher: str = "AES-128") -> list[security_infos.SecurityInfo]:
    if isinstance(key, DhKey):
        spki = dh_spki(key.group, key.public)
        oid, kind = security_infos.ID_PK_DH, "DH"
    else:
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        oid, kind = security_infos.ID_PK_ECDH, "ECDH"
    return [
        security_infos.CaInfo(security_infos.ca_oid(kind, cipher), 1, None),
        security_infos.CaPublicKey(oid, spki, None),
    ]


def encode_dg14(ca_key: CaKey | None, with_aa_info: bool, ca_cipher: str = "AES-128") -> bytes:
    infos = _dg14_ca_infos(ca_key, ca_cipher) if ca_key else []
    body = b"".join(info.encode() for info in infos)
    if with_aa_info:
        body += _dg14_aa_info()
    return tlv.encode(0x6E, tlv.encode(0x31, body))


def issue_passport(
    out: Path,
    *,
    pki: TestPki | Path,
    photo: Path | bytes,
    surname: str,
    given_names: str,
    nationality: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    document_number: str,
    issuing_state: str | None = None,
    aa: AaAlgorithm = "ecdsa",
    offer_pace: bool = False,
    access: Access | None = None,
    ca: CaAlgorithm = "ecdh",
    can: str | None = None,
    pace_parameter_id: int = BRAINPOOL_P256R1,
    pace_cipher: str = "AES-128",
    pace_cam: bool = False,
    document: DocumentFormat = "td3",
    dg11: dict[str, str] | None = None,
    dg12: dict[str, str] | None = None,
    signing_time: datetime | None = None,
    max_jpeg_bytes: int = 24_000,
) -> IssuedPassport:
    """Write a virtual passport folder to ``out`` and return what was issued.

    ``access``: "bac" (default; "bac+pace" when ``offer_pace``), "bac+pace" or "pace-only";
    ``ca``: the Chip Authentication key in DG14; ``can``: the card access number (PACE);
    ``document``: the MRZ format (TD1 ID card, TD2, TD3 passport); ``dg11``/``dg12``: the
    additional personal / document details (``lds.DG11_FIELDS`` / ``DG12_FIELDS`` names).
    """
    access = check_access(
        access, offer_pace=offer_pace, pace_cam=pace_cam, can=can, ca=ca,
        pace_parameter_id=pace_parameter_id,
    )  # fmt: skip
    if aa not in ("rsa", "ecdsa", "none"):
        raise DocumentError(f"AA algorithm {aa!r} is not 'rsa', 'ecdsa' or 'none'")
    if document not in FORMATS:
        raise DocumentError(f"document {document!r} is not 'td1', 'td2' or 'td3'")
    signing_time = signing_time or datetime.now(timezone.utc)
    holder = check_holder(
        surname=surname, given_names=given_names, document_number=document_number,
        nationality=nationality, issuing_state=issuing_state, birth_date=birth_date,
        expiry_date=expiry_date, issued_on=signing_time.astimezone(timezone.utc).date(),
        today=datetime.now(timezone.utc).date(),
    )  # fmt: skip
    check_details(11, dg11)
    check_details(12, dg12)
    if not isinstance(pki, TestPki):
        pki = load_pki(pki)
    check_issuer(pki, holder.issuing_state)
    mrz = FORMATS[document](
        surname=holder.surname,
        given_names=holder.given_names,
        document_number=holder.document_number,
        issuing_state=holder.issuing_state,
        nationality=holder.nationality,
        birth_date=birth_date,
        sex=sex,
        expiry_date=expiry_date,
    )
    image, image_type, width, height = _photo_bytes(photo, max_jpeg_bytes)
    groups: dict[int, bytes] = {
        1: lds.encode_dg1(mrz),
        2: lds.encode_dg2(
            [lds.FaceImage(image, image_type, width, height, lds.gender_of(mrz.sex))]
        ),
    }
    if dg11:
        groups[11] = lds.encode_dg11(dg11)
    if dg12:
        groups[12] = lds.encode_dg12(dg12)
    aa_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None
    if aa == "rsa":
        aa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    elif aa == "ecdsa":
        aa_key = ec.generate_private_key(ec.SECP256R1())
    ca_key = new_ca_key(ca)
    if ca_key is not None or aa == "ecdsa":
        # CA's cipher follows PACE's (a 3DES PACE chip is an older chip: CA with 3DES too).
        groups[14] = encode_dg14(ca_key, with_aa_info=aa == "ecdsa", ca_cipher=pace_cipher)
    if aa_key is not None:
        spki = aa_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        groups[15] = lds.encode_dg15(spki)
    sod = build_sod(
        groups,
        sign=pki.sign,
        signature_algorithm=pki.signature_algorithm,
        ds_certificate_der=pki.ds_certificate.public_bytes(serialization.Encoding.DER),
        signing_time=signing_time,
    )
    files = {lds.FID_COM: lds.encode_com(sorted(groups)), lds.FID_SOD: sod}
    files.update({lds.DATA_GROUPS[dg][0]: data for dg, data in groups.items()})
    card_security = None
    if access != "bac":
        files[lds.FID_CARD_ACCESS] = card_access_pace(pace_parameter_id, pace_cipher, pace_cam)
        # EF.CardSecurity: the same SecurityInfos and the CA key, signed (9303-11 4.4.3.5.2).
        infos = security_infos.parse_card_access(files[lds.FID_CARD_ACCESS])
        card_security = build_card_security(
            [*infos, *(_dg14_ca_infos(ca_key, pace_cipher) if ca_key else [])],
            sign=pki.sign,
            signature_algorithm=pki.signature_algorithm,
            ds_certificate_der=pki.ds_certificate.public_bytes(serialization.Encoding.DER),
            signing_time=signing_time,
        )
        check_files({FID_CARD_SECURITY: card_security}, {FID_CARD_SECURITY: "EF.CardSecurity"})
    check_files(files, _NAMES)  # nothing is written for a passport the reader would refuse
    options: dict[str, Any] = {"pace_only": access == "pace-only"}
    if can is not None:
        options["can"] = can
    write_passport_folder(
        out, mrz, files, aa_key, ca_key=ca_key, card_security=card_security, **options
    )
    return IssuedPassport(out, mrz, files, image, card_security)


_NAMES = {lds.FID_COM: "EF.COM", lds.FID_SOD: "EF.SOD", lds.FID_CARD_ACCESS: "EF.CardAccess"}
_NAMES.update({fid: f"DG{dg}" for dg, (fid, _) in lds.DATA_GROUPS.items()})


def write_passport_folder(
    out: Path,
    mrz: Mrz,
    files: dict[int, bytes],
    aa_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None,
    ca_key: CaKey | None = None,
    card_security: bytes | None = None,
    **options: Any,
) -> None:
    """Write (or rewrite, for tests that tamper with files) a passport folder."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"format": FORMAT, "mrz": list(mrz.lines), "files": {}}
    for fid, data in sorted(files.items()):
        name = _NAMES.get(fid, f"EF{fid:04X}") + ".bin"
        (out / name).write_bytes(data)
        manifest["files"][f"{fid:04X}"] = name
    if card_security is not None:
        (out / "EF.CardSecurity.bin").write_bytes(card_security)
        manifest["master_file"] = {f"{FID_CARD_SECURITY:04X}": "EF.CardSecurity.bin"}
    if aa_key is not None:
        (out / AA_KEY).write_bytes(
            aa_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (out / AA_KEY).chmod(0o600)
        manifest["aa_key"] = AA_KEY
    if isinstance(ca_key, DhKey):
        (out / CA_KEY_DH).write_text(
            json.dumps(
                {
                    "p": hex(ca_key.group.p),
                    "g": hex(ca_key.group.g),
                    "q": hex(ca_key.group.q),
                    "private": hex(ca_key.private),
                }
            )
        )
        (out / CA_KEY_DH).chmod(0o600)
        manifest["ca_key"] = CA_KEY_DH
    elif ca_key is not None:
        (out / CA_KEY_EC).write_bytes(
            ca_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (out / CA_KEY_EC).chmod(0o600)
        manifest["ca_key"] = CA_KEY_EC
    manifest.update(options)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
