"""A dumb device: an LCUS relay board wired to the lane."""

from __future__ import annotations

from drivers.turnstile import lcus
from drivers.turnstile.emulator.base import EmulatorBase, Faults
from drivers.turnstile.emulator.physics import Physics
from gate.turnstile import Door


class LcusEmulator(EmulatorBase):
    """An LCUS relay board: channel 1 drives the entry door, channel 2 the exit door."""

    protocol = "lcus"

    def __init__(
        self,
        physics: Physics,
        faults: Faults,
        link: str | None,
        entry_channel: int = 1,
        exit_channel: int = 2,
    ) -> None:
        super().__init__(physics, faults, link)
        self.channels = {entry_channel: Door.ENTRY, exit_channel: Door.EXIT}
        self.decoder = lcus.RelayDecoder()
        self.relays: dict[int, bool] = {}

    def on_power_up(self) -> None:
        self.decoder = lcus.RelayDecoder()
        self.relays = {}

    def on_bytes(self, data: bytes, now: float) -> None:
        for cmd in self.decoder.feed(data):
            self.relays[cmd.channel] = cmd.on
            door = self.channels.get(cmd.channel)
            if door is not None:
                self.record(f"{'open' if cmd.on else 'close'} {door.value}")
                self.lane.command(door, cmd.on)
