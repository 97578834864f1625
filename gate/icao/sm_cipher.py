"""The cipher suites of secure messaging (ICAO Doc 9303 part 11, 9.8): 3DES and AES.

Both sides (the reader's ``SecureMessaging`` and the virtual chip) build their protected
APDUs through one ``SmCipher``, so the two stay byte-compatible. 3DES: 8-byte blocks and
SSC, CBC with a zero IV, retail MAC. AES: 16-byte blocks and SSC, CBC whose IV is the SSC
encrypted under KSenc, CMAC cut to 8 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gate.icao import aes, crypto


@dataclass(frozen=True)
class SmCipher:
    name: str  # "3DES", "AES-128", "AES-192", "AES-256"
    ks_enc: bytes = field(repr=False)
    ks_mac: bytes = field(repr=False)

    @property
    def block(self) -> int:
        return crypto.BLOCK if self.name == "3DES" else aes.BLOCK

    def ssc_bytes(self, ssc: int) -> bytes:
        return ssc.to_bytes(self.block, "big")

    def next_ssc(self, ssc: int) -> int:
        return (ssc + 1) % (1 << (8 * self.block))

    def pad(self, data: bytes) -> bytes:
        return crypto.pad(data, self.block)

    def unpad(self, data: bytes) -> bytes:
        return crypto.unpad(data, self.block)

    def encrypt(self, ssc: int, padded: bytes) -> bytes:
        if self.name == "3DES":
            return crypto.encrypt(self.ks_enc, padded)
        return aes.encrypt(self.ks_enc, padded, self._iv(ssc))

    def decrypt(self, ssc: int, cryptogram: bytes) -> bytes:
        if self.name == "3DES":
            return crypto.decrypt(self.ks_enc, cryptogram)
        return aes.decrypt(self.ks_enc, cryptogram, self._iv(ssc))

    def mac(self, ssc: int, message: bytes) -> bytes:
        """MAC over SSC || ``message`` (padded here, as 9.8.6 says)."""
        data = self.ssc_bytes(ssc) + message
        if self.name == "3DES":
            return crypto.retail_mac(self.ks_mac, data)
        return aes.cmac8(self.ks_mac, self.pad(data))

    def _iv(self, ssc: int) -> bytes:
        return aes.encrypt_block(self.ks_enc, self.ssc_bytes(ssc))
