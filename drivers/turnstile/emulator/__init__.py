"""Turnstile device emulators on real pseudo-terminals, with a physical lane model.

``start_emulator("gatectl")`` returns a running ``EmulatorHandle``; point any driver at
``handle.address`` (or a pyserial client at ``handle.port``). The handle scripts the world:
travellers, tailgaters, jams, forced doors, the emergency input, power loss, line noise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from types import TracebackType

from drivers.backends import resolve
from drivers.turnstile.emulator.base import EmulatorBase, Faults
from drivers.turnstile.emulator.physics import Physics
from gate.errors import ConfigError
from gate.turnstile import Door, DoorState

# One emulated device per protocol, imported only when started (the Modbus one needs
# pymodbus, an optional extra).
EMULATORS = {
    "gatectl": "drivers.turnstile.emulator.gatectl_device:GatectlEmulator",
    "modbus": "drivers.turnstile.emulator.modbus_device:ModbusEmulator",
    "lcus": "drivers.turnstile.emulator.lcus_device:LcusEmulator",
}
PROTOCOLS = tuple(EMULATORS)

__all__ = ["PROTOCOLS", "EmulatorHandle", "Faults", "Physics", "start_emulator"]


class EmulatorHandle:
    def __init__(self, device: EmulatorBase) -> None:
        self._device = device

    @property
    def protocol(self) -> str:
        return self._device.protocol

    @property
    def port(self) -> str:
        """What a driver opens: the pty's path (a symlink that survives unplug/replug) or,
        for a ``tcp://`` link, a pyserial ``socket://`` URL."""
        return self._device.link.port

    @property
    def address(self) -> str:
        """A driver address with timings matched to this emulator's time scale."""
        phys = self._device.physics
        travel = phys.scaled(phys.door_travel_s)
        if self.protocol == "modbus":
            return f"modbus:{self.port}?jam={max(0.2, 3 * travel):.3f}"
        if self.protocol == "lcus":
            # the relay board's interlock waits a door's travel (with a margin) by the clock
            return f"lcus:{self.port}?hold={max(0.5, 10 * travel):.3f}&travel={1.5 * travel:.3f}"
        return f"gatectl:{self.port}"

    @property
    def device(self) -> EmulatorBase:
        return self._device

    # ---- the world ---------------------------------------------------------------------
    def door_states(self) -> dict[Door, DoorState]:
        with self._device.locked() as lane:
            return {door: lane.door_state(door) for door in Door}

    def _moved(self, last: dict[Door, DoorState]) -> bool:
        return self.door_states() != last

    def watch_doors(
        self,
        stop: threading.Event,
        report: Callable[[str], None],
        auto_pass_s: float | None = None,
    ) -> threading.Thread:
        """A thread that reports each door move (``door exit open``) and, with
        ``auto_pass_s``, walks the traveller out that long after the exit is fully open
        (a test lane with nobody to type ``pass``)."""

        def watch() -> None:
            device = self._device
            last = self.door_states()
            while not stop.is_set():
                with device.logged:
                    device.logged.wait_for(partial(self._moved, last), 0.2)
                now = self.door_states()
                for door in Door:
                    if now[door] is not last[door]:
                        report(f"door {door.value} {now[door].value}")
                opened = now[Door.EXIT], last[Door.EXIT]
                exit_opened = opened[0] is DoorState.OPEN and opened[1] is not DoorState.OPEN
                if auto_pass_s is not None and exit_opened and not stop.wait(auto_pass_s):
                    self.traveller_passes()
                    report("traveller passed")
                last = now

        thread = threading.Thread(target=watch, name="door-watch", daemon=True)
        thread.start()
        return thread

    def traveller_passes(self, tailgater: bool = False) -> None:
        """The traveller waiting mid-lane walks out once the exit door is fully open;
        with ``tailgater`` a second person follows close behind from the entry side."""
        phys = self._device.physics
        with self._device.locked() as lane:
            lane.add_walker((1, 2), Door.EXIT, 0.0)
            if tailgater:
                lane.add_walker((0, 1, 2), Door.EXIT, phys.scaled(phys.follow_gap_s))

    def traveller_walks_back(self) -> None:
        """After a referral the traveller leaves through the entry door once it is open."""
        with self._device.locked() as lane:
            lane.add_walker((1, 0), Door.ENTRY, 0.0)

    def jam(self, door: Door, jammed: bool = True) -> None:
        with self._device.locked() as lane:
            lane.doors[door].jammed = jammed

    def force(self, door: Door, forced: bool = True) -> None:
        """Someone pushes a locked door open (or lets go)."""
        with self._device.locked() as lane:
            lane.doors[door].forced = forced

    def emergency(self, on: bool = True) -> None:
        """The fire-alarm input: every door opens and stays open."""
        self._device.set_emergency(on)

    def silence(self, silent: bool = True) -> None:
        """Cut the line with the port left open (``False``: mend it); see
        ``Faults.silent``."""
        self._device.set_silent(silent)

    def unplug(self) -> None:
        self._device.unplug()

    def replug(self) -> None:
        self._device.replug()

    def inject_noise(self, n: int = 1000, seed: int = 0, to_host: bool = True) -> None:
        self._device.inject_noise(n, seed, to_host)

    # ---- what happened -------------------------------------------------------------------
    def door_state(self, door: Door) -> DoorState:
        with self._device.locked() as lane:
            return lane.door_state(door)

    def beams(self) -> tuple[bool, ...]:
        with self._device.locked() as lane:
            return tuple(lane.beams)

    def wait_door(self, door: Door, state: DoorState, timeout: float = 5.0) -> bool:
        """Wait until ``door`` is in ``state``; False after ``timeout`` seconds."""
        return self._device.wait_door(door, state, timeout)

    def opened_count(self, door: Door) -> int:
        """How often the door left its closed position since the emulator started."""
        with self._device.locked() as lane:
            return lane.opened_count[door]

    def interlock_breaches(self) -> int:
        """How often both doors were off their closed positions at once (emergency aside)."""
        with self._device.locked() as lane:
            return lane.interlock_breaches

    def commands(self) -> list[str]:
        """What the host commanded, in order (plus unplug/replug/silent/answering/watchdog
        markers)."""
        with self._device.locked():
            return [what for _, what in self._device.log]

    def wait_command(self, what: str, start: int = 0, timeout: float = 5.0) -> bool:
        """Wait until ``what`` appears in ``commands()`` at index ``start`` or later;
        False after ``timeout`` seconds without it."""
        return self._device.wait_logged(what, start, timeout)

    def close(self) -> None:
        self._device.stop()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_emulator(
    protocol: str,
    *,
    faults: Faults | None = None,
    physics: Physics | None = None,
    link: str | None = None,
) -> EmulatorHandle:
    """Start an emulator of ``protocol`` (gatectl, modbus, lcus) on a new pty.

    ``link`` is where the port's symlink goes (a temporary folder when None), or
    ``tcp://HOST:PORT`` to serve the device over TCP (drivers use ``socket://HOST:PORT``).
    """
    faults = faults or Faults()
    physics = physics or Physics()
    if protocol not in EMULATORS:
        raise ConfigError(f"unknown turnstile protocol {protocol!r}; known: {PROTOCOLS}")
    emulator: type[EmulatorBase] = resolve("turnstile emulator", EMULATORS, protocol)
    device = emulator(physics, faults, link)
    device.start()
    return EmulatorHandle(device)
