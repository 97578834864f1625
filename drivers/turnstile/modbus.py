"""Modbus RTU for door I/O modules, as pure bytes in / bytes out, framed by pymodbus.

The I/O module is dumb: coils drive the door relays (ON = the door motor opens the door and
holds it; OFF = the door closes and locks), discrete inputs read the door-closed contacts,
the presence beams and the emergency-open input. Where they sit is ``ModbusMap``.
Framing and CRC come from pymodbus's ``FramerRTU``; the PDUs are pymodbus's own classes.
A server (the emulated module) reads requests with ``RequestDecoder`` instead, which keeps
the raw fields pymodbus would interpret (a coil value of 0x1234 is not "on").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from typing import Any

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsResponse,
    ReadDiscreteInputsRequest,
    ReadDiscreteInputsResponse,
    WriteSingleCoilRequest,
    WriteSingleCoilResponse,
)

from gate.errors import ConfigError, DeviceError, ProtocolError

READ_COILS = 1
READ_DISCRETE_INPUTS = 2
WRITE_SINGLE_COIL = 5
MAX_READ_BITS = 2000  # the spec's limit on one FC01/FC02 request
COIL_ON, COIL_OFF = 0xFF00, 0x0000  # the only legal FC05 values

# exception codes (Modbus application protocol v1.1b3, section 7)
ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
SERVER_DEVICE_FAILURE = 4
EXCEPTION_NAMES = {
    ILLEGAL_FUNCTION: "illegal function",
    ILLEGAL_DATA_ADDRESS: "illegal data address",
    ILLEGAL_DATA_VALUE: "illegal data value",
    SERVER_DEVICE_FAILURE: "server device failure",
}
FUNCTION_NAMES = {
    READ_COILS: "read coils",
    READ_DISCRETE_INPUTS: "read discrete inputs",
    WRITE_SINGLE_COIL: "write single coil",
}
# request sizes on the wire (unit + function + data + CRC); other functions run to the
# end of what arrived, as an RTU frame ends at a silence on the line
_FIXED_REQUEST_SIZE = {fc: 8 for fc in (1, 2, 3, 4, 5, 6)}
_COUNTED_REQUEST = {15: 6, 16: 6}  # function -> offset of its byte count


@dataclass(frozen=True)
class ModbusMap:
    """Where the lane's signals sit on the I/O module (0-based Modbus addresses)."""

    unit: int = 1
    entry_coil: int = 0
    exit_coil: int = 1
    entry_closed_input: int = 0
    exit_closed_input: int = 1
    beam_inputs: tuple[int, ...] = (2, 3, 4)  # entry side first; () when there are none
    emergency_input: int | None = 5

    def __post_init__(self) -> None:
        if not 1 <= self.unit <= 247:
            raise ConfigError(f"modbus: unit {self.unit} is not in 1..247")
        inputs = [self.entry_closed_input, self.exit_closed_input, *self.beam_inputs]
        if self.emergency_input is not None:
            inputs.append(self.emergency_input)
        if len(set(inputs)) != len(inputs):
            raise ConfigError(f"modbus: discrete inputs overlap: {inputs}")
        if self.entry_coil == self.exit_coil:
            raise ConfigError(f"modbus: entry_coil and exit_coil are both {self.entry_coil}")
        if min([*inputs, self.entry_coil, self.exit_coil]) < 0:
            raise ConfigError("modbus: addresses must not be negative")

    @property
    def input_span(self) -> tuple[int, int]:
        """(first address, count) covering every discrete input, read in one request."""
        inputs = [self.entry_closed_input, self.exit_closed_input, *self.beam_inputs]
        if self.emergency_input is not None:
            inputs.append(self.emergency_input)
        return min(inputs), max(inputs) - min(inputs) + 1

    @property
    def coil_span(self) -> tuple[int, int]:
        lo = min(self.entry_coil, self.exit_coil)
        return lo, max(self.entry_coil, self.exit_coil) - lo + 1

    @classmethod
    def from_options(cls, options: dict[str, str]) -> ModbusMap:
        """Build from address options (``unit=1&exit_coil=3&beam_inputs=2,3,4``)."""
        kwargs: dict[str, Any] = {}
        names = {f.name for f in fields(cls)}
        for key, text in options.items():
            if key not in names:
                raise ConfigError(f"modbus: unknown address option {key!r}")
            try:
                if key == "beam_inputs":
                    kwargs[key] = tuple(int(v) for v in text.split(",") if v)
                elif key == "emergency_input" and text in ("", "none"):
                    kwargs[key] = None
                else:
                    kwargs[key] = int(text)
            except ValueError as exc:
                raise ConfigError(f"modbus: option {key}={text!r} is not a number") from exc
        return cls(**kwargs)


@dataclass(frozen=True)
class Inputs:
    """A decoded read of the discrete inputs."""

    entry_closed: bool
    exit_closed: bool
    beams: tuple[bool, ...]
    emergency: bool

    @classmethod
    def from_bits(cls, bits: list[bool], mapping: ModbusMap) -> Inputs:
        first, count = mapping.input_span
        if len(bits) < count:
            raise ProtocolError(f"modbus: got {len(bits)} input bits, expected {count}")

        def bit(addr: int) -> bool:
            return bool(bits[addr - first])

        emergency = False if mapping.emergency_input is None else bit(mapping.emergency_input)
        return cls(
            entry_closed=bit(mapping.entry_closed_input),
            exit_closed=bit(mapping.exit_closed_input),
            beams=tuple(bit(a) for a in mapping.beam_inputs),
            emergency=emergency,
        )


@dataclass
class RtuCodec:
    """One side of an RTU link: encodes what it sends, decodes what it receives.

    ``is_server`` False is the driver (client) side. ``feed`` keeps a buffer; garbage and
    frames with a bad CRC are dropped by pymodbus's hunting decoder.
    """

    is_server: bool = False
    _buf: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self._framer = FramerRTU(DecodePDU(self.is_server))

    def encode(self, pdu: ModbusPDU) -> bytes:
        try:
            return bytes(self._framer.buildFrame(pdu))
        except Exception as exc:  # pymodbus raises its own and ValueError/struct.error
            raise ProtocolError(f"modbus: cannot encode {type(pdu).__name__}: {exc}") from exc

    def clear(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes received and not yet framed (bounded: noise cannot grow it for ever)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[ModbusPDU]:
        self._buf += data
        out: list[ModbusPDU] = []
        while (pdu := self._next_frame()) is not None:
            out.append(pdu)
        if len(self._buf) > 2 * FramerRTU.MAX_SIZE:  # noise cannot grow it without bound
            del self._buf[: len(self._buf) - FramerRTU.MAX_SIZE]
        return out

    def _next_frame(self) -> ModbusPDU | None:
        """Hunt for the first complete frame with a good CRC, skipping garbage before it.

        pymodbus's own ``decode`` drops the whole buffer on a CRC error, which loses a good
        frame that follows line noise; here a bad candidate costs one byte only, and an
        incomplete candidate (garbage claiming a long frame) does not hide a later good one.
        """
        buf = bytes(self._buf)
        decoder = self._framer.decoder
        for offset in range(max(0, len(buf) - FramerRTU.MIN_SIZE + 1)):
            chunk = buf[offset:]
            try:
                cls = decoder.lookupPduClass(chunk)
                size = cls.calculateRtuFrameSize(chunk) if cls else 0
            except Exception:  # pymodbus raises on PDUs it cannot size
                continue
            if not size or size < FramerRTU.MIN_SIZE or len(chunk) < size:
                continue
            frame = chunk[:size]
            if not FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big")):
                continue
            pdu = decoder.decode(frame[1:-2])
            if pdu is None:
                continue
            pdu.dev_id = frame[0]
            del self._buf[: offset + size]
            return pdu
        return None


def write_coil(unit: int, address: int, on: bool) -> ModbusPDU:
    return WriteSingleCoilRequest(dev_id=unit, address=address, bits=[on])


def read_inputs(unit: int, address: int, count: int) -> ModbusPDU:
    return ReadDiscreteInputsRequest(dev_id=unit, address=address, count=count)


def check_reply(request: ModbusPDU, reply: ModbusPDU) -> ModbusPDU:
    """Raise unless ``reply`` answers ``request``: DeviceError for an exception reply (the
    module refused), ProtocolError for a reply that answers something else."""
    if isinstance(reply, ExceptionResponse) and reply.function_code == (
        request.function_code | 0x80
    ):
        code = reply.exception_code
        what = FUNCTION_NAMES.get(request.function_code, f"function {request.function_code}")
        raise DeviceError(
            f"modbus: unit {reply.dev_id} refused {what} at address {request.address}: "
            f"exception code {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"
        )
    if reply.dev_id != request.dev_id or reply.function_code != request.function_code:
        raise ProtocolError(
            f"modbus: reply from unit {reply.dev_id} function {reply.function_code} does not "
            f"answer unit {request.dev_id} function {request.function_code}"
        )
    if request.function_code == WRITE_SINGLE_COIL and (
        reply.address != request.address or list(reply.bits[:1]) != list(request.bits[:1])
    ):
        raise ProtocolError(f"modbus: coil {request.address} write echo does not match")
    return reply


def reply_bits(request: ModbusPDU, values: list[bool]) -> ModbusPDU:
    """Server side: the response carrying ``values`` for a read request."""
    return bits_reply(request.dev_id, request.function_code, values)


def reply_write(request: ModbusPDU) -> ModbusPDU:
    return write_reply(request.dev_id, request.address, bool(request.bits[0]))


def reply_exception(request: ModbusPDU, code: int) -> ModbusPDU:
    return exception_reply(request.dev_id, request.function_code, code)


def bits_reply(unit: int, function: int, values: list[bool]) -> ModbusPDU:
    cls = ReadCoilsResponse if function == READ_COILS else ReadDiscreteInputsResponse
    return cls(dev_id=unit, bits=values)


def write_reply(unit: int, address: int, on: bool) -> ModbusPDU:
    return WriteSingleCoilResponse(dev_id=unit, address=address, bits=[on])


def exception_reply(unit: int, function: int, code: int) -> ModbusPDU:
    return ExceptionResponse(function, code, device_id=unit)


# ---- the server side: raw requests ------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A request as a server receives it: nothing interpreted beyond the frame."""

    unit: int
    function: int
    data: bytes

    def words(self) -> tuple[int, int]:
        """The two big-endian 16-bit fields of FC01/02/05: (address, count or value)."""
        if len(self.data) != 4:
            raise ProtocolError(f"modbus: function {self.function} carries {len(self.data)} bytes")
        first, second = struct.unpack(">HH", self.data)
        return int(first), int(second)


@dataclass
class RequestDecoder:
    """Finds request frames (good CRC) in the bytes a server receives, known function or
    not, so that the server can answer an unknown one with exception 01."""

    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Request]:
        self._buf += data
        out: list[Request] = []
        while (req := self._next()) is not None:
            out.append(req)
        if len(self._buf) > 2 * FramerRTU.MAX_SIZE:  # noise cannot grow it without bound
            del self._buf[: len(self._buf) - FramerRTU.MAX_SIZE]
        return out

    def _next(self) -> Request | None:
        buf = bytes(self._buf)
        for offset in range(max(0, len(buf) - 3)):
            size = _request_size(buf[offset:])
            if size is None:
                continue
            frame = buf[offset : offset + size]
            if FramerRTU.check_CRC(frame[:-2], int.from_bytes(frame[-2:], "big")):
                del self._buf[: offset + size]
                return Request(frame[0], frame[1], frame[2:-2])
        return None


def _request_size(chunk: bytes) -> int | None:
    """The size of the request frame starting ``chunk``, None while it is incomplete."""
    function = chunk[1]
    if function in _FIXED_REQUEST_SIZE:
        size = _FIXED_REQUEST_SIZE[function]
    elif function in _COUNTED_REQUEST:
        at = _COUNTED_REQUEST[function]
        if len(chunk) <= at:
            return None
        size = at + 1 + chunk[at] + 2
    else:
        size = min(len(chunk), FramerRTU.MAX_SIZE)
    return size if 4 <= size <= len(chunk) else None
