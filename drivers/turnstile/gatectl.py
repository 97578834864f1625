"""The gatectl wire protocol (see docs/gatectl.md), as pure bytes in / bytes out.

Frame: ``A5 5A LEN SEQ CMD PAYLOAD... CRC_HI CRC_LO``. LEN counts SEQ, CMD and the payload
(2..252). The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over LEN..PAYLOAD.
``FrameDecoder`` hunts for the sync bytes, so any garbage on the line is skipped.
"""

from __future__ import annotations

import binascii
import enum
from dataclasses import dataclass

from gate.errors import ProtocolError

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 250
MIN_LEN = 2  # SEQ + CMD
OVERHEAD = len(SYNC) + 1 + 2  # sync, LEN, CRC


class Command(enum.IntEnum):
    # host -> controller
    HEARTBEAT = 0x01
    STATUS = 0x02
    OPEN = 0x10
    LOCK = 0x11
    SET_WATCHDOG = 0x12
    # controller -> host (ACK also host -> controller, acknowledging an EVENT)
    ACK = 0x80
    NAK = 0x81
    EVENT = 0x90


class NakReason(enum.IntEnum):
    UNKNOWN_COMMAND = 1
    BAD_PAYLOAD = 2
    DOOR_FAULT = 3
    EMERGENCY_ACTIVE = 4


class DoorCode(enum.IntEnum):
    NONE = 0
    ENTRY = 1
    EXIT = 2


class StateCode(enum.IntEnum):
    CLOSED = 0
    OPEN = 1
    MOVING = 2
    JAMMED = 3
    UNKNOWN = 4


class EventCode(enum.IntEnum):
    DOOR_OPENED = 1
    DOOR_CLOSED = 2
    BEAM_BROKEN = 3
    BEAM_CLEARED = 4
    PASSAGE_COMPLETED = 5
    TAILGATING = 6
    DOOR_FORCED = 7
    DOOR_JAMMED = 8
    EMERGENCY_OPEN = 9
    EMERGENCY_CLEARED = 10
    WATCHDOG_LOCKED = 11


FLAG_EMERGENCY = 0x01
FLAG_WATCHDOG_TRIPPED = 0x02


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (binascii's C implementation)."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True)
class Frame:
    seq: int
    command: int
    payload: bytes = b""

    def encode(self) -> bytes:
        if not 0 <= self.seq <= 0xFF:
            raise ProtocolError(f"gatectl: sequence number {self.seq} is not a byte")
        if not 0 <= self.command <= 0xFF:
            raise ProtocolError(f"gatectl: command {self.command} is not a byte")
        if len(self.payload) > MAX_PAYLOAD:
            raise ProtocolError(
                f"gatectl: payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}"
            )
        body = bytes((len(self.payload) + MIN_LEN, self.seq, self.command)) + self.payload
        return SYNC + body + crc16(body).to_bytes(2, "big")


class FrameDecoder:
    """Feed bytes, get whole frames. Bad CRCs and garbage are counted and skipped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0  # bytes skipped while hunting for a frame
        self.crc_errors = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        buf = self._buf
        while True:
            start = buf.find(SYNC)
            if start < 0:
                # keep a trailing first sync byte: the second may come in the next read
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                self.discarded += len(buf) - keep
                del buf[: len(buf) - keep]
                return frames
            if start:
                self.discarded += start
                del buf[:start]
            if len(buf) < 3:
                return frames
            length = buf[2]
            if length < MIN_LEN or length > MAX_PAYLOAD + MIN_LEN:
                self.discarded += 1
                del buf[:1]
                continue
            total = 3 + length + 2
            if len(buf) < total:
                # garbage that looks like the start of a long frame must not hide a
                # complete good frame behind it: hunt for one before waiting for more
                later = self._complete_frame_after(1)
                if later < 0:
                    return frames
                self.discarded += later
                del buf[:later]
                continue
            body = bytes(buf[2 : 3 + length])
            crc = int.from_bytes(buf[3 + length : total], "big")
            if crc != crc16(body):
                # drop only the sync byte: a real frame may start inside this one
                self.crc_errors += 1
                self.discarded += 1
                del buf[:1]
                continue
            del buf[:total]
            frames.append(Frame(seq=body[1], command=body[2], payload=body[3:]))

    def _complete_frame_after(self, offset: int) -> int:
        """Index of the first complete frame with a good CRC at or after ``offset``, or -1."""
        buf = self._buf
        pos = buf.find(SYNC, offset)
        while pos >= 0 and pos + 3 <= len(buf):
            length = buf[pos + 2]
            end = pos + 3 + length + 2
            if MIN_LEN <= length <= MAX_PAYLOAD + MIN_LEN and end <= len(buf):
                body = bytes(buf[pos + 2 : pos + 3 + length])
                if int.from_bytes(buf[end - 2 : end], "big") == crc16(body):
                    return pos
            pos = buf.find(SYNC, pos + 1)
        return -1


@dataclass(frozen=True)
class StatusPayload:
    entry: StateCode
    exit: StateCode
    beams: int  # bit i = beam i broken (beam 0 on the entry side)
    beam_count: int
    flags: int

    def encode(self) -> bytes:
        return bytes((self.entry, self.exit, self.beams, self.beam_count, self.flags))

    @classmethod
    def decode(cls, payload: bytes) -> StatusPayload:
        if len(payload) != 5:
            raise ProtocolError(f"gatectl: status payload has {len(payload)} bytes, expected 5")
        try:
            return cls(
                StateCode(payload[0]), StateCode(payload[1]), payload[2], payload[3], payload[4]
            )
        except ValueError as exc:
            raise ProtocolError(f"gatectl: bad door state in status {payload.hex()}") from exc


@dataclass(frozen=True)
class EventPayload:
    code: EventCode
    door: DoorCode
    beams: int

    def encode(self) -> bytes:
        return bytes((self.code, self.door, self.beams))

    @classmethod
    def decode(cls, payload: bytes) -> EventPayload:
        if len(payload) != 3:
            raise ProtocolError(f"gatectl: event payload has {len(payload)} bytes, expected 3")
        try:
            return cls(EventCode(payload[0]), DoorCode(payload[1]), payload[2])
        except ValueError as exc:
            raise ProtocolError(f"gatectl: unknown event or door in {payload.hex()}") from exc
