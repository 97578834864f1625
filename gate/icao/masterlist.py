"""ICAO CSCA master lists (Doc 9303 part 12 section 9): CMS SignedData over CscaMasterList.

A master list is a convenient way to ship many CSCA certificates. Loading one here extracts
the certificates; the list's own signature is checked against the signer certificate it
carries, but whom to trust for the list is the operator's choice (placing the file in the
trust folder), as for loose CSCA certificates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gate.errors import ConfigError

MASTER_LIST_OID = "2.23.136.1.1.2"


class _CertificateSet(core.SetOf):  # type: ignore[misc]
    _child_spec = asn1_x509.Certificate


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 (asn1crypto reads this class attribute)
        ("version", core.Integer),
        ("cert_list", _CertificateSet),
    ]


def build_master_list(
    certificates: list[x509.Certificate],
    signer: x509.Certificate,
    sign: Callable[[bytes], bytes],
    signature_algorithm: str,
) -> bytes:
    """A DER master list signed by ``signer`` (for tests and test PKIs)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    content = CscaMasterList(
        {
            "version": 0,
            "cert_list": [
                asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certificates
            ],
        }
    ).dump()
    attributes = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [MASTER_LIST_OID]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        ]
    )
    cert = asn1_x509.Certificate.load(signer.public_bytes(Encoding.DER))
    signer_info = cms.SignerInfo(
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
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": signature_algorithm},
            "signature": sign(attributes.dump()),
        }
    )
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": MASTER_LIST_OID, "content": content},
            "certificates": [cert],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def load_master_list(
    data: bytes, name: str, anchors: list[x509.Certificate] | None = None
) -> list[x509.Certificate]:
    """The CSCA certificates of a master list; ``ConfigError`` naming the file otherwise.

    With ``anchors`` (``egate pki import``), the list's signer must be one of them or be
    issued by one of them (a master list signer certificate is issued by a CSCA)."""
    try:
        info = cms.ContentInfo.load(data, strict=True)
        signed = info["content"]
        eci = signed["encap_content_info"]
        if (
            info["content_type"].native != "signed_data"
            or eci["content_type"].dotted != MASTER_LIST_OID
        ):
            raise ConfigError(f"trust store: {name} is not an ICAO CSCA master list")
        content = bytes(eci["content"].native)
        signer = _check_signature(signed, content, name)
        if anchors is not None:
            _check_anchor(signer, anchors, name)
        listing = CscaMasterList.load(content, strict=True)
        return [x509.load_der_x509_certificate(c.dump()) for c in listing["cert_list"]]
    except ConfigError:
        raise
    except RecursionError as exc:
        raise ConfigError(f"trust store: master list {name} is nested too deep") from exc
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise ConfigError(f"trust store: master list {name} is malformed: {exc}") from exc


def _check_anchor(signer: x509.Certificate, anchors: list[x509.Certificate], name: str) -> None:
    for anchor in anchors:
        if signer == anchor:
            return
        try:
            signer.verify_directly_issued_by(anchor)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return
    raise ConfigError(
        f"master list {name}: its signer ({signer.subject.rfc4514_string()}) is not a trust "
        "anchor nor issued by one"
    )


def _check_signature(signed: cms.SignedData, content: bytes, name: str) -> x509.Certificate:
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        raise ConfigError(
            f"trust store: master list {name} has {len(signer_infos)} signer infos, expected 1"
        )
    signer_info = signer_infos[0]
    attrs = signer_info["signed_attrs"]
    digests = [a["values"] for a in attrs if a["type"].native == "message_digest"]
    if len(digests) != 1 or len(digests[0]) != 1:
        raise ConfigError(
            f"trust store: master list {name}: the signed attributes carry no single message digest"
        )
    if digests[0][0].native != hashlib.sha256(content).digest():
        raise ConfigError(f"trust store: master list {name}: message digest does not match")
    sid = signer_info["sid"].chosen
    signers = [
        c.chosen for c in signed["certificates"]
        if c.chosen.serial_number == sid["serial_number"].native
    ]  # fmt: skip
    if not signers:
        raise ConfigError(f"trust store: master list {name} carries no signer certificate")
    signer = x509.load_der_x509_certificate(signers[0].dump())
    key = signer.public_key()
    message = b"\x31" + attrs.dump()[1:]
    signature = bytes(signer_info["signature"].native)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            raise ConfigError(f"trust store: master list {name}: unsupported signer key")
    except InvalidSignature as exc:
        raise ConfigError(f"trust store: master list {name}: signature does not verify") from exc
    return signer
