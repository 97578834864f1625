"""A dumb device: a Modbus RTU I/O module wired to the lane (needs pymodbus, the
``modbus`` extra)."""

from __future__ import annotations

from drivers.turnstile import modbus as mb
from drivers.turnstile.emulator.base import EmulatorBase, Faults
from drivers.turnstile.emulator.physics import Physics
from gate.turnstile import Door

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2


class ModbusEmulator(EmulatorBase):
    """An RTU I/O module: coils drive the door motors, inputs read contacts and beams."""

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
        self.codec = mb.RtuCodec(is_server=True)
        self.coils: dict[int, bool] = {}

    def on_power_up(self) -> None:
        self.codec = mb.RtuCodec(is_server=True)
        self.coils = {}

    def input_bits(self, first: int, count: int) -> list[bool] | None:
        m, lane = self.mapping, self.lane
        values = {
            m.entry_closed_input: lane.doors[Door.ENTRY].position <= 0.0,
            m.exit_closed_input: lane.doors[Door.EXIT].position <= 0.0,
        }
        for addr, broken in zip(m.beam_inputs, lane.beams, strict=False):
            values[addr] = broken
        if m.emergency_input is not None:
            values[m.emergency_input] = lane.emergency
        span_first, span_count = m.input_span
        if first < span_first or first + count > span_first + span_count:
            return None
        return [values.get(a, False) for a in range(first, first + count)]

    def on_bytes(self, data: bytes, now: float) -> None:
        m = self.mapping
        for req in self.codec.feed(data):
            if req.dev_id != m.unit:
                continue  # another unit on the bus: stay silent
            fc = req.function_code
            if fc == mb.WRITE_SINGLE_COIL:
                door = {m.entry_coil: Door.ENTRY, m.exit_coil: Door.EXIT}.get(req.address)
                if door is None:
                    self.reply(self.codec.encode(mb.reply_exception(req, ILLEGAL_ADDRESS)))
                    continue
                on = bool(req.bits[0])
                self.record(f"{'open' if on else 'close'} {door.value}")
                self.coils[req.address] = on
                self.lane.command(door, on)
                self.reply(self.codec.encode(mb.reply_write(req)))
            elif fc == mb.READ_DISCRETE_INPUTS:
                bits = self.input_bits(req.address, req.count)
                answer = (
                    mb.reply_exception(req, ILLEGAL_ADDRESS)
                    if bits is None
                    else mb.reply_bits(req, bits)
                )
                self.reply(self.codec.encode(answer))
            elif fc == mb.READ_COILS:
                coil_bits = [
                    self.coils.get(a, False) for a in range(req.address, req.address + req.count)
                ]
                self.reply(self.codec.encode(mb.reply_bits(req, coil_bits)))
            else:
                self.reply(self.codec.encode(mb.reply_exception(req, ILLEGAL_FUNCTION)))
