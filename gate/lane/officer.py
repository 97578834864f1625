"""The officer's port into a lane: decisions on referrals, alarm acknowledgements and the
lane taken out of (or back into) service.

An officer's action never sits in the automatic decision path. The console (in process or
over the broker) only *submits* an ``OfficerAction``: ``OfficerDesk.submit`` queues it and
returns at once, and the lane's own thread applies queued actions between travellers
(``Lane.serve_one``). A console or broker that is slow, gone or hostile therefore cannot
delay or change a traveller's automatic outcome; at worst its actions are not applied.

Commands from outside the process (``OfficerDesk.submit_command``) are believed only when
signed, bound to this lane and fresh (``gate.lane.command_auth``), and then only for what
the lane's state allows now (``OfficerHandler._allowed``):

- accept (open the exit) needs the referral still open *and its traveller still in the
  lane*: a traveller who walked back out, or any referral once a later traveller came in,
  is gone, and no door opens for them;
- who may override which outcome (``ACCEPT_ROLES``): an officer may accept a capture,
  liveness, document, eligibility, device or timeout referral; only a supervisor may accept
  a face mismatch (``REJECT_MISMATCH``), a ``TAILGATING`` alarm or a watchlist hit
  (``REFER_WATCHLIST``); an ``AUDIT_FAILED`` referral is accepted by nobody (the lane
  cannot record it);
- refuse (keep the exit shut, let the traveller back) needs the referral open (its
  traveller may have gone: the card is closed either way);
- acknowledge, close_lane and open_lane need an officer or a supervisor.

Every refusal is written to the audit log (``OfficerAction.refused`` says why) and said on
the event bus; nothing moves for it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gate.decision import Verdict
from gate.errors import InputError
from gate.lane.actions import ROLES, OfficerAction
from gate.lane.command_auth import CommandRefused, ConsoleTrust
from gate.lane.doors import WALK_BACK, Doors
from gate.lane.events import EventBus, GateEvent
from gate.lane.work import StageStop, TransactionWork
from gate.outcome import Decision, State

if TYPE_CHECKING:
    from gate.lane.ports import AuditSink

log = logging.getLogger("gate.lane")

MAX_QUEUED = 64  # more unapplied actions than this means the lane is not serving: refuse more
MAX_OPEN_REFERRALS = 256
OFFICERS = frozenset(ROLES)
SUPERVISOR = frozenset({"supervisor"})
# Who may open the exit over each automatic outcome (see the module's docstring).
ACCEPT_ROLES: dict[Decision, frozenset[str]] = {
    Decision.REFER_CAPTURE: OFFICERS,
    Decision.REFER_LIVENESS: OFFICERS,
    Decision.REFER_DOCUMENT: OFFICERS,
    Decision.REFER_DEVICE: OFFICERS,
    Decision.TIMEOUT: OFFICERS,
    Decision.REJECT_MISMATCH: SUPERVISOR,
    Decision.TAILGATING: SUPERVISOR,
    Decision.REFER_ELIGIBILITY: OFFICERS,
    Decision.REFER_WATCHLIST: SUPERVISOR,
}


@dataclass
class Referral:
    decision: Decision
    present: bool = True  # the traveller is still in the lane


class OfficerDesk:
    """Thread-safe inbox of officer actions (and signed commands, still to be checked) and
    the lane's open referrals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[OfficerAction | bytes] = deque()
        self._referrals: OrderedDict[str, Referral] = OrderedDict()

    def submit(self, action: OfficerAction | bytes) -> None:
        """Queue an action (from this process) or a signed command's bytes (from outside)
        for the lane's thread; never blocks. Raises ``InputError`` when the inbox is full
        (the lane is not taking actions)."""
        with self._lock:
            if len(self._queue) >= MAX_QUEUED:
                raise InputError("officer actions: the lane's inbox is full")
            self._queue.append(action)

    def take(self) -> list[OfficerAction | bytes]:
        with self._lock:
            actions = list(self._queue)
            self._queue.clear()
        return actions

    def referred(self, transaction_id: str, decision: Decision) -> None:
        """Remember a referral an officer may now decide on (the oldest are forgotten)."""
        with self._lock:
            self._referrals[transaction_id] = Referral(decision)
            while len(self._referrals) > MAX_OPEN_REFERRALS:
                self._referrals.popitem(last=False)

    def left(self, transaction_id: str | None = None) -> None:
        """The referred traveller (every one, with ``None``) is no longer in the lane."""
        with self._lock:
            for tid, referral in self._referrals.items():
                if transaction_id is None or tid == transaction_id:
                    referral.present = False

    def referral(self, transaction_id: str) -> Referral | None:
        with self._lock:
            return self._referrals.get(transaction_id)

    def close_referral(self, transaction_id: str) -> Decision | None:
        """The referral's automatic decision, removed from the open ones; ``None`` when the
        lane has no such open referral."""
        with self._lock:
            referral = self._referrals.pop(transaction_id, None)
        return referral.decision if referral is not None else None

    def reopen(self, transaction_id: str, decision: Decision, present: bool) -> None:
        with self._lock:
            self._referrals[transaction_id] = Referral(decision, present)


class OfficerHandler:
    """Applies officer actions in the lane's thread: checks signed commands (``trust``),
    what the lane's state allows, records each in the audit log first (with the officer's
    name), then moves the doors it calls for. Refusals are recorded too."""

    def __init__(self, desk: OfficerDesk, doors: Doors, bus: EventBus, audit: AuditSink | None):
        self.desk = desk
        self.doors = doors
        self.bus = bus
        self.audit = audit
        self.in_service = True
        self.name = ""  # the lane's name: signed commands must name it
        self.trust: ConsoleTrust | None = None  # no trust: every signed command is refused
        bus.add_observer(self._observe)

    def _observe(self, event: GateEvent) -> None:
        """Who is in the lane: a new traveller means every referred one has gone; a
        referred traveller seen walking back out has gone."""
        if event.kind == "transaction" and event.detail == "started":
            self.desk.left()
        elif event.kind == "door" and event.detail == "walked_out":
            self.desk.left(event.transaction_id)

    def apply_pending(self) -> int:
        actions = self.desk.take()
        for item in actions:
            action = self._checked(item) if isinstance(item, bytes) else item
            if action is None:
                continue
            try:
                self._apply(action)
            except Exception as exc:  # an officer's action must never stop the lane
                log.exception("officer action %s failed", action.kind)
                self.doors.fail_safe(action.subject or None, f"officer action failed: {exc}")
                self.bus.enter(State.IDLE, None)
        return len(actions)

    def _checked(self, payload: bytes) -> OfficerAction | None:
        """The signed command in ``payload`` as an action, or ``None`` (refused, recorded)."""
        trust = self.trust if self.trust is not None and self.name else ConsoleTrust()
        try:
            command = trust.verify(payload, self.name)
        except CommandRefused as exc:
            self._refused(OfficerAction.refusal(exc.claimed, exc.why))
            return None
        try:
            return OfficerAction(
                kind=command.action,  # type: ignore[arg-type]  # checked by OfficerAction
                officer=command.officer,
                reason=command.reason,
                subject=command.subject,
                role=command.role,
            )
        except InputError as exc:  # signed, but not a valid action (an auditor's, say)
            claimed = {k: getattr(command, k) for k in ("action", "officer", "role", "subject")}
            self._refused(OfficerAction.refusal(claimed, str(exc)))
            return None

    def _allowed(self, action: OfficerAction) -> tuple[Referral | None, str]:
        """The referral ``action`` closes (accept, refuse) and why the lane's state forbids
        ``action`` now (empty: allowed)."""
        if action.role not in OFFICERS:
            return None, f"the {action.role} role does not act on lanes"
        if action.kind not in ("accept", "refuse"):
            return None, ""
        referral = self.desk.referral(action.subject)
        if referral is None:
            return None, "no open referral with this id on this lane"
        if action.kind == "accept":
            if not referral.present:
                return None, "the traveller has left the lane; no door opens for them"
            roles = ACCEPT_ROLES.get(referral.decision, frozenset())
            if action.role not in roles:
                who = " or ".join(sorted(roles)) if roles else "nobody"
                return None, f"{referral.decision.value} may be overridden by {who} only"
        self.desk.close_referral(action.subject)
        return referral, ""

    def _apply(self, action: OfficerAction) -> None:
        referral, forbidden = self._allowed(action)
        if forbidden:
            self._refused(replace(action, refused=forbidden))
            return
        if self.audit is not None:
            try:
                self.audit.record_officer(action, self.doors.clock.wall())
            except Exception as exc:  # not on record: nothing moves for it
                if referral is not None:
                    self.desk.reopen(action.subject, referral.decision, referral.present)
                self._refused(action, f"not recorded in the audit log: {exc}", record=False)
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
        elif action.kind == "refuse" and referral and _held(referral):
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

    def _refused(self, action: OfficerAction, why: str = "", *, record: bool = True) -> None:
        """Say it (log, event bus) and, for a refusal by the lane, write it to the audit log
        (a refusal that cannot be written is still refused)."""
        why = why or action.refused
        log.warning("officer action %s by %s refused: %s", action.kind, action.officer, why)
        self.bus.emit("officer", action.subject or None, f"{action.kind} refused: {why}")
        if record and self.audit is not None:
            try:
                self.audit.record_officer(replace(action, refused=why), self.doors.clock.wall())
            except Exception as exc:
                log.warning("refused officer action not recorded: %s", exc)


def _held(referral: Referral) -> bool:
    """Whether the lane holds the referred traveller (after an alarm or a fault)."""
    return referral.present and referral.decision not in WALK_BACK
