"""The lane's doors: the exit for an accepted traveller, the entry for a referred one walking
back, the fail-safe lock, and watching the idle lane.

``Doors`` is given the turnstile, the clock and the event bus; it knows nothing of the state
machine that uses it. Every turnstile error during a passage becomes a verdict
(``StageStop``); alarms (a second person, a forced door, an emergency opening) are raised as
events.
"""

from __future__ import annotations

import logging

from gate.clock import Clock
from gate.config import TimeoutsConfig
from gate.decision import Verdict
from gate.errors import DeviceTimeoutError, GateError
from gate.lane.events import EventBus
from gate.lane.work import StageStop, TransactionWork, verdict_for_error
from gate.outcome import Decision, State
from gate.turnstile import EventKind, Turnstile

log = logging.getLogger("gate.lane")

# Ordinary referrals: the traveller may walk back out through the entry. After an alarm
# or a device fault the doors stay locked until an officer comes.
WALK_BACK = frozenset(
    {
        Decision.REJECT_MISMATCH,
        Decision.REFER_DOCUMENT,
        Decision.REFER_CAPTURE,
        Decision.REFER_LIVENESS,
        Decision.REFER_ELIGIBILITY,
    }
)

# Turnstile events that mean someone is using a lane that is supposed to be shut.
IDLE_ALARMS = frozenset({EventKind.DOOR_FORCED, EventKind.TAILGATING, EventKind.EMERGENCY_OPEN})

# Events that end a passage at once: (decision, reason, alarm raised).
_PASSAGE_STOPS: dict[EventKind, tuple[Decision, str, str | None]] = {
    EventKind.TAILGATING: (Decision.TAILGATING, "a second person followed", "tailgating"),
    EventKind.DOOR_FORCED: (Decision.REFER_DEVICE, "door forced", "door forced"),
    EventKind.EMERGENCY_OPEN: (
        Decision.REFER_DEVICE,
        "emergency opening of the lane",
        "emergency open",
    ),
    EventKind.DOOR_JAMMED: (Decision.REFER_DEVICE, "turnstile: door_jammed", None),
    EventKind.DEVICE_FAULT: (Decision.REFER_DEVICE, "turnstile: device_fault", None),
    EventKind.WATCHDOG_LOCKED: (Decision.REFER_DEVICE, "turnstile: watchdog_locked", None),
}


class Doors:
    """Drives the turnstile for the lane and reports what it does on the event bus."""

    def __init__(
        self,
        turnstile: Turnstile,
        clock: Clock,
        bus: EventBus,
        timeouts: TimeoutsConfig,
        *,
        tailgate_grace_s: float = 1.0,
        let_referred_back: bool = True,
    ) -> None:
        self.turnstile = turnstile
        self.clock = clock
        self.bus = bus
        self.timeouts = timeouts
        self.tailgate_grace_s = tailgate_grace_s
        self.let_referred_back = let_referred_back

    # -- locking ------------------------------------------------------------------------------
    def lock(self, tid: str | None) -> bool:
        """Lock both doors; False (said loudly) when the turnstile would not."""
        try:
            self.turnstile.lock()
            return True
        except Exception as exc:  # nothing more we can do in software: say it loudly
            log.error("could not lock the doors: %s", exc)
            self.bus.emit("error", tid, f"lock failed: {exc}")
            return False

    def fail_safe(self, tid: str | None, reason: str) -> None:
        """The fail-safe state: doors locked, an officer called."""
        self.bus.enter(State.FAIL_SAFE, tid)
        locked = self.lock(tid)
        self.bus.emit("fail_safe", tid, reason, locked=locked)

    # -- between travellers ---------------------------------------------------------------------
    def watch_idle(self) -> None:
        """Between travellers nobody should move through the lane: report what the
        turnstile saw (a forced door is an alarm) and keep the doors locked."""
        try:
            event = self.turnstile.next_event(0.0)
        except Exception as exc:
            self.bus.emit("error", None, f"turnstile: {exc}")
            return
        relock = False
        while event is not None:
            self.bus.emit("door", None, f"idle {event.kind.name.lower()}")
            if event.kind in IDLE_ALARMS:
                self.bus.emit("alarm", None, event.kind.name.lower().replace("_", " "))
                relock = True
            try:
                event = self.turnstile.next_event(0.0)
            except Exception:
                break
        if relock:
            self.lock(None)

    # -- an accepted traveller ----------------------------------------------------------------
    def let_through(self, work: TransactionWork, decided_from: float) -> Verdict:
        """Open the exit, wait for the passage, watch for a second person, lock again."""
        tid = work.transaction_id
        self.bus.enter(State.EXIT_OPEN, tid)
        self.drain_stale(tid)
        work.run("exit_command", self.turnstile.open_exit)
        # Decision latency: from the capture's result to the acknowledged exit command.
        work.stage_ms["decision_to_command"] = (self.clock.now() - decided_from) * 1000.0
        # The traveller's wait: from the document on the reader to the exit command.
        work.stage_ms["document_to_exit_command"] = (self.clock.now() - work.started) * 1000.0
        self.bus.emit("door", tid, "exit_open_commanded")
        started = self.clock.now()
        opened = self.await_event(
            work, (EventKind.DOOR_OPENED, EventKind.PASSAGE_COMPLETED), self.timeouts.exit_open_s
        )
        work.timed("exit_open", started)
        if opened is None:
            log.warning("transaction %s: exit door not confirmed open", tid)
        self.bus.enter(State.PASSAGE, tid)
        started = self.clock.now()
        if opened is not EventKind.PASSAGE_COMPLETED:
            passed = self.await_event(work, (EventKind.PASSAGE_COMPLETED,), self.timeouts.passage_s)
            if passed is None:
                work.timed("passage", started)
                return Verdict(Decision.TIMEOUT, "no passage through the open exit")
        work.run("lock_command", self.turnstile.lock)
        # The exit is closing: a second person in the beams now is a tailgater.
        self.await_event(work, (EventKind.DOOR_CLOSED,), self.tailgate_grace_s)
        work.timed("passage", started)
        return Verdict(Decision.ACCEPT, "face verified, passage completed")

    def drain_stale(self, tid: str) -> None:
        """Drop turnstile events from before this passage (a fault already handled, the
        previous traveller's doors closing): they say nothing about the door about to open."""
        for _ in range(1000):
            try:
                event = self.turnstile.next_event(0.0)
            except GateError as exc:
                raise StageStop(verdict_for_error("turnstile", exc)) from exc
            if event is None:
                return
            self.bus.emit("door", tid, f"stale {event.kind.name.lower()}")

    def await_event(
        self, work: TransactionWork, wanted: tuple[EventKind, ...], timeout: float
    ) -> EventKind | None:
        """Wait for one of ``wanted``; alarms and faults stop the stage with their verdict."""
        tid = work.transaction_id
        deadline = self.clock.now() + timeout
        while True:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return None
            try:
                event = self.turnstile.next_event(remaining)
            except DeviceTimeoutError:
                return None
            except GateError as exc:
                raise StageStop(verdict_for_error("turnstile", exc)) from exc
            if event is None:
                continue
            self.bus.emit("door", tid, event.kind.name.lower())
            stop = _PASSAGE_STOPS.get(event.kind)
            if stop is not None:
                decision, reason, alarm = stop
                if alarm is not None:
                    work.alarm = True
                    self.bus.emit("alarm", tid, alarm)
                raise StageStop(Verdict(decision, reason))
            if event.kind in wanted:
                return event.kind

    # -- a referred traveller -------------------------------------------------------------------
    def walk_back(self, work: TransactionWork, verdict: Verdict) -> str:
        """For an ordinary referral, let the traveller walk back out through the entry.
        Returns what went wrong on the way back (the lane is then fail-safe), if anything."""
        if not self.let_referred_back or verdict.decision not in WALK_BACK:
            return ""
        return self.let_back(work)

    def let_back(self, work: TransactionWork) -> str:
        """Open the entry and wait for the traveller to leave the way they came, then lock.
        Returns what went wrong (the lane is then fail-safe), if anything."""
        tid = work.transaction_id
        started = self.clock.now()
        try:
            self.drain_stale(tid)
            self.turnstile.open_entry()
            self.bus.emit("door", tid, "entry_open_commanded")
            left = self.await_event(work, (EventKind.PASSAGE_COMPLETED,), self.timeouts.passage_s)
        except StageStop as stop:
            self.fail_safe(tid, f"on the way back: {stop.verdict.reason}")
            return f"on the way back: {stop.verdict.reason}"
        except Exception as exc:
            self.fail_safe(tid, f"on the way back: {exc}")
            return f"on the way back: {type(exc).__name__}: {exc}"
        finally:
            work.stage_ms["walk_back"] = (self.clock.now() - started) * 1000.0
        if not self.lock(tid):
            self.fail_safe(tid, "entry door not locked after the walk back")
            return "entry door not locked after the walk back"
        if left is None:
            self.bus.emit("referral", tid, "traveller still in the lane: officer needed")
        else:
            self.bus.emit("door", tid, "walked_out")  # the referred traveller has left
        return ""
