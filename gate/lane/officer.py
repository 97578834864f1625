"""The officer's port into a lane: decisions on referrals, alarm acknowledgements and the
lane taken out of (or back into) service.

An officer's action never sits in the automatic decision path. The console (in process or
over the broker) only *submits* an ``OfficerAction``: ``OfficerDesk.submit`` queues it and
returns at once, and the lane's own thread applies queued actions between travellers
(``Lane.serve_one``). A console or broker that is slow, gone or hostile therefore cannot
delay or change a traveller's automatic outcome; at worst its actions are not applied.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from gate.decision import Verdict
from gate.errors import InputError
from gate.lane.actions import OfficerAction
from gate.lane.doors import WALK_BACK, Doors
from gate.lane.events import EventBus
from gate.lane.work import StageStop, TransactionWork
from gate.outcome import Decision, State

if TYPE_CHECKING:
    from gate.lane.ports import AuditSink

log = logging.getLogger("gate.lane")

MAX_QUEUED = 64  # more unapplied actions than this means the lane is not serving: refuse more
MAX_OPEN_REFERRALS = 256


class OfficerDesk:
    """Thread-safe inbox of officer actions and the lane's open referrals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[OfficerAction] = deque()
        self._referrals: OrderedDict[str, Decision] = OrderedDict()

    def submit(self, action: OfficerAction) -> None:
        """Queue ``action`` for the lane's thread; never blocks. Raises ``InputError`` when
        the inbox is full (the lane is not taking actions)."""
        with self._lock:
            if len(self._queue) >= MAX_QUEUED:
                raise InputError("officer actions: the lane's inbox is full")
            self._queue.append(action)

    def take(self) -> list[OfficerAction]:
        with self._lock:
            actions = list(self._queue)
            self._queue.clear()
        return actions

    def referred(self, transaction_id: str, decision: Decision) -> None:
        """Remember a referral an officer may now decide on (the oldest are forgotten)."""
        with self._lock:
            self._referrals[transaction_id] = decision
            while len(self._referrals) > MAX_OPEN_REFERRALS:
                self._referrals.popitem(last=False)

    def close_referral(self, transaction_id: str) -> Decision | None:
        """The referral's automatic decision, removed from the open ones; ``None`` when the
        lane has no such open referral."""
        with self._lock:
            return self._referrals.pop(transaction_id, None)


class OfficerHandler:
    """Applies officer actions in the lane's thread: records each in the audit log first
    (with the officer's name), then moves the doors it calls for."""

    def __init__(self, desk: OfficerDesk, doors: Doors, bus: EventBus, audit: AuditSink | None):
        self.desk = desk
        self.doors = doors
        self.bus = bus
        self.audit = audit
        self.in_service = True

    def apply_pending(self) -> int:
        actions = self.desk.take()
        for action in actions:
            try:
                self._apply(action)
            except Exception as exc:  # an officer's action must never stop the lane
                log.exception("officer action %s failed", action.kind)
                self.doors.fail_safe(action.subject or None, f"officer action failed: {exc}")
                self.bus.enter(State.IDLE, None)
        return len(actions)

    def _apply(self, action: OfficerAction) -> None:
        automatic: Decision | None = None
        if action.kind in ("accept", "refuse"):
            automatic = self.desk.close_referral(action.subject)
            if automatic is None:
                self._refused(action, "no open referral with this id on this lane")
                return
        if self.audit is not None:
            try:
                self.audit.record_officer(action, self.doors.clock.wall())
            except Exception as exc:  # not on record: nothing moves for it
                if automatic is not None:
                    self.desk.referred(action.subject, automatic)
                self._refused(action, f"not recorded in the audit log: {exc}")
                return
        tid = action.subject or None
        self.bus.emit("officer", tid, action.kind, officer=action.officer, reason=action.reason)
        work = TransactionWork(action.subject or "officer", self.doors.clock)
        work.started = self.doors.clock.now()
        if action.kind == "accept":
            verdict = self._through(work)
            if verdict.decision is not Decision.ACCEPT:
                self.doors.fail_safe(tid, f"after the officer's accept: {verdict.reason}")
            self.bus.emit("officer", tid, "passage " + verdict.decision.value.lower())
        elif action.kind == "refuse" and automatic not in WALK_BACK:
            trouble = self.doors.let_back(work)  # held in the lane after an alarm or a fault
            self.bus.emit("officer", tid, trouble if trouble else "walked back")
        elif action.kind in ("close_lane", "open_lane"):
            self.in_service = action.kind == "open_lane"
            self.doors.lock(None)
        self.bus.enter(State.IDLE, None)

    def _through(self, work: TransactionWork) -> Verdict:
        try:
            return self.doors.let_through(work, work.started)
        except StageStop as stop:
            return stop.verdict

    def _refused(self, action: OfficerAction, why: str) -> None:
        log.warning("officer action %s by %s refused: %s", action.kind, action.officer, why)
        self.bus.emit("officer", action.subject or None, f"{action.kind} refused: {why}")
