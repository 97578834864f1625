"""AES primitives of PACE and AES secure messaging (ICAO Doc 9303 part 11, sections 9.7-9.8).

Key derivation (9.7.1): SHA-1 for 3DES and AES-128, SHA-256 for AES-192/256, over the
shared secret || a 32-bit counter (1: encryption, 2: MAC, 3: the PACE password key).
Encryption is AES-CBC; secure messaging takes the IV from the send sequence counter
encrypted under the session key, PACE nonces use a zero IV. The MAC is AES-CMAC cut to
8 bytes.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gate.errors import SecurityError
from gate.icao import crypto

BLOCK = 16
PACE_COUNTER = 3
MAC_LENGTH = 8


def kdf(secret: bytes, counter: int, cipher: str) -> bytes:
    """The session or password key for ``cipher`` ("3DES", "AES-128", "AES-192", "AES-256")."""
    if cipher == "3DES":
        return crypto.derive_key(secret, counter)
    if cipher == "AES-128":
        return hashlib.sha1(secret + counter.to_bytes(4, "big")).digest()[:16]
    size = {"AES-192": 24, "AES-256": 32}.get(cipher)
    if size is None:
        raise SecurityError(f"key derivation: unknown cipher {cipher!r}")
    return hashlib.sha256(secret + counter.to_bytes(4, "big")).digest()[:size]


def encrypt(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    """AES-CBC; ``data`` must already be padded to whole blocks."""
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    if len(data) % BLOCK or not data:
        raise SecurityError(f"AES cryptogram of {len(data)} bytes is not whole blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def encrypt_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def cmac8(key: bytes, data: bytes) -> bytes:
    """AES-CMAC over ``data`` (padded by the caller where the protocol says so), 8 bytes."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:MAC_LENGTH]
