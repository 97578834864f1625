"""LCUS-type USB relay boards (CH340 serial, 9600 8N1), as pure bytes in / bytes out.

Each command is four bytes ``A0 CH STATE SUM``: channel 1..8, state 0 (off) or 1 (on),
``SUM = (0xA0 + CH + STATE) & 0xFF``. The boards never answer, so a driver cannot read the
relay state back: it reports what it last commanded, flagged as assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from gate.errors import ProtocolError

HEADER = 0xA0
FRAME_SIZE = 4
MAX_CHANNEL = 8
BAUDRATE = 9600


@dataclass(frozen=True)
class RelayCommand:
    channel: int  # 1-based, as printed on the board
    on: bool

    def encode(self) -> bytes:
        if not 1 <= self.channel <= MAX_CHANNEL:
            raise ProtocolError(f"lcus: relay channel {self.channel} is not in 1..{MAX_CHANNEL}")
        state = 1 if self.on else 0
        return bytes((HEADER, self.channel, state, (HEADER + self.channel + state) & 0xFF))


class RelayDecoder:
    """What a board does with the bytes it receives: valid frames pass, others are skipped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0

    def feed(self, data: bytes) -> list[RelayCommand]:
        self._buf += data
        buf = self._buf
        out: list[RelayCommand] = []
        while True:
            start = buf.find(HEADER)
            if start < 0:
                self.discarded += len(buf)
                buf.clear()
                return out
            if start:
                self.discarded += start
                del buf[:start]
            if len(buf) < FRAME_SIZE:
                return out
            _, channel, state, total = buf[:FRAME_SIZE]
            valid = (
                1 <= channel <= MAX_CHANNEL
                and state in (0, 1)
                and total == (HEADER + channel + state) & 0xFF
            )
            if not valid:
                self.discarded += 1
                del buf[:1]
                continue
            del buf[:FRAME_SIZE]
            out.append(RelayCommand(channel, bool(state)))
