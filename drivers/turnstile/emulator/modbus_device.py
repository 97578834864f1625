"""A dumb device: a Modbus RTU I/O module wired to the lane (needs pymodbus, the
``modbus`` extra).

It answers as the Modbus application protocol says (v1.1b3, section 7): an unknown function
gets exception 01, a count outside 1..2000 or a coil value other than 0x0000/0xFF00 gets
exception 03 (and changes nothing), an address outside the module gets exception 02.
Requests for another unit, or with a bad CRC, get no answer at all.
"""

from __future__ import annotations

from pymodbus.pdu import ModbusPDU

from drivers.turnstile import modbus as mb
from drivers.turnstile.emulator.base import EmulatorBase, Faults
from drivers.turnstile.emulator.physics import Physics
from gate.turnstile import Door


class ModbusEmulator(EmulatorBase):
    """An RTU I/O module: coils drive the door motors, inputs read contacts and beams.

    The module has the coils of ``mapping.coil_span`` and the inputs of
    ``mapping.input_span``; anything outside is an illegal data address.
    """

    protocol = "modbus"

    def __init__(
        self,
        physics: Physics,
        faults: Faults,
        link: str | None,
        mapping: mb.ModbusMap | None = None,
    ) -> None:
        super().__init__(physics, faults, link)
        self.mapping = mapping or mb.ModbusMap()
        self.decoder = mb.RequestDecoder()
        self.codec = mb.RtuCodec(is_server=True)  # encodes the answers
        self.coils: dict[int, bool] = {}

    def on_power_up(self) -> None:
        self.decoder = mb.RequestDecoder()
        self.coils = {}

    def input_bits(self, first: int, count: int) -> list[bool]:
        m, lane = self.mapping, self.lane
        values = {
            m.entry_closed_input: lane.doors[Door.ENTRY].position <= 0.0,
            m.exit_closed_input: lane.doors[Door.EXIT].position <= 0.0,
        }
        for addr, broken in zip(m.beam_inputs, lane.beams, strict=False):
            values[addr] = broken
        if m.emergency_input is not None:
            values[m.emergency_input] = lane.emergency
        return [values.get(a, False) for a in range(first, first + count)]

    def on_bytes(self, data: bytes, now: float) -> None:
        for req in self.decoder.feed(data):
            if req.unit != self.mapping.unit:
                continue  # another unit on the bus (or a broadcast): stay silent
            self.reply(self.codec.encode(self.answer(req)))

    def answer(self, req: mb.Request) -> ModbusPDU:
        def refuse(code: int) -> ModbusPDU:
            return mb.exception_reply(req.unit, req.function, code)

        if req.function not in (mb.READ_COILS, mb.READ_DISCRETE_INPUTS, mb.WRITE_SINGLE_COIL):
            return refuse(mb.ILLEGAL_FUNCTION)
        address, word = req.words()  # fixed-size requests: always 4 data bytes
        if req.function == mb.WRITE_SINGLE_COIL:
            # the spec checks the value before the address
            if word not in (mb.COIL_ON, mb.COIL_OFF):
                return refuse(mb.ILLEGAL_DATA_VALUE)
            first, count = self.mapping.coil_span
            if not first <= address < first + count:
                return refuse(mb.ILLEGAL_DATA_ADDRESS)
            self.write_coil(address, word == mb.COIL_ON)
            return mb.write_reply(req.unit, address, word == mb.COIL_ON)
        if not 1 <= word <= mb.MAX_READ_BITS:
            return refuse(mb.ILLEGAL_DATA_VALUE)
        span = self.mapping.coil_span if req.function == mb.READ_COILS else self.mapping.input_span
        if address < span[0] or address + word > span[0] + span[1]:
            return refuse(mb.ILLEGAL_DATA_ADDRESS)
        if req.function == mb.READ_COILS:
            bits = [self.coils.get(a, False) for a in range(address, address + word)]
        else:
            bits = self.input_bits(address, word)
        return mb.bits_reply(req.unit, req.function, bits)

    def write_coil(self, address: int, on: bool) -> None:
        m = self.mapping
        self.coils[address] = on
        door = {m.entry_coil: Door.ENTRY, m.exit_coil: Door.EXIT}.get(address)
        if door is not None:  # a coil between the two door coils drives nothing
            self.record(f"{'open' if on else 'close'} {door.value}")
            self.lane.command(door, on)
