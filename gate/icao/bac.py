"""Basic Access Control (ICAO Doc 9303 part 11, section 4.3): the reader's side.

The document basic access keys come from the MRZ information; GET CHALLENGE and MUTUAL
AUTHENTICATE establish session keys and the send sequence counter for secure messaging.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field

from gate.errors import SecurityError
from gate.icao import crypto


@dataclass(frozen=True)
class SessionKeys:
    ks_enc: bytes = field(repr=False)
    ks_mac: bytes = field(repr=False)
    ssc: int
    cipher: str = "3DES"  # PACE and Chip Authentication may agree on AES-128/192/256


@dataclass(frozen=True)
class AccessKeys:
    k_enc: bytes
    k_mac: bytes

    @classmethod
    def from_mrz_information(cls, mrz_information: bytes) -> AccessKeys:
        seed = crypto.bac_key_seed(mrz_information)
        return cls(
            crypto.derive_key(seed, crypto.ENC_COUNTER), crypto.derive_key(seed, crypto.MAC_COUNTER)
        )


@dataclass(frozen=True)
class Handshake:
    """The reader's half of one MUTUAL AUTHENTICATE: its nonce, key share and the cryptogram."""

    keys: AccessKeys
    rnd_ic: bytes
    rnd_ifd: bytes
    k_ifd: bytes

    @classmethod
    def start(
        cls,
        keys: AccessKeys,
        rnd_ic: bytes,
        *,
        rnd_ifd: bytes | None = None,
        k_ifd: bytes | None = None,
    ) -> Handshake:
        if len(rnd_ic) != 8:
            raise SecurityError(f"BAC: GET CHALLENGE returned {len(rnd_ic)} bytes, expected 8")
        return cls(keys, rnd_ic, rnd_ifd or os.urandom(8), k_ifd or os.urandom(16))

    def command_data(self) -> bytes:
        e_ifd = crypto.encrypt(self.keys.k_enc, self.rnd_ifd + self.rnd_ic + self.k_ifd)
        return e_ifd + crypto.retail_mac(self.keys.k_mac, e_ifd)

    def finish(self, response_data: bytes) -> SessionKeys:
        if len(response_data) != 40:
            raise SecurityError(
                f"BAC: MUTUAL AUTHENTICATE answer has {len(response_data)} bytes, expected 40"
            )
        e_ic, m_ic = response_data[:32], response_data[32:]
        if not hmac.compare_digest(crypto.retail_mac(self.keys.k_mac, e_ic), m_ic):
            raise SecurityError("BAC: the chip's MUTUAL AUTHENTICATE MAC is wrong")
        plain = crypto.decrypt(self.keys.k_enc, e_ic)
        if plain[:8] != self.rnd_ic or plain[8:16] != self.rnd_ifd:
            raise SecurityError("BAC: the chip's answer does not echo the nonces")
        k_ic = plain[16:32]
        seed = bytes(a ^ b for a, b in zip(self.k_ifd, k_ic, strict=True))
        ssc = int.from_bytes(self.rnd_ic[4:8] + self.rnd_ifd[4:8], "big")
        return SessionKeys(
            crypto.derive_key(seed, crypto.ENC_COUNTER),
            crypto.derive_key(seed, crypto.MAC_COUNTER),
            ssc,
        )
