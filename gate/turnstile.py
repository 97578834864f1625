"""The turnstile (door control) interface the lane (``gate.lane``) is written against.

A lane has two doors: the ENTRY door the traveller came through and the EXIT door into the
country. Commands return once the device acknowledged them (or, for write-only relay boards,
once the bytes left the port); what the doors then physically do is reported as events.
Drivers live in ``drivers.turnstile`` and are chosen by an address string
(``drivers.turnstile.registry.open_turnstile``).

Every driver raises only ``GateError`` subclasses: ``DeviceTimeoutError`` (no answer),
``DeviceGoneError`` (port vanished; the driver reconnects in the background),
``ProtocolError`` (malformed answers) and ``DeviceError`` (the device refused).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DEFAULT_TIMEOUT = 2.0


class Door(enum.Enum):
    ENTRY = "entry"
    EXIT = "exit"


class DoorState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    MOVING = "moving"
    JAMMED = "jammed"
    UNKNOWN = "unknown"


class EventKind(enum.Enum):
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    BEAM_BROKEN = "beam_broken"
    BEAM_CLEARED = "beam_cleared"
    PASSAGE_COMPLETED = "passage_completed"
    TAILGATING = "tailgating"
    DOOR_FORCED = "door_forced"
    DOOR_JAMMED = "door_jammed"
    EMERGENCY_OPEN = "emergency_open"
    EMERGENCY_CLEARED = "emergency_cleared"
    WATCHDOG_LOCKED = "watchdog_locked"
    DEVICE_FAULT = "device_fault"
    RECONNECTED = "reconnected"


@dataclass(frozen=True)
class TurnstileEvent:
    """Something the lane did. ``timestamp`` is ``time.monotonic()`` on the host when seen.

    ``assumed`` is True when no sensor confirmed it (write-only relay boards).
    """

    kind: EventKind
    timestamp: float
    door: Door | None = None
    detail: str = ""
    assumed: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "timestamp": round(self.timestamp, 6),
            "door": self.door.value if self.door else None,
            "detail": self.detail,
            "assumed": self.assumed,
        }


@dataclass(frozen=True)
class TurnstileStatus:
    """Door and sensor states. ``beams`` is one flag per presence beam, True = broken,
    ordered from the entry side to the exit side (empty when the device has none).
    ``assumed`` is True when the states are what the driver last commanded, not read back.
    """

    entry: DoorState
    exit: DoorState
    beams: tuple[bool, ...] = ()
    emergency: bool = False
    assumed: bool = False
    connected: bool = True
    fault: str = ""

    @property
    def locked(self) -> bool:
        return self.entry is DoorState.CLOSED and self.exit is DoorState.CLOSED

    def to_json(self) -> dict[str, object]:
        return {
            "entry": self.entry.value,
            "exit": self.exit.value,
            "beams": list(self.beams),
            "emergency": self.emergency,
            "assumed": self.assumed,
            "connected": self.connected,
            "fault": self.fault,
        }


@runtime_checkable
class Turnstile(Protocol):
    """A lane's doors and sensors. All methods are thread-safe.

    ``next_event`` returns the oldest event not yet returned, or None after ``timeout``
    seconds without one. ``close`` locks the doors where the hardware allows, then releases
    the port.
    """

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None: ...

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None: ...

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None: ...

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus: ...

    def next_event(self, timeout: float) -> TurnstileEvent | None: ...

    def close(self) -> None: ...
