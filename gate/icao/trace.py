"""An APDU trace: one line per command and per response, for ``egate chip read --trace``.

What crosses the wire of an ePassport is personal data and key exchange material, so the
trace shows only what identifies the exchange: the header (CLA INS P1 P2) with the
instruction's name, the status word with its meaning, and lengths. Command data is shown
only for a plain SELECT (public file identifiers and the ICAO application id); every other
payload (secure messaging, BAC and PACE cryptograms, data-group content) is a byte count.
"""

from __future__ import annotations

from collections.abc import Callable

from gate.errors import ProtocolError
from gate.icao.apdu import Command, Response
from gate.icao.status_words import describe
from gate.icao.transport import Exchange

INSTRUCTIONS = {
    0xA4: "SELECT",
    0xB0: "READ BINARY",
    0xB1: "READ BINARY (odd)",
    0x84: "GET CHALLENGE",
    0x82: "MUTUAL AUTHENTICATE",
    0x88: "INTERNAL AUTHENTICATE",
    0x22: "MANAGE SECURITY ENVIRONMENT",
    0x86: "GENERAL AUTHENTICATE",
}


def command_line(number: int, raw: bytes) -> str:
    """``> 00 A4 020C SELECT, data 011C``: a command, its payload shown only as allowed."""
    head = f"{number:4} > {raw[:2].hex(' ').upper()} {raw[2:4].hex().upper()}"
    try:
        command = Command.parse(raw)
    except ProtocolError:
        return f"{head} (malformed, {len(raw)} bytes)"
    name = INSTRUCTIONS.get(command.ins, "?")
    if command.secure:
        return f"{head} {name}, secure messaging, {len(command.data)} bytes protected"
    if not command.data:
        return f"{head} {name}"
    if command.ins == 0xA4:
        return f"{head} {name}, data {command.data.hex().upper()}"
    return f"{head} {name}, {len(command.data)} bytes of data"


def response_line(number: int, exchange: Exchange) -> str:
    """``< 9000 (success), 223 bytes``, or the error that ended the exchange."""
    if exchange.response is None:
        return f"{number:4} ! {exchange.error}"
    try:
        response = Response.parse(exchange.response)
    except ProtocolError:
        return f"{number:4} < (malformed, {len(exchange.response)} bytes)"
    secure = len(exchange.command) >= 1 and exchange.command[0] & 0x0C == 0x0C
    what = "protected" if secure else "of data"
    return f"{number:4} < {describe(response.sw)}, {len(response.data)} bytes {what}"


class ApduTrace:
    """An observer (``ChipTransportBase.add_observer``) writing each exchange as 2 lines."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self.write = write
        self.lines = 0

    def __call__(self, exchange: Exchange) -> None:
        for line in (
            command_line(exchange.number, exchange.command),
            response_line(exchange.number, exchange),
        ):
            self.write(line)
            self.lines += 1
