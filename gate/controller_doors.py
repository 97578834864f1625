"""The controller's dealings with the doors: the exit for an accepted traveller, the entry
for a referred one walking back, and watching the idle lane.

Functions of the ``GateController`` (passed as ``ctl``), kept apart so the state machine's
module stays short. Every turnstile error becomes a verdict (``StageStop``); alarms (a
second person, a forced door, an emergency opening) are raised as observer events.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gate.controller_events import StageStop, TransactionWork, event_name
from gate.decision import Verdict
from gate.errors import DeviceTimeoutError, GateError
from gate.outcome import Decision, State

if TYPE_CHECKING:
    from gate.controller import GateController

log = logging.getLogger("gate.controller")

# Ordinary referrals: the traveller may walk back out through the entry. After an alarm
# or a device fault the doors stay locked until an officer comes.
WALK_BACK = frozenset(
    {
        Decision.REJECT_MISMATCH,
        Decision.REFER_DOCUMENT,
        Decision.REFER_CAPTURE,
        Decision.REFER_LIVENESS,
    }
)

# Turnstile events that mean someone is using a lane that is supposed to be shut.
IDLE_ALARMS = frozenset({"DOOR_FORCED", "TAILGATING", "EMERGENCY_OPEN"})


def watch_idle_lane(ctl: GateController) -> None:
    """Between travellers nobody should move through the lane: report what the
    turnstile saw (a forced door is an alarm) and keep the doors locked."""
    try:
        event = ctl.turnstile.next_event(0.0)
    except Exception as exc:
        ctl._emit("error", None, f"turnstile: {exc}")
        return
    relock = False
    while event is not None:
        name = event_name(event)
        ctl._emit("door", None, f"idle {name.lower()}")
        if name in IDLE_ALARMS:
            ctl._emit("alarm", None, name.lower().replace("_", " "))
            relock = True
        try:
            event = ctl.turnstile.next_event(0.0)
        except Exception:
            break
    if relock:
        ctl._lock_doors(None)


def let_through(ctl: GateController, work: TransactionWork, decided_from: float) -> Verdict:
    """Open the exit, wait for the passage, watch for a second person, lock again."""
    tid = work.transaction_id
    ctl._enter(State.EXIT_OPEN, tid)
    drain_stale_events(ctl, tid)
    ctl._stage(work, "exit_command", ctl.turnstile.open_exit)
    # Decision latency: from the capture's result to the acknowledged exit command.
    work.stage_ms["decision_to_command"] = (ctl.clock.now() - decided_from) * 1000.0
    ctl._emit("door", tid, "exit_open_commanded")
    started = ctl.clock.now()
    opened = await_turnstile(
        ctl, work, ("DOOR_OPENED", "PASSAGE_COMPLETED"), ctl.timeouts.exit_open_s
    )
    ctl._timed(work, "exit_open", started)
    if opened is None:
        log.warning("transaction %s: exit door not confirmed open", tid)
    ctl._enter(State.PASSAGE, tid)
    started = ctl.clock.now()
    if opened != "PASSAGE_COMPLETED":
        passed = await_turnstile(ctl, work, ("PASSAGE_COMPLETED",), ctl.timeouts.passage_s)
        if passed is None:
            ctl._timed(work, "passage", started)
            return Verdict(Decision.TIMEOUT, "no passage through the open exit")
    ctl._stage(work, "lock_command", ctl.turnstile.lock)
    # The exit is closing: a second person in the beams now is a tailgater.
    await_turnstile(ctl, work, ("DOOR_CLOSED",), ctl.tailgate_grace_s)
    ctl._timed(work, "passage", started)
    return Verdict(Decision.ACCEPT, "face verified, passage completed")


def drain_stale_events(ctl: GateController, tid: str) -> None:
    """Drop turnstile events from before this passage (a fault already handled, the
    previous traveller's doors closing): they say nothing about the exit about to open."""
    for _ in range(1000):
        try:
            event = ctl.turnstile.next_event(0.0)
        except GateError as exc:
            raise StageStop(ctl._verdict_for_error("turnstile", exc)) from exc
        if event is None:
            return
        ctl._emit("door", tid, f"stale {event_name(event).lower()}")


def await_turnstile(
    ctl: GateController, work: TransactionWork, wanted: tuple[str, ...], timeout: float
) -> str | None:
    """Wait for one of ``wanted`` turnstile events; alarms and faults stop the stage."""
    tid = work.transaction_id
    deadline = ctl.clock.now() + timeout
    while True:
        remaining = deadline - ctl.clock.now()
        if remaining <= 0:
            return None
        try:
            event = ctl.turnstile.next_event(remaining)
        except DeviceTimeoutError:
            return None
        except GateError as exc:
            raise StageStop(ctl._verdict_for_error("turnstile", exc)) from exc
        if event is None:
            continue
        name = event_name(event)
        ctl._emit("door", tid, name.lower())
        if name == "TAILGATING":
            work.alarm = True
            ctl._emit("alarm", tid, "tailgating")
            raise StageStop(Verdict(Decision.TAILGATING, "a second person followed"))
        if name == "DOOR_FORCED":
            work.alarm = True
            ctl._emit("alarm", tid, "door forced")
            raise StageStop(Verdict(Decision.REFER_DEVICE, "door forced"))
        if name == "EMERGENCY_OPEN":
            work.alarm = True
            ctl._emit("alarm", tid, "emergency open")
            raise StageStop(Verdict(Decision.REFER_DEVICE, "emergency opening of the lane"))
        if name in ("DOOR_JAMMED", "DEVICE_FAULT", "WATCHDOG_LOCKED"):
            raise StageStop(Verdict(Decision.REFER_DEVICE, f"turnstile: {name.lower()}"))
        if name in wanted:
            return name


def walk_back(ctl: GateController, work: TransactionWork, verdict: Verdict) -> str:
    """For an ordinary referral, let the traveller walk back out through the entry.
    Returns what went wrong on the way back, if anything."""
    tid = work.transaction_id
    if not ctl.let_referred_back or verdict.decision not in WALK_BACK:
        return ""
    started = ctl.clock.now()
    try:
        drain_stale_events(ctl, tid)
        ctl.turnstile.open_entry()
        ctl._emit("door", tid, "entry_open_commanded")
        left = await_turnstile(ctl, work, ("PASSAGE_COMPLETED",), ctl.timeouts.passage_s)
    except StageStop as stop:
        ctl._fail_safe(tid, f"on the way back: {stop.verdict.reason}")
        return f"on the way back: {stop.verdict.reason}"
    except Exception as exc:
        ctl._fail_safe(tid, f"on the way back: {exc}")
        return f"on the way back: {type(exc).__name__}: {exc}"
    finally:
        work.stage_ms["walk_back"] = (ctl.clock.now() - started) * 1000.0
    if not ctl._lock_doors(tid):
        ctl._fail_safe(tid, "entry door not locked after the walk back")
        return "entry door not locked after the walk back"
    if left is None:
        ctl._emit("referral", tid, "traveller still in the lane: officer needed")
    return ""
