"""Secure messaging with 3DES or AES session keys (ICAO Doc 9303 part 11, 9.8): reader side.

Every protected command and response increments the send sequence counter (SSC); the MAC
covers the SSC, so a replayed or reordered APDU fails the check.
"""

from __future__ import annotations

import hmac

from gate.errors import DocumentError, ProtocolError, SecurityError
from gate.icao import tlv
from gate.icao.apdu import Command, Response
from gate.icao.bac import SessionKeys
from gate.icao.sm_cipher import SmCipher
from gate.icao.status_words import SM_ERRORS


class SecureMessaging:
    def __init__(self, keys: SessionKeys) -> None:
        self.cipher = SmCipher(keys.cipher, keys.ks_enc, keys.ks_mac)
        self.ssc = keys.ssc

    def _next_ssc(self) -> int:
        self.ssc = self.cipher.next_ssc(self.ssc)
        return self.ssc

    def wrap(self, command: Command) -> bytes:
        cla = command.cla | 0x0C
        header = bytes([cla, command.ins, command.p1, command.p2])
        body = b""
        ssc = self._next_ssc()
        if command.data:
            cryptogram = self.cipher.encrypt(ssc, self.cipher.pad(command.data))
            # Odd INS (READ BINARY B1) carries BER-TLV data: DO'85' without padding indicator.
            if command.ins & 1:
                body += tlv.encode(0x85, cryptogram)
            else:
                body += tlv.encode(0x87, b"\x01" + cryptogram)
        if command.le is not None:
            le = command.le % 65536 if command.le > 256 else command.le % 256
            width = 2 if command.le > 256 else 1
            body += tlv.encode(0x97, le.to_bytes(width, "big"))
        mac = self.cipher.mac(ssc, self.cipher.pad(header) + body)
        body += tlv.encode(0x8E, mac)
        extended = len(body) > 255 or (command.le or 0) > 231
        return Command(
            cla, command.ins, command.p1, command.p2, body, 65536 if extended else 256
        ).encode()

    def unwrap(self, raw: bytes) -> Response:
        response = Response.parse(raw)
        ssc = self._next_ssc()
        if not response.data:
            if response.sw in SM_ERRORS:
                raise SecurityError(
                    f"secure messaging: the chip rejected our MAC (SW {response.status}); "
                    "session closed"
                )
            # A plain status word without SM objects: only errors may come back this way.
            if response.ok:
                raise SecurityError("secure messaging: the chip answered success without a MAC")
            return response
        found: dict[int, bytes] = {}
        covered = b""
        offset = 0
        try:
            while offset < len(response.data):
                tag, length, start = tlv.read_header(response.data, offset)
                if start + length > len(response.data):
                    raise ProtocolError(f"secure messaging: DO'{tag:X}' runs past the response")
                found[tag] = response.data[start : start + length]
                if tag in (0x85, 0x87, 0x99):
                    # The MAC covers the objects exactly as the chip encoded them.
                    covered += response.data[offset : start + length]
                offset = start + length
        except DocumentError as exc:
            raise ProtocolError(f"secure messaging: response objects are not TLV: {exc}") from exc
        mac_value, status = found.get(0x8E), found.get(0x99)
        if mac_value is None or status is None:
            raise SecurityError("secure messaging: response lacks DO'99' or DO'8E'")
        if not hmac.compare_digest(self.cipher.mac(ssc, covered), mac_value):
            raise SecurityError("secure messaging: response MAC does not verify")
        data = b""
        if 0x87 in found:
            value = found[0x87]
            if not value or value[0] != 0x01:
                raise ProtocolError("secure messaging: DO'87' lacks padding indicator 01")
            data = self.cipher.unpad(self.cipher.decrypt(ssc, value[1:]))
        elif 0x85 in found:
            data = self.cipher.unpad(self.cipher.decrypt(ssc, found[0x85]))
        if len(status) != 2:
            raise ProtocolError(f"secure messaging: DO'99' has {len(status)} bytes, not 2")
        return Response(data, int.from_bytes(status, "big"))
