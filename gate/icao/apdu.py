"""Command APDUs (ISO/IEC 7816-4) built as values, encoded short or extended as needed."""

from __future__ import annotations

from dataclasses import dataclass

from gate.errors import DocumentError, ProtocolError

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282


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

    def encode(self) -> bytes:
        head = bytes([self.cla, self.ins, self.p1, self.p2])
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
        return head + body


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise ProtocolError(f"chip answered {len(raw)} bytes, a response needs at least 2")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    @property
    def ok(self) -> bool:
        return self.sw in (SW_OK, SW_END_OF_FILE)
