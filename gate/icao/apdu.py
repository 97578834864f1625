"""Command APDUs (ISO/IEC 7816-4) built as values, encoded short or extended as needed, and
parsed back (cases 1-4, short and extended): the card emulator and the secure-messaging
transport read commands with the same parser."""

from __future__ import annotations

from dataclasses import dataclass

from gate.errors import DocumentError, ProtocolError
from gate.icao.status_words import StatusWord, describe

SW_OK = StatusWord.OK
SW_END_OF_FILE = StatusWord.END_OF_FILE


class StatusWordError(DocumentError):
    """The chip refused a command with an ISO 7816 status word (e.g. no such file)."""


@dataclass(frozen=True)
class Command:
    """A command APDU. ``le`` is the number of bytes expected (256 / 65536 for "all")."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    @property
    def extended(self) -> bool:
        return len(self.data) > 255 or (self.le is not None and self.le > 256)

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])

    @property
    def secure(self) -> bool:
        """The class byte announces secure messaging (ISO 7816-4: bits 3-4 set)."""
        return self.cla & 0x0C == 0x0C

    def encode(self) -> bytes:
        ext = self.extended
        body = b""
        if self.data:
            if ext:
                body += b"\x00" + len(self.data).to_bytes(2, "big")
            else:
                body += bytes([len(self.data)])
            body += self.data
        if self.le is not None:
            if ext:
                prefix = b"" if self.data else b"\x00"
                body += prefix + (self.le % 65536).to_bytes(2, "big")
            else:
                body += bytes([self.le % 256])
        return self.header + body

    @classmethod
    def parse(cls, raw: bytes) -> Command:
        """ISO 7816-4 cases 1-4, short and extended; ``ProtocolError`` when the lengths lie."""
        if len(raw) < 4:
            raise ProtocolError(f"APDU of {len(raw)} bytes: a command needs CLA INS P1 P2")
        body = raw[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif body and body[0] == 0 and len(body) >= 3:  # extended
            if len(body) == 3:
                le = int.from_bytes(body[1:3], "big") or 65536
            else:
                lc = int.from_bytes(body[1:3], "big")
                rest = body[3:]
                if len(rest) == lc + 2:
                    data, le = rest[:lc], int.from_bytes(rest[lc:], "big") or 65536
                elif len(rest) != lc:
                    raise ProtocolError("extended APDU length mismatch")
                else:
                    data = rest
        elif body:
            lc, rest = body[0], body[1:]
            if len(rest) == lc + 1:
                data, le = rest[:lc], rest[lc] or 256
            elif len(rest) != lc:
                raise ProtocolError("short APDU length mismatch")
            else:
                data = rest
        return cls(raw[0], raw[1], raw[2], raw[3], bytes(data), le)


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise ProtocolError(f"chip answered {len(raw)} bytes, a response needs at least 2")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def ok(self) -> bool:
        return self.sw in (SW_OK, SW_END_OF_FILE)

    @property
    def status(self) -> str:
        """The status word with its name: ``"6A82 (file not found)"``."""
        return describe(self.sw)
