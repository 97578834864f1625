"""The virtual chip's Active Authentication signature (ICAO Doc 9303 part 11, 6.1): RSA
with ISO/IEC 9796-2 scheme 1, or ECDSA in plain (r || s) form."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

AaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def sign_challenge(key: AaKey, challenge: bytes) -> bytes:
    """INTERNAL AUTHENTICATE's answer to the terminal's 8-byte challenge."""
    if isinstance(key, rsa.RSAPrivateKey):
        return _iso9796_2_sign(key, challenge)
    der = key.sign(challenge, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _iso9796_2_sign(key: rsa.RSAPrivateKey, challenge: bytes) -> bytes:
    """ISO/IEC 9796-2 digital signature scheme 1, partial recovery, SHA-1, trailer 'BC'."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    m1 = os.urandom(k - 20 - 2)
    digest = hashlib.sha1(m1 + challenge).digest()
    f = int.from_bytes(b"\x6a" + m1 + digest + b"\xbc", "big")
    return pow(f, numbers.d, n).to_bytes(k, "big")
