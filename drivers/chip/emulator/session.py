"""The virtual chip's side of secure messaging (ICAO Doc 9303 part 11, 9.8): it checks and
decrypts protected commands and protects its answers, 3DES or AES, with the send sequence
counter running on both sides."""

from __future__ import annotations

import hmac

from gate.errors import ProtocolError
from gate.icao.apdu import Command
from gate.icao.bac import SessionKeys
from gate.icao.sm_cipher import SmCipher
from gate.icao.status_words import StatusWord


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    elif n < 0x10000:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    else:
        length = bytes([0x83]) + n.to_bytes(3, "big")
    return bytes([tag]) + length + value


def sm_objects(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(tag, value, raw element) of single-byte-tag SM data objects."""
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise ProtocolError("truncated SM object")
        tag, first = data[i], data[i + 1]
        j = i + 2
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82):
            count = first & 0x7F
            length = int.from_bytes(data[j : j + count], "big")
            j += count
        else:
            raise ProtocolError("bad SM object length")
        if j + length > len(data):
            raise ProtocolError("SM object runs past the APDU")
        out.append((tag, data[j : j + length], data[i : j + length]))
        i = j + length
    return out


class ChipSession:
    """The chip's side of an established secure-messaging session (3DES or AES)."""

    def __init__(self, keys: SessionKeys) -> None:
        self.cipher = SmCipher(keys.cipher, keys.ks_enc, keys.ks_mac)
        self.ssc = keys.ssc

    def _next(self) -> int:
        self.ssc = self.cipher.next_ssc(self.ssc)
        return self.ssc

    def unwrap(self, apdu: Command) -> Command:
        ssc = self._next()
        objects = sm_objects(apdu.data)
        found = {tag: (value, raw) for tag, value, raw in objects}
        if 0x8E not in found:
            raise ProtocolError("no DO'8E'")
        covered = b"".join(raw for tag, _, raw in objects if tag in (0x85, 0x87, 0x97))
        expected = self.cipher.mac(ssc, self.cipher.pad(apdu.header) + covered)
        if not hmac.compare_digest(expected, found[0x8E][0]):
            raise ProtocolError("command MAC does not verify")
        data = b""
        if 0x87 in found:
            value = found[0x87][0]
            if not value or value[0] != 1:
                raise ProtocolError("DO'87' without padding indicator")
            data = self.cipher.unpad(self.cipher.decrypt(ssc, value[1:]))
        elif 0x85 in found:  # odd INS: BER-TLV data, no padding indicator
            data = self.cipher.unpad(self.cipher.decrypt(ssc, found[0x85][0]))
        le = None
        if 0x97 in found:
            raw_le = found[0x97][0]
            le = int.from_bytes(raw_le, "big") or (256 if len(raw_le) <= 1 else 65536)
        return Command(apdu.cla & ~0x0C, apdu.ins, apdu.p1, apdu.p2, data, le)

    def wrap(
        self, data: bytes, sw: StatusWord, *, odd: bool = False, corrupt_mac: bool = False
    ) -> bytes:
        ssc = self._next()
        body = b""
        if data:
            cryptogram = self.cipher.encrypt(ssc, self.cipher.pad(data))
            body += tlv(0x85, cryptogram) if odd else tlv(0x87, b"\x01" + cryptogram)
        body += tlv(0x99, sw.raw)
        mac = self.cipher.mac(ssc, body)
        if corrupt_mac:
            mac = bytes([mac[0] ^ 0x01]) + mac[1:]
        return body + tlv(0x8E, mac) + sw.raw
