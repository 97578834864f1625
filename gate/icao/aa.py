"""Active Authentication (ICAO Doc 9303 part 11 section 6.1): the chip proves it holds the
private key whose public half is in DG15 by signing a fresh 8-byte challenge.

RSA keys sign with ISO/IEC 9796-2 scheme 1 (message recovery; trailer BC = SHA-1 or xxCC);
EC keys sign with plain ECDSA (r || s), the hash named in DG14's ActiveAuthenticationInfo.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from gate.icao import tlv

AaStatus = Literal["valid", "invalid", "not_supported"]
# ISO/IEC 9796-2 hash identifiers in the two-byte trailer xx CC.
_TRAILER_HASHES = {0x33: hashlib.sha1, 0x34: hashlib.sha256, 0x35: hashlib.sha512,
                   0x36: hashlib.sha384, 0x38: hashlib.sha224}  # fmt: skip
# BSI TR-03111 ecdsa-plain-signatures OIDs (DER of the OID value) -> hash.
_EC_PLAIN = {
    "0.4.0.127.0.7.1.1.4.1.1": hashes.SHA1,
    "0.4.0.127.0.7.1.1.4.1.2": hashes.SHA224,
    "0.4.0.127.0.7.1.1.4.1.3": hashes.SHA256,
    "0.4.0.127.0.7.1.1.4.1.4": hashes.SHA384,
    "0.4.0.127.0.7.1.1.4.1.5": hashes.SHA512,
}


@dataclass(frozen=True)
class ActiveAuthResult:
    status: AaStatus
    reason: str
    algorithm: str = ""


def _dg14_hash(dg14: bytes | None) -> type[hashes.HashAlgorithm]:
    """The hash DG14's ActiveAuthenticationInfo names; SHA-256 when DG14 says nothing."""
    if dg14:
        from asn1crypto import core

        for oid, algorithm in _EC_PLAIN.items():
            if core.ObjectIdentifier(oid).dump() in dg14:
                return algorithm
    return hashes.SHA256


def verify_active_auth(
    dg15: bytes, challenge: bytes, signature: bytes, dg14: bytes | None = None
) -> ActiveAuthResult:
    try:
        spki = tlv.decode(dg15).value
        key = serialization.load_der_public_key(spki)
    except ValueError as exc:
        return ActiveAuthResult("invalid", f"DG15 public key cannot be loaded: {exc}")
    if isinstance(key, rsa.RSAPublicKey):
        return _verify_rsa(key, challenge, signature)
    if isinstance(key, ec.EllipticCurvePublicKey):
        hash_class = _dg14_hash(dg14)
        size = (key.curve.key_size + 7) // 8
        name = f"ECDSA-plain-{hash_class().name.upper()}"
        if len(signature) != 2 * size:
            return ActiveAuthResult("invalid", f"ECDSA signature of {len(signature)} bytes", name)
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        try:
            key.verify(der, challenge, ec.ECDSA(hash_class()))
        except InvalidSignature:
            return ActiveAuthResult("invalid", "AA signature does not verify with DG15 key", name)
        return ActiveAuthResult("valid", "chip signed the challenge with the DG15 key", name)
    return ActiveAuthResult("invalid", f"DG15 key type {type(key).__name__} not supported")


def _verify_rsa(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> ActiveAuthResult:
    numbers = key.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    name = "RSA-ISO9796-2"
    if len(signature) != k:
        return ActiveAuthResult(
            "invalid", f"RSA AA signature of {len(signature)} bytes, not {k}", name
        )
    f = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(k, "big")
    if f[-1] == 0xBC:
        hash_function, trailer = hashlib.sha1, 1
    elif f[-1] == 0xCC and f[-2] in _TRAILER_HASHES:
        hash_function, trailer = _TRAILER_HASHES[f[-2]], 2
    else:
        return ActiveAuthResult("invalid", "AA signature has no ISO/IEC 9796-2 trailer", name)
    size = hash_function().digest_size
    if f[0] != 0x6A:
        return ActiveAuthResult("invalid", "AA signature header is not 6A (partial recovery)", name)
    m1 = f[1 : k - trailer - size]
    digest = f[k - trailer - size : k - trailer]
    if not hmac.compare_digest(hash_function(m1 + challenge).digest(), digest):
        return ActiveAuthResult("invalid", "AA signature does not cover our challenge", name)
    return ActiveAuthResult("valid", "chip signed the challenge with the DG15 key", name)
