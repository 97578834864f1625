"""What every emulator shares: the pty, the lane, fault injection and the service thread."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from drivers.turnstile.emulator.physics import Lane, PhysEvent, Physics
from drivers.turnstile.pty import PtyLink
from drivers.turnstile.tcp import TcpLink
from gate.errors import ConfigError, DeviceGoneError
from gate.turnstile import Door, DoorState

log = logging.getLogger(__name__)


class DeviceLink(Protocol):
    """The emulator's end of the line: a pty (``PtyLink``) or a TCP server (``TcpLink``)."""

    plugged: bool

    @property
    def port(self) -> str: ...

    def plug(self) -> None: ...

    def unplug(self) -> None: ...

    def read(self, timeout: float) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def inject_to_device(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Faults:
    """Faults an emulator injects. Rates are probabilities per reply."""

    latency_s: float = 0.0  # extra delay before every reply (slow device)
    drop_rate: float = 0.0  # replies never sent (missing replies)
    corrupt_rate: float = 0.0  # one byte of the reply flipped (line noise)
    noise_rate: float = 0.0  # random bytes per second sent to the host unprompted
    jammed: frozenset[Door] = field(default_factory=frozenset)
    seed: int = 0
    # the line is cut with the port still there (a broken cable behind a USB adapter that
    # stays plugged in): nothing from the host arrives, nothing the device sends leaves;
    # the device and its lane run on (a gatectl controller's watchdog then locks)
    silent: bool = False

    @classmethod
    def parse(cls, specs: list[str]) -> Faults:
        """From CLI words: ``latency=0.2 drop=0.1 corrupt=0.05 noise=20 jam=exit seed=3
        silent``."""
        kwargs: dict[str, object] = {}
        jammed: set[Door] = set()
        names = {"latency": "latency_s", "drop": "drop_rate", "corrupt": "corrupt_rate"}
        names["noise"] = "noise_rate"
        for spec in specs:
            key, sep, value = spec.partition("=")
            if spec == "silent":
                kwargs["silent"] = True
                continue
            if not sep or key not in (*names, "jam", "seed"):
                raise ConfigError(
                    f"unknown fault {spec!r} (latency=S drop=P corrupt=P "
                    "noise=BYTES_PER_S jam=entry|exit seed=N silent)"
                )
            try:
                if key == "jam":
                    jammed.add(Door(value))
                elif key == "seed":
                    kwargs["seed"] = int(value)
                else:
                    kwargs[names[key]] = float(value)
            except ValueError as exc:
                raise ConfigError(f"fault {spec!r}: bad value {value!r}") from exc
        return cls(jammed=frozenset(jammed), **kwargs)  # type: ignore[arg-type]


class EmulatorBase(threading.Thread):
    """One device on the far end of a pty. Subclasses implement ``on_bytes`` (bytes from
    the host) and ``on_physics`` (what the lane did), both called with ``self.lock`` held."""

    protocol = ""

    def __init__(self, physics: Physics, faults: Faults, link: str | None) -> None:
        super().__init__(name=f"egate-emulator-{self.protocol}", daemon=True)
        self.physics = physics
        self.faults = faults
        self.lane = Lane(physics=physics)
        for door in faults.jammed:
            self.lane.doors[door].jammed = True
        self.link: DeviceLink = (
            TcpLink.from_url(link, baud=physics.baud)
            if link is not None and link.startswith("tcp://")
            else PtyLink(link, baud=physics.baud)
        )
        self.lock = threading.RLock()
        # notified on every ``record`` and whenever the lane changed
        self.logged = threading.Condition(self.lock)
        self.rng = random.Random(faults.seed)
        self.log: list[tuple[float, str]] = []  # (time, what the host commanded)
        self._halt = threading.Event()
        self._powered = True
        self._noise_due = 0.0

    # ---- the service loop ------------------------------------------------------------
    def run(self) -> None:
        while not self._halt.is_set():
            data = self.link.read(0.005 if self.lane.busy else 0.02)
            with self.lock:
                now = time.monotonic()
                if data and self._powered and not self.faults.silent:
                    # unplugged while answering: the host sees the hang-up
                    with contextlib.suppress(DeviceGoneError):
                        self.on_bytes(data, now)
                changes = self.lane.tick(now)
                for event, door, beam in changes:
                    self.on_physics(event, door, beam, now)
                if changes:
                    self.logged.notify_all()
                if self._powered:
                    self.on_tick(now)
                    self._line_noise(now)

    def _line_noise(self, now: float) -> None:
        if self.faults.noise_rate <= 0:
            return
        if now >= self._noise_due:
            self._noise_due = now + 0.05
            n = int(self.faults.noise_rate * 0.05 + self.rng.random())
            if n:
                self.reply(self.rng.randbytes(n), faults=False)

    def reply(self, data: bytes, faults: bool = True) -> None:
        """Send to the host through the fault model."""
        if self.faults.silent:
            return
        if faults:
            if self.faults.drop_rate and self.rng.random() < self.faults.drop_rate:
                return
            if self.faults.corrupt_rate and self.rng.random() < self.faults.corrupt_rate:
                i = self.rng.randrange(len(data))
                data = data[:i] + bytes((data[i] ^ (1 << self.rng.randrange(8)),)) + data[i + 1 :]
            if self.faults.latency_s:
                time.sleep(self.faults.latency_s)
        if self.link.plugged:
            self.link.write(data)

    def record(self, what: str) -> None:
        with self.logged:
            self.log.append((time.monotonic(), what))
            self.logged.notify_all()

    def wait_door(self, door: Door, state: DoorState, timeout: float) -> bool:
        """Wait until the lane's ``door`` is in ``state``."""
        with self.logged:
            return self.logged.wait_for(lambda: self.lane.door_state(door) is state, timeout)

    def wait_logged(self, what: str, start: int, timeout: float) -> bool:
        """Wait until ``what`` is in the log at index ``start`` or later."""
        with self.logged:
            return self.logged.wait_for(
                lambda: any(w == what for _, w in self.log[start:]), timeout
            )

    # ---- subclass hooks -----------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        raise NotImplementedError

    def on_physics(self, event: PhysEvent, door: Door | None, beam: int, now: float) -> None:
        """Default: nothing (dumb I/O modules have no firmware)."""

    def on_tick(self, now: float) -> None:
        """Periodic firmware work (timers, retransmissions)."""

    def on_power_up(self) -> None:
        """Firmware state after power returns."""

    # ---- scripting, for tests and simulations ---------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[Lane]:
        with self.lock:
            yield self.lane

    def set_emergency(self, on: bool) -> None:
        """The fire-alarm input: every door opens and stays open (devices with firmware
        also report it)."""
        with self.locked() as lane:
            lane.emergency = on

    def unplug(self) -> None:
        """Power loss: the port disappears, the doors fall closed."""
        with self.lock:
            self._powered = False
            self.link.unplug()
            self.lane.reset()
            self.record("unplugged")

    def set_silent(self, silent: bool) -> None:
        """Cut the line (or mend it) with the port left open: see ``Faults.silent``."""
        with self.lock:
            self.faults = dataclasses.replace(self.faults, silent=silent)
            self.record("silent" if silent else "answering")

    def replug(self) -> None:
        with self.lock:
            self.link.plug()
            self._powered = True
            self.on_power_up()
            self.record("replugged")

    def inject_noise(self, n: int, seed: int = 0, to_host: bool = True) -> None:
        """``n`` random bytes on the line, towards the host or towards the device."""
        data = random.Random(seed).randbytes(n)
        with self.lock:
            if to_host:
                self.link.write(data)
            else:
                self.link.inject_to_device(data)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=2.0)
        self.link.close()
