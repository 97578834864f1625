"""Symmetric primitives of BAC and 3DES secure messaging (ICAO Doc 9303 part 11, section 9).

3DES is two-key TDEA in CBC mode with a zero IV; the MAC is ISO/IEC 9797-1 MAC algorithm 3
("retail MAC") with padding method 2. Key derivation: SHA-1 over seed || counter, parity
bits adjusted. These are legacy algorithms the standard requires, not choices.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from gate.errors import SecurityError

BLOCK = 8
ENC_COUNTER = 1
MAC_COUNTER = 2
_ZERO_IV = bytes(BLOCK)


def pad(data: bytes, block: int = BLOCK) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros up to a multiple of ``block``."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % block)


def unpad(data: bytes, block: int = BLOCK) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80") or len(data) - len(stripped) >= block:
        raise SecurityError("secure messaging: decrypted data has invalid padding")
    return stripped[:-1]


def _adjust_parity(key: bytes) -> bytes:
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) & 1) for b in key)


def derive_key(seed: bytes, counter: int) -> bytes:
    """The 16-byte 3DES key for ``counter`` (1: encryption, 2: MAC) from a 16-byte seed."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
    return _adjust_parity(digest[:16])


def bac_key_seed(mrz_information: bytes) -> bytes:
    return hashlib.sha1(mrz_information).digest()[:16]


def _tdes(key: bytes) -> TripleDES:
    return TripleDES(key + key[:8] if len(key) == 16 else key)


def encrypt(key: bytes, data: bytes) -> bytes:
    """3DES-CBC with zero IV; ``data`` must already be padded."""
    enc = Cipher(_tdes(key), modes.CBC(_ZERO_IV)).encryptor()
    return enc.update(data) + enc.finalize()


def decrypt(key: bytes, data: bytes) -> bytes:
    if len(data) % BLOCK:
        raise SecurityError(
            f"secure messaging: cryptogram of {len(data)} bytes is not whole blocks"
        )
    dec = Cipher(_tdes(key), modes.CBC(_ZERO_IV)).decryptor()
    return dec.update(data) + dec.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 over ``pad(data)`` with a 16-byte key (Ka || Kb)."""
    ka, kb = key[:8], key[8:16]
    padded = pad(data)
    # Single DES is 3DES with three equal keys: CBC over all blocks with Ka ...
    chained = Cipher(_tdes(ka * 3), modes.CBC(_ZERO_IV)).encryptor().update(padded)
    last = chained[-BLOCK:]
    # ... then the last block is decrypted with Kb and encrypted with Ka again.
    last = Cipher(_tdes(kb * 3), modes.ECB()).decryptor().update(last)
    return Cipher(_tdes(ka * 3), modes.ECB()).encryptor().update(last)
