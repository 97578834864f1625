"""Driver for LCUS-type USB relay boards: write-only, so every state is assumed.

Opening a door switches its relay on and, after ``hold`` seconds, off again (the door's own
mechanism closes and locks it). With no sensors, the driver reports DOOR_OPENED when the
relay goes on and DOOR_CLOSED followed by PASSAGE_COMPLETED when the hold time ends, all
flagged ``assumed=True``; it cannot see tailgating, jams or forced doors.

The interlock can only be sequenced: opening a door while the other one's relay is on
switches that relay off and waits ``travel`` seconds (the door's closing time) before
switching the new one on. No contact says the other door really closed.
"""

from __future__ import annotations

import threading
import time

from drivers.turnstile import lcus
from drivers.turnstile.link import SerialDriver, SerialFactory, other_door
from gate.errors import ConfigError, DeviceGoneError
from gate.turnstile import DEFAULT_TIMEOUT, Door, DoorState, EventKind, TurnstileStatus

ASSUMED = "assumed: relay board has no sensors"


class LcusTurnstile(SerialDriver):
    name = "lcus"

    def __init__(
        self,
        factory: SerialFactory,
        *,
        url: str = "",
        hold: float = 5.0,
        travel: float = 1.0,
        entry_channel: int = 1,
        exit_channel: int = 2,
        backoff: float = 0.05,
        connect_timeout: float = 2.0,
    ) -> None:
        if entry_channel == exit_channel:
            raise ConfigError(f"lcus: entry and exit share relay channel {entry_channel}")
        self._hold = hold
        self._travel = travel
        self._channel = {Door.ENTRY: entry_channel, Door.EXIT: exit_channel}
        self._lock = threading.RLock()
        self._release_at: dict[Door, float] = {}
        super().__init__(factory, url=url, backoff=backoff, connect_timeout=connect_timeout)

    def _relay(self, door: Door, on: bool) -> None:
        self.write(lcus.RelayCommand(self._channel[door], on).encode())

    def _open(self, door: Door) -> None:
        with self._lock:
            other = other_door(door)
            if other in self._release_at:
                self._release(other, passage=False)
                # interlock by time alone: let the other door fall closed first (the lock
                # is held, so the hold timer cannot act meanwhile)
                self._closing.wait(self._travel)
            self._relay(door, True)
            if door not in self._release_at:
                self.emit(EventKind.DOOR_OPENED, door, ASSUMED, assumed=True)
            self._release_at[door] = time.monotonic() + self._hold

    def _release(self, door: Door, passage: bool) -> None:
        self._relay(door, False)
        self._release_at.pop(door, None)
        self.emit(EventKind.DOOR_CLOSED, door, ASSUMED, assumed=True)
        if passage:
            self.emit(EventKind.PASSAGE_COMPLETED, door, "assumed: hold time over", assumed=True)

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(Door.ENTRY)

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(Door.EXIT)

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        with self._lock:
            for door in Door:
                if door in self._release_at:
                    self._release(door, passage=False)
                else:
                    self._relay(door, False)

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus:
        """What the driver last commanded (``assumed``); ``connected=False`` while the
        board is gone."""
        try:
            self._require_port()
        except DeviceGoneError:
            return self._down_status(assumed=True)
        with self._lock:
            states = {
                d: DoorState.OPEN if d in self._release_at else DoorState.CLOSED for d in Door
            }
        return TurnstileStatus(states[Door.ENTRY], states[Door.EXIT], assumed=True)

    def _fail_safe(self) -> None:
        with self._lock:
            self._release_at.clear()
            for door in Door:
                self._relay(door, False)

    def _on_connect(self, reconnect: bool) -> None:
        self._fail_safe()
        self._mark_up("relays off, doors locked", assumed=True)

    def _on_lost(self) -> None:
        with self._lock:
            self._release_at.clear()  # a board losing power drops its relays

    def _service(self) -> None:
        self._closing.wait(0.02)
        with self._lock:
            now = time.monotonic()
            for door, due in list(self._release_at.items()):
                if now >= due:
                    self._release(door, passage=True)
        # the board never talks; a read is how a vanished port shows (pyserial raises)
        self.read()
