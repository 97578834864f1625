"""The gate state machine: idle -> document -> capture -> verify -> exit open -> passage -> idle.

One ``process`` call is one traveller. Anything other than a verified face and a completed
passage refers the traveller to an officer with the doors locked. Every exception raised by
a device, a model or our own code ends in the fail-safe state (doors locked, traveller
referred, ``Transaction.fail_safe`` set), and the gate goes back to idle to serve the next
traveller. The audit record is committed before the next traveller starts; when it cannot
be, the outcome becomes ``AUDIT_FAILED`` (fail-safe) and the gate keeps serving.

Time comes only from the injected ``Clock``; observers receive every event synchronously
(an observer that raises is logged and ignored: it must never stop a border gate). The
dealings with the doors live in ``gate.controller_doors``, the shared values in
``gate.controller_events``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gate import controller_doors as doors
from gate.clock import Clock
from gate.config import TimeoutsConfig
from gate.controller_events import (
    GateEvent,
    Observer,
    StageStop,
    TransactionWork,
)
from gate.controller_ports import (
    AuditSink,
    Biometrics,
    CaptureOutcome,
    ChipReader,
    DocumentRead,
    DocumentSource,
    PresentedDocument,
    TurnstileLike,
)
from gate.decision import (
    DecisionPolicy,
    Verdict,
    check_capture,
    check_document,
    decide_match,
)
from gate.errors import (
    AuditError,
    DeviceError,
    DocumentError,
    FaceError,
    GateError,
)
from gate.interfaces import Camera
from gate.outcome import Decision, State, Transaction

__all__ = ["GateController", "GateEvent", "Observer"]

log = logging.getLogger(__name__)


# Decisions that mean the gate itself could not finish normally.
_FAIL_SAFE_DECISIONS = frozenset({Decision.REFER_DEVICE, Decision.TIMEOUT, Decision.AUDIT_FAILED})


class GateController:
    """Drives one lane. Not thread-safe: one thread calls ``process``/``serve``."""

    def __init__(
        self,
        *,
        documents: DocumentSource,
        chip_reader: ChipReader,
        biometrics: Biometrics,
        camera: Camera,
        turnstile: TurnstileLike,
        clock: Clock,
        audit: AuditSink | None = None,
        policy: DecisionPolicy | None = None,
        timeouts: TimeoutsConfig | None = None,
        observers: tuple[Observer, ...] = (),
        today: Callable[[], dt.date] | None = None,
        tailgate_grace_s: float = 1.0,
        let_referred_back: bool = True,
    ) -> None:
        self.documents = documents
        self.chip_reader = chip_reader
        self.biometrics = biometrics
        self.camera = camera
        self.turnstile = turnstile
        self.clock = clock
        self.audit = audit
        self.policy = policy or DecisionPolicy()
        self.timeouts = timeouts or TimeoutsConfig()
        self._observers: list[Observer] = list(observers)
        self._today = today or self._clock_date
        self.tailgate_grace_s = tailgate_grace_s
        self.let_referred_back = let_referred_back
        self._state = State.IDLE
        self._threshold: float | None = None

    def _clock_date(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.wall(), dt.timezone.utc).date()

    # -- observers and state ---------------------------------------------------------------
    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    @property
    def state(self) -> State:
        return self._state

    def _emit(self, kind: str, tid: str | None, detail: str = "", **data: Any) -> None:
        event = GateEvent(kind, self._state, self.clock.now(), tid, detail, data)
        for observer in tuple(self._observers):
            try:
                observer(event)
            except Exception:  # an observer must never stop the gate
                log.exception("gate observer %r failed on %s", observer, kind)

    def _enter(self, state: State, tid: str | None) -> None:
        self._state = state
        self._emit("state", tid, state.value)

    def threshold(self) -> float:
        if self._threshold is None:
            self._threshold = self.biometrics.threshold(self.policy.target_fmr)
        return self._threshold

    # -- the lane ---------------------------------------------------------------------------
    def start(self) -> None:
        """Put the lane in its resting state: doors locked, idle."""
        self._lock_doors(None)
        self._enter(State.IDLE, None)

    def serve(self, stop: threading.Event, max_transactions: int | None = None) -> int:
        """Serve travellers until ``stop`` is set; returns how many were processed."""
        served = 0
        while not stop.is_set() and (max_transactions is None or served < max_transactions):
            if self.serve_one(self.timeouts.idle_poll_s) is not None:
                served += 1
        return served

    def serve_one(self, timeout: float) -> Transaction | None:
        """Wait up to ``timeout`` for a document and process it; ``None`` when none came."""
        try:
            document = self.documents.wait_document(timeout)
        except Exception as exc:  # the document reader itself failed: lock, stay in service
            log.warning("document source failed: %s", exc)
            self._emit("error", None, f"document source: {exc}")
            self._fail_safe(None, f"document source failed: {exc}")
            self._enter(State.IDLE, None)
            self.clock.sleep(timeout)
            return None
        if document is None:
            doors.watch_idle_lane(self)
            return None
        return self.process(document)

    def process(self, document: PresentedDocument) -> Transaction:
        """One traveller, from the document on the reader back to idle."""
        work = TransactionWork(uuid.uuid4().hex, self.clock.wall(), self.clock.now())
        tid = work.transaction_id
        self._emit("transaction", tid, "started", label=document.label)
        fail_safe = False
        try:
            verdict = self._run(document, work)
        except StageStop as stop:
            verdict = stop.verdict
        except Exception as exc:  # a bug or an untranslated error: never leave doors open
            log.exception("transaction %s: unexpected error", tid)
            verdict = Verdict(Decision.REFER_DEVICE, f"internal error: {type(exc).__name__}")
            fail_safe = True
        except BaseException:  # Ctrl-C or shutdown in mid-transaction: lock, then go
            self._fail_safe(tid, "interrupted")
            raise
        if verdict.decision is not Decision.ACCEPT:
            fail_safe = fail_safe or verdict.decision in _FAIL_SAFE_DECISIONS
            if fail_safe:
                self._fail_safe(tid, verdict.reason)
            else:
                trouble = self._refer(work, verdict)
                if trouble:
                    verdict = Verdict(verdict.decision, f"{verdict.reason}; {trouble}")
                    fail_safe = True
        work.stage_ms["total"] = (self.clock.now() - work.started) * 1000.0
        transaction = Transaction(
            transaction_id=tid,
            started_at=work.started_wall,
            finished_at=self.clock.wall(),
            decision=verdict.decision,
            score=work.score,
            threshold=work.threshold,
            liveness=work.liveness,
            pack_id=self._pack_id(),
            passive_auth=work.passive_auth,
            active_auth=work.active_auth,
            stage_ms=dict(work.stage_ms),
            detail=verdict.reason,
            alarm=work.alarm,
            fail_safe=fail_safe,
            frames_seen=work.frames_seen,
            document_number=work.document_number,
        )
        self._emit("decision", tid, transaction.decision.value, transaction=transaction)
        transaction = self._commit(transaction)
        self._enter(State.IDLE, None)
        self._emit("transaction", tid, "finished", transaction=transaction)
        return transaction

    # -- stages ------------------------------------------------------------------------------
    def _pack_id(self) -> str | None:
        try:
            return self.biometrics.pack_id
        except Exception:
            return None

    def _timed(self, work: TransactionWork, stage: str, started: float) -> float:
        elapsed = self.clock.now() - started
        work.stage_ms[stage] = elapsed * 1000.0
        return elapsed

    def _run(self, document: PresentedDocument, work: TransactionWork) -> Verdict:
        tid = work.transaction_id
        self._enter(State.DOCUMENT, tid)
        doc = self._read_document(document, work)
        try:
            verdict = check_document(doc, document.printed_mrz, self._today(), self.policy)
        except DocumentError as exc:  # e.g. an expiry date that is not a date
            return Verdict(Decision.REFER_DOCUMENT, f"document: {exc}")
        if verdict is not None:
            return verdict
        photo = doc.photo
        if photo is None:  # check_document already refers; this keeps the type narrow
            return Verdict(Decision.REFER_DOCUMENT, "no photo in the chip (DG2)")
        reference = self._stage(work, "enrol", lambda: self.biometrics.enrol(photo))

        self._enter(State.CAPTURE, tid)
        started = self.clock.now()
        capture = self._stage(
            work,
            "capture",
            lambda: self.biometrics.capture(self.camera, self.clock, self.timeouts.capture_s),
        )
        self._note_capture(work, capture)
        if self._timed(work, "capture", started) > self.timeouts.capture_s * 1.5:
            return Verdict(Decision.TIMEOUT, "capture ran past its time limit")
        verdict = check_capture(capture, self.policy)
        if verdict is not None:
            return verdict

        self._enter(State.VERIFY, tid)
        decided_from = self.clock.now()
        work.threshold = self._stage(work, "threshold", self.threshold)
        work.score = self._stage(
            work, "verify", lambda: self.biometrics.distance(reference, capture.embeddings)
        )
        if self._timed(work, "verify", decided_from) > self.timeouts.verify_s:
            return Verdict(Decision.TIMEOUT, "verification ran past its time limit")
        verdict = decide_match(work.score, work.threshold)
        if verdict.decision is not Decision.ACCEPT:
            return verdict
        return doors.let_through(self, work, decided_from)

    def _stage(self, work: TransactionWork, stage: str, call: Callable[[], Any]) -> Any:
        """Run one stage's call, translating its errors into a verdict for that stage."""
        started = self.clock.now()
        try:
            return call()
        except GateError as exc:
            raise StageStop(self._verdict_for_error(stage, exc)) from exc
        finally:
            self._timed(work, stage, started)

    @staticmethod
    def _verdict_for_error(stage: str, exc: GateError) -> Verdict:
        text = f"{stage}: {type(exc).__name__}: {exc}"
        # A device that stops answering is a device failure (REFER_DEVICE); TIMEOUT is kept
        # for a stage that ran past its own time limit.
        if isinstance(exc, DeviceError):
            return Verdict(Decision.REFER_DEVICE, text)
        if stage == "document" and isinstance(exc, DocumentError):
            return Verdict(Decision.REFER_DOCUMENT, text)
        if stage == "enrol" and isinstance(exc, FaceError):
            return Verdict(Decision.REFER_DOCUMENT, f"no usable face in the chip photo ({exc})")
        if stage == "capture" and isinstance(exc, FaceError):
            return Verdict(Decision.REFER_CAPTURE, text)
        return Verdict(Decision.REFER_DEVICE, text)

    def _read_document(self, document: PresentedDocument, work: TransactionWork) -> DocumentRead:
        started = self.clock.now()
        doc: DocumentRead = self._stage(
            work, "document", lambda: self.chip_reader.read(document, self.clock.wall())
        )
        work.passive_auth = doc.passive_auth
        work.active_auth = doc.active_auth
        work.document_number = doc.document_number
        if self._timed(work, "document", started) > self.timeouts.document_s:
            raise StageStop(Verdict(Decision.TIMEOUT, "document read ran past its time limit"))
        return doc

    @staticmethod
    def _note_capture(work: TransactionWork, capture: CaptureOutcome) -> None:
        work.liveness = capture.liveness
        work.frames_seen = capture.frames_seen
        for key, value in capture.timings_ms.items():
            work.stage_ms[f"capture.{key}"] = float(value)

    # -- ends ----------------------------------------------------------------------------------
    def _lock_doors(self, tid: str | None) -> bool:
        try:
            self.turnstile.lock()
            return True
        except Exception as exc:  # nothing more we can do in software: say it loudly
            log.error("could not lock the doors: %s", exc)
            self._emit("error", tid, f"lock failed: {exc}")
            return False

    def _refer(self, work: TransactionWork, verdict: Verdict) -> str:
        """Lock the exit, call an officer and, for an ordinary referral, let the traveller
        walk back out through the entry. Returns what went wrong on the way back, if any."""
        tid = work.transaction_id
        self._enter(State.REFERRED, tid)
        self._lock_doors(tid)
        self._emit("referral", tid, verdict.reason, decision=verdict.decision.value)
        return doors.walk_back(self, work, verdict)

    def _fail_safe(self, tid: str | None, reason: str) -> None:
        self._enter(State.FAIL_SAFE, tid)
        locked = self._lock_doors(tid)
        self._emit("fail_safe", tid, reason, locked=locked)

    def _commit(self, transaction: Transaction) -> Transaction:
        if self.audit is None:
            return transaction
        self._enter(State.AUDIT, transaction.transaction_id)
        try:
            self.audit.commit(transaction)
        except Exception as exc:
            reason = f"audit record not committed: {exc}"
            if not isinstance(exc, AuditError):
                log.exception("audit sink failed")
            self._fail_safe(transaction.transaction_id, reason)
            self._emit("audit", transaction.transaction_id, "failed")
            return replace(
                transaction,
                decision=Decision.AUDIT_FAILED,
                detail=f"{transaction.decision.value}; {reason}",
                fail_safe=True,
            )
        self._emit("audit", transaction.transaction_id, "committed")
        return transaction
