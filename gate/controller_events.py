"""Values the gate controller and its helpers share: events, the working record of one
transaction, and the internal signal that a stage has reached its verdict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.decision import Verdict
from gate.outcome import State


@dataclass(frozen=True)
class GateEvent:
    """Something the gate did or saw. ``kind``: state, decision, door, alarm, fail_safe,
    audit, error, transaction."""

    kind: str
    state: State
    at: float  # clock.now()
    transaction_id: str | None = None
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


Observer = Callable[[GateEvent], None]


def event_name(event: Any) -> str:
    """The turnstile event's kind as a string; works for any enum-like ``kind``."""
    kind = getattr(event, "kind", None)
    name = getattr(kind, "name", kind)
    return str(name).upper()


class StageStop(Exception):
    """Internal: a stage produced a verdict; unwinds to ``process``."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


@dataclass
class TransactionWork:
    """Mutable facts gathered while one transaction runs."""

    transaction_id: str
    started_wall: float
    started: float
    stage_ms: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    threshold: float | None = None
    liveness: float | None = None
    passive_auth: str | None = None
    active_auth: str | None = None
    document_number: str | None = None
    alarm: bool = False
    frames_seen: int = 0
