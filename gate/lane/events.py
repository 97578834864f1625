"""What the lane tells the world: ``GateEvent`` values sent to observers, and the bus that
holds the observers and the lane's current state.

Observers are called synchronously, in the lane's thread. One that raises is logged and
ignored: an observer (a status line, the console, a broker publisher) must never stop a
border gate.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.clock import Clock
from gate.outcome import State

log = logging.getLogger("gate.lane")


@dataclass(frozen=True)
class GateEvent:
    """Something the gate did or saw. ``kind``: state, transaction, decision, door, alarm,
    referral, fail_safe, audit, error."""

    kind: str
    state: State
    at: float  # clock.now()
    transaction_id: str | None = None
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


Observer = Callable[[GateEvent], None]


class EventBus:
    """The lane's state and the observers that hear about it."""

    def __init__(self, clock: Clock, observers: tuple[Observer, ...] = ()) -> None:
        self.clock = clock
        self._observers: list[Observer] = list(observers)
        self._observers_lock = threading.Lock()  # observers may come and go from any thread
        self._state = State.IDLE

    @property
    def state(self) -> State:
        return self._state

    def add_observer(self, observer: Observer) -> None:
        with self._observers_lock:
            self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop sending events to ``observer``; one that was never added is ignored."""
        with self._observers_lock:
            if observer in self._observers:
                self._observers.remove(observer)

    def emit(self, kind: str, tid: str | None, detail: str = "", **data: Any) -> None:
        event = GateEvent(kind, self._state, self.clock.now(), tid, detail, data)
        with self._observers_lock:
            observers = tuple(self._observers)
        for observer in observers:
            try:
                observer(event)
            except Exception:  # an observer must never stop the gate
                log.exception("gate observer %r failed on %s", observer, kind)

    def enter(self, state: State, tid: str | None) -> None:
        self._state = state
        self.emit("state", tid, state.value)
