"""EF.SOD: the Document Security Object, a CMS SignedData over the LDSSecurityObject.

ICAO Doc 9303 part 10 section 4.6.2 and part 12. CMS and X.509 go through asn1crypto; only
the LDSSecurityObject, which asn1crypto does not know, is declared here with its classes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509

from gate.errors import DocumentError
from gate.icao import tlv
from gate.icao.lds import TAG_SOD

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
# EF.CardSecurity's eContentType (BSI TR-03110 / 9303-11: id-SecurityObject, SecurityInfos).
SECURITY_OBJECT_OID = "0.4.0.127.0.7.3.2.1"
_NAMES = {LDS_SECURITY_OBJECT_OID: "LDSSecurityObject", SECURITY_OBJECT_OID: "SecurityObject"}
HASHES = {"sha1": hashlib.sha1, "sha224": hashlib.sha224, "sha256": hashlib.sha256,
          "sha384": hashlib.sha384, "sha512": hashlib.sha512}  # fmt: skip


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 (asn1crypto reads this class attribute)
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LDSSecurityObject(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 (asn1crypto reads this class attribute)
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
    ]


def hash_data(algorithm: str, data: bytes) -> bytes:
    if algorithm not in HASHES:
        raise DocumentError(f"EF.SOD: hash algorithm {algorithm!r} is not supported")
    return HASHES[algorithm](data).digest()


@dataclass(frozen=True)
class SecurityObject:
    """What a reader needs from EF.SOD; ``signed_bytes`` is what the DS signature covers."""

    hash_algorithm: str
    data_group_hashes: dict[int, bytes]
    econtent: bytes
    content_type_attribute: str | None
    message_digest: bytes | None
    signed_bytes: bytes
    signature: bytes
    signature_algorithm: str
    signature_params: Any
    digest_algorithm: str
    certificates: tuple[bytes, ...]  # DER, the Document Signer among them
    signer_issuer: asn1_x509.Name
    signer_serial: int | None
    signing_time: datetime | None


def build_sod(
    data_groups: dict[int, bytes],
    *,
    sign: Any,
    signature_algorithm: str,
    ds_certificate_der: bytes,
    signing_time: datetime,
    hash_algorithm: str = "sha256",
) -> bytes:
    """Build EF.SOD. ``sign(message) -> signature`` signs the DER of the signed attributes."""
    lso = LDSSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_algorithm},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": hash_data(hash_algorithm, d)}
                for n, d in sorted(data_groups.items())
            ],
        }
    )
    signed = build_signed_data(
        lso.dump(),
        LDS_SECURITY_OBJECT_OID,
        sign=sign,
        signature_algorithm=signature_algorithm,
        ds_certificate_der=ds_certificate_der,
        signing_time=signing_time,
        hash_algorithm=hash_algorithm,
    )
    return tlv.encode(TAG_SOD, signed)


def build_signed_data(
    econtent: bytes,
    content_type: str,
    *,
    sign: Any,
    signature_algorithm: str,
    ds_certificate_der: bytes,
    signing_time: datetime,
    hash_algorithm: str = "sha256",
) -> bytes:
    """A DER ContentInfo holding a SignedData over ``econtent`` of type ``content_type``,
    signed by the Document Signer (EF.SOD's body; EF.CardSecurity as it is)."""
    attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [content_type]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]},
            {"type": "message_digest", "values": [hash_data(hash_algorithm, econtent)]},
        ]
    )
    signature = sign(attributes.dump())
    cert = asn1_x509.Certificate.load(ds_certificate_der)
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": hash_algorithm},
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_algorithm}],
            "encap_content_info": {"content_type": content_type, "content": econtent},
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def parse_sod(data: bytes) -> SecurityObject:
    """Decode EF.SOD; every structural problem is a ``DocumentError`` naming the part."""
    tag, length, start = tlv.read_header(data, 0)
    if tag != TAG_SOD:
        raise DocumentError(f"EF.SOD: starts with tag {tag:X}, expected 77")
    if start + length != len(data):
        raise DocumentError(f"EF.SOD: declares {length} bytes, holds {len(data) - start}")
    return parse_signed_data(data[start:], LDS_SECURITY_OBJECT_OID, "EF.SOD")


def parse_signed_data(der: bytes, content_type: str, where: str) -> SecurityObject:
    """Decode a ContentInfo holding a SignedData whose eContentType must be
    ``content_type``; a structural problem is a ``DocumentError`` naming ``where``."""
    try:
        return _parse_content_info(der, content_type, where)
    except DocumentError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DocumentError(f"{where}: CMS structure is malformed: {exc}") from exc


def _parse_content_info(der: bytes, content_type: str, where: str) -> SecurityObject:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise DocumentError(f"{where}: content type {info['content_type'].native}, not signedData")
    signed = info["content"]
    eci = signed["encap_content_info"]
    if eci["content_type"].dotted != content_type:
        raise DocumentError(
            f"{where}: eContentType {eci['content_type'].dotted} is not {_NAMES[content_type]}"
        )
    econtent = bytes(eci["content"].native)
    hash_algorithm = signed["digest_algorithms"][0]["algorithm"].native
    hashes: dict[int, bytes] = {}
    if content_type == LDS_SECURITY_OBJECT_OID:
        lso = LDSSecurityObject.load(econtent, strict=True)
        hash_algorithm = lso["hash_algorithm"]["algorithm"].native
        hashes = {
            int(item["data_group_number"].native): bytes(item["data_group_hash_value"].native)
            for item in lso["data_group_hash_values"]
        }
    signers = signed["signer_infos"]
    if len(signers) != 1:
        raise DocumentError(f"{where}: {len(signers)} signer infos, expected exactly 1")
    signer = signers[0]
    attrs = signer["signed_attrs"]
    if attrs.native is None:
        raise DocumentError(f"{where}: signer info has no signed attributes")
    signed_type = message_digest = None
    signing_time = None
    for attr in attrs:
        kind = attr["type"].native
        if kind == "content_type":
            signed_type = attr["values"][0].dotted
        elif kind == "message_digest":
            message_digest = bytes(attr["values"][0].native)
        elif kind == "signing_time":
            signing_time = attr["values"][0].native
    # The signature covers the attributes as a SET (tag 31), not with their [0] tag.
    signed_bytes = b"\x31" + attrs.dump()[1:]
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise DocumentError(f"{where}: signer identified by key identifier, not issuer and serial")
    certificates = tuple(c.chosen.dump() for c in signed["certificates"] or [])
    sig_alg = signer["signature_algorithm"]
    return SecurityObject(
        hash_algorithm=hash_algorithm,
        data_group_hashes=hashes,
        econtent=econtent,
        content_type_attribute=signed_type,
        message_digest=message_digest,
        signed_bytes=signed_bytes,
        signature=bytes(signer["signature"].native),
        signature_algorithm=sig_alg["algorithm"].native,
        signature_params=sig_alg["parameters"],
        digest_algorithm=signer["digest_algorithm"]["algorithm"].native,
        certificates=certificates,
        signer_issuer=sid.chosen["issuer"],
        signer_serial=sid.chosen["serial_number"].native,
        signing_time=signing_time,
    )
