"""The gate state machine: idle -> document -> capture -> verify -> exit open -> passage -> idle.

One ``process`` call is one traveller. Anything other than a verified face and a completed
passage refers the traveller to an officer with the doors locked. Every exception raised by
a device, a model or our own code ends in the fail-safe state (doors locked, traveller
referred, ``Transaction.fail_safe`` set), and the lane goes back to idle to serve the next
traveller. The audit record is committed before the next traveller starts; when it cannot
be, the outcome becomes ``AUDIT_FAILED`` (fail-safe) and the lane keeps serving.

Time comes only from the injected ``Clock``; observers receive every event synchronously
through the ``EventBus``. The document read (page OCR, chip) is
``gate.lane.document_stage``, the page-chip checks ``gate.lane.page_check``. The doors
are driven by ``gate.lane.doors.Doors``; what one
transaction has found so far, and the record it makes, is ``gate.lane.work.TransactionWork``;
the capture stage, with the challenge asked when liveness is inconclusive, is
``gate.lane.liveness_step``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace

from gate.clock import Clock
from gate.config import TimeoutsConfig
from gate.decision import DecisionPolicy, Verdict, check_document, decide_match
from gate.errors import AuditError, DocumentError
from gate.interfaces import Camera
from gate.lane.actions import OfficerAction
from gate.lane.capture_ahead import CaptureAhead, Scan
from gate.lane.checks import ChecksStage
from gate.lane.command_auth import ConsoleTrust
from gate.lane.document_stage import DocumentStage
from gate.lane.doors import Doors
from gate.lane.events import EventBus, Observer
from gate.lane.liveness_step import LivenessStep
from gate.lane.officer import OfficerDesk, OfficerHandler
from gate.lane.page_check import PageCheck
from gate.lane.ports import AuditSink, Biometrics, ChipReader, DocumentSource
from gate.lane.preview import PreviewCamera
from gate.lane.stopping import LaneStopping
from gate.lane.work import StageStop, TransactionWork
from gate.outcome import Decision, State, Transaction
from gate.transaction import CaptureOutcome, PresentedDocument
from gate.turnstile import Turnstile

log = logging.getLogger("gate.lane")

# Decisions that mean the gate itself could not finish normally.
_FAIL_SAFE_DECISIONS = frozenset({Decision.REFER_DEVICE, Decision.TIMEOUT, Decision.AUDIT_FAILED})


class Lane:
    """Drives one lane. Not thread-safe: one thread calls ``process``/``serve``.

    A lane made by ``build_lane`` owns the devices it opened and closes them on ``close``
    (it is a context manager); ports handed in ready-made stay their owner's.
    """

    def __init__(
        self,
        *,
        documents: DocumentSource,
        chip_reader: ChipReader,
        biometrics: Biometrics,
        camera: Camera,
        turnstile: Turnstile,
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
        self._today = today or self._clock_date
        self._bus = EventBus(clock, observers)
        self.doors = Doors(
            turnstile,
            clock,
            self._bus,
            self.timeouts,
            tailgate_grace_s=tailgate_grace_s,
            let_referred_back=let_referred_back,
        )
        self._threshold: float | None = None
        self.liveness_step = LivenessStep(self._bus, clock, self.policy, self.timeouts)
        self._officer = OfficerHandler(OfficerDesk(), self.doors, self._bus, audit)
        self._previews = False  # camera frames as ``preview`` events (the officer's view)
        self.checks = ChecksStage(self._bus, self._today)  # watchlists, eligibility: off
        self.document_stage = DocumentStage(self._bus, clock, lambda: self.timeouts.document_s)
        self.page = PageCheck(self._bus)  # page vs chip, when a page image came
        # When enabled (``egate run``) the capture runs while the chip is read.
        self.capture_ahead = CaptureAhead(limit_s=2 * self.timeouts.capture_s)
        self.resources = ExitStack()  # what build_lane opened for this lane

    def _clock_date(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.wall(), dt.timezone.utc).date()

    # -- observers, state, life cycle --------------------------------------------------------
    def add_observer(self, observer: Observer) -> None:
        self._bus.add_observer(observer)

    def remove_observer(self, observer: Observer) -> None:
        self._bus.remove_observer(observer)

    @property
    def state(self) -> State:
        return self._bus.state

    @property
    def in_service(self) -> bool:
        """False while an officer has closed the lane (no document is taken)."""
        return self._officer.in_service

    def submit_officer_action(self, action: OfficerAction | bytes) -> None:
        """Queue an officer's action (in process) or a signed command's bytes (from a
        console outside; checked against ``trust_consoles``, refusals audited); the lane's
        thread applies it between travellers. Never blocks; ``InputError`` when full."""
        self._officer.desk.submit(action)

    def trust_consoles(self, name: str, trust: ConsoleTrust) -> None:
        """Believe signed commands naming lane ``name`` from the console keys in ``trust``."""
        self._officer.name, self._officer.trust = name, trust

    def show_previews(self, on: bool = True) -> None:
        """Emit a few capture frames a second as ``preview`` events (for a console)."""
        self._previews = on

    def apply_officer_actions(self) -> int:
        """Apply the queued officer actions now (the lane's thread, between travellers);
        returns how many there were."""
        return self._officer.apply_pending()

    def use_biometrics(self, biometrics: Biometrics) -> None:
        """Swap the face side (a repaired or different pack); the threshold is asked anew."""
        self.biometrics = biometrics
        self._threshold = None

    def threshold(self) -> float:
        if self._threshold is None:
            self._threshold = self.biometrics.threshold(self.policy.target_fmr)
        return self._threshold

    def announce(self, kind: str, detail: str) -> None:
        """An event from beside the transactions (``gate.lane.service``: out of service)."""
        self._bus.emit(kind, None, detail)

    def start(self) -> None:
        """Put the lane in its resting state: doors locked, idle."""
        self.doors.lock(None)
        self._bus.enter(State.IDLE, None)

    def close(self) -> None:
        """Close every device this lane opened (last opened first)."""
        self.capture_ahead.cancel()
        self.resources.close()

    def __enter__(self) -> Lane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ------------------------------------------------------------------------------
    def serve(self, stop: threading.Event, max_transactions: int | None = None) -> int:
        """Serve travellers until ``stop`` is set, the document source has ended or
        ``max_transactions`` were processed; returns how many were processed."""
        served = 0
        while not stop.is_set() and not self.documents.ended:
            if max_transactions is not None and served >= max_transactions:
                break
            try:
                served += self.serve_one(self.timeouts.idle_poll_s) is not None
            except LaneStopping as stopping:  # between travellers: no one to refer
                self.doors.fail_safe(None, str(stopping))
                break
        return served

    def serve_one(self, timeout: float) -> Transaction | None:
        """Apply the officers' queued actions, then wait up to ``timeout`` for a document
        and process it; ``None`` when none came (or an officer closed the lane)."""
        self.apply_officer_actions()
        if not self._officer.in_service:
            self.capture_ahead.cancel()
            self.doors.watch_idle()
            self.clock.sleep(min(timeout, self.timeouts.idle_poll_s))
            return None
        # the approach, watched until a scan (``egate run``)
        self.capture_ahead.watch(self._capture, self.camera, time.monotonic())
        try:
            document = self.documents.wait_document(timeout)
        except Exception as exc:  # the document reader itself failed: lock, stay in service
            log.warning("document source failed: %s", exc)
            self._bus.emit("error", None, f"document source: {exc}")
            self.doors.fail_safe(None, f"document source failed: {exc}")
            self._bus.enter(State.IDLE, None)
            self.clock.sleep(timeout)
            return None
        if document is None:
            self.doors.watch_idle()
            return None
        return self.process(document)

    def process(self, document: PresentedDocument) -> Transaction:
        """One traveller, from the document on the reader back to idle."""
        work = TransactionWork(uuid.uuid4().hex, self.clock, self.clock.wall(), self.clock.now())
        tid = work.transaction_id
        self._bus.emit("transaction", tid, "started", label=document.label)
        verdict = self._guarded(tid, lambda: self._run(document, work))
        self.capture_ahead.cancel()  # a capture not taken (the document referred) ends now
        verdict, fail_safe = self._act(work, verdict)
        work.stage_ms["total"] = (self.clock.now() - work.started) * 1000.0
        transaction = self._transaction(work, verdict, fail_safe)
        self._bus.emit("decision", tid, transaction.decision.value, transaction=transaction)
        transaction = self._commit(transaction)
        self._bus.enter(State.IDLE, None)
        self._bus.emit("transaction", tid, "finished", transaction=transaction)
        return transaction

    def _guarded(self, tid: str, call: Callable[[], Verdict]) -> Verdict:
        """Run a part of the transaction; whatever it raises becomes its verdict."""
        try:
            return call()
        except StageStop as stop:
            return stop.verdict
        except LaneStopping as stopping:  # SIGTERM: refer the traveller, doors locked
            return Verdict(Decision.REFER_DEVICE, str(stopping))
        except Exception as exc:  # a bug or an untranslated error: never leave doors open
            log.exception("transaction %s: unexpected error", tid)
            return Verdict(Decision.REFER_DEVICE, f"internal error: {type(exc).__name__}")
        except BaseException:  # Ctrl-C or shutdown in mid-transaction: lock, then go
            self.doors.fail_safe(tid, "interrupted")
            raise

    def _act(self, work: TransactionWork, verdict: Verdict) -> tuple[Verdict, bool]:
        """Record the decision ahead, then act on it: the exit for an accepted traveller, the
        way back for a referred one, the locked lane after a fault. Returns the final
        verdict and whether the lane went through its fail-safe path."""
        tid = work.transaction_id
        fail_safe = verdict.decision in _FAIL_SAFE_DECISIONS
        if fail_safe:  # locking needs no record first: it is always the safe move
            self.doors.fail_safe(tid, verdict.reason)
        not_recorded = self._write_ahead(work, verdict, fail_safe)
        if not_recorded:  # no door opens on a decision that is not on record
            reason = f"decision record not committed: {not_recorded}"
            if not fail_safe:
                self.doors.fail_safe(tid, reason)
            return Verdict(Decision.AUDIT_FAILED, f"{verdict.decision.value}; {reason}"), True
        if fail_safe:
            return verdict, True
        if verdict.decision is Decision.ACCEPT:
            verdict = self._guarded(tid, lambda: self.doors.let_through(work, work.decided_from))
            if verdict.decision is Decision.ACCEPT:
                return verdict, False
            if verdict.decision in _FAIL_SAFE_DECISIONS:
                self.doors.fail_safe(tid, verdict.reason)
                return verdict, True
        trouble = self._refer(work, verdict)
        if trouble:
            return Verdict(verdict.decision, f"{verdict.reason}; {trouble}"), True
        return verdict, False

    def _write_ahead(self, work: TransactionWork, verdict: Verdict, fail_safe: bool) -> str:
        """Commit the decision durably; returns why it could not be, or ``""``."""
        if self.audit is None:
            return ""
        tid = work.transaction_id
        try:
            self.audit.record_decision(self._transaction(work, verdict, fail_safe))
        except Exception as exc:
            if not isinstance(exc, AuditError):
                log.exception("audit sink failed")
            self._bus.emit("audit", tid, "decision failed")
            return str(exc)
        self._bus.emit("audit", tid, "decision committed")
        return ""

    def _transaction(self, work: TransactionWork, verdict: Verdict, fail_safe: bool) -> Transaction:
        return work.transaction(verdict, fail_safe, self.clock.wall(), self._pack_id())

    # -- stages ------------------------------------------------------------------------------
    def _pack_id(self) -> str | None:
        try:
            return self.biometrics.pack_id
        except Exception:
            return None

    def _run(self, document: PresentedDocument, work: TransactionWork) -> Verdict:
        tid = work.transaction_id
        self._bus.enter(State.DOCUMENT, tid)
        self.capture_ahead.start(self._capture, self.camera, tid)
        document, doc = self.document_stage.read(document, work, self.chip_reader)
        try:
            verdict = check_document(doc, document.printed_mrz, self._today(), self.policy)
        except DocumentError as exc:  # e.g. an expiry date that is not a date
            return Verdict(Decision.REFER_DOCUMENT, f"document: {exc}")
        if (verdict := self.page.mrz(work, document, doc, verdict)) is not None:
            return verdict  # the page's MRZ vs DG1 named by field, when a page was read
        photo = doc.photo
        if photo is None:  # check_document already refers; this keeps the type narrow
            return Verdict(Decision.REFER_DOCUMENT, "no photo in the chip (DG2)")
        reference = work.run("enrol", lambda: self.biometrics.enrol(photo))
        work.chip_photo = photo
        if (verdict := self.page.portrait(work, self.biometrics, reference, document)) is not None:
            return verdict

        self._bus.enter(State.CAPTURE, tid)
        camera = PreviewCamera(self.camera, self._bus, tid) if self._previews else self.camera
        capture, verdict = self.liveness_step.capture(
            work, self.biometrics, camera, self.capture_ahead.result
        )
        if verdict is not None:
            return verdict

        self._bus.enter(State.VERIFY, tid)
        decided_from = self.clock.now()
        work.threshold = work.run("threshold", self.threshold)
        work.score = work.run(
            "verify", lambda: self.biometrics.distance(reference, capture.embeddings)
        )
        if work.timed("verify", decided_from) > self.timeouts.verify_s:
            return Verdict(Decision.TIMEOUT, "verification ran past its time limit")
        work.decided_from = decided_from
        return self.checks.decide(work, doc, capture, decide_match(work.score, work.threshold))

    def _capture(self, camera: Camera, scan: Scan) -> CaptureOutcome:
        camera = PreviewCamera(camera, self._bus, scan) if self._previews else camera
        return self.biometrics.capture(camera, self.clock, self.timeouts.capture_s, scan.event)

    # -- ends ----------------------------------------------------------------------------------
    def _refer(self, work: TransactionWork, verdict: Verdict) -> str:
        """Lock the exit, call an officer and, for an ordinary referral, let the traveller
        walk back out through the entry. Returns what went wrong on the way back, if any."""
        tid = work.transaction_id
        self._bus.enter(State.REFERRED, tid)
        self.doors.lock(tid)
        self._officer.desk.referred(tid, verdict.decision)
        self._bus.emit(
            "referral",
            tid,
            verdict.reason,
            decision=verdict.decision.value,
            passive_auth=work.passive_auth,
            active_auth=work.active_auth,
            chip_auth=work.chip_auth,
            liveness=work.liveness,
            liveness_evidence=None if (ev := work.evidence()) is None else ev.as_dict(),
            score=work.score,
            threshold=work.threshold,
            quality=work.quality,
            face_box=work.face_box,
            chip_photo=work.chip_photo,
            best_shot=work.best_shot,
            document=work.document,
        )
        return self.doors.walk_back(work, verdict)

    def _commit(self, transaction: Transaction) -> Transaction:
        if self.audit is None:
            return transaction
        self._bus.enter(State.AUDIT, transaction.transaction_id)
        try:
            self.audit.commit(transaction)
        except Exception as exc:
            reason = f"audit record not committed: {exc}"
            if not isinstance(exc, AuditError):
                log.exception("audit sink failed")
            self.doors.fail_safe(transaction.transaction_id, reason)
            self._bus.emit("audit", transaction.transaction_id, "failed")
            # an AUDIT_FAILED decision keeps its own reason (its record was not committed)
            failed = transaction.decision is Decision.AUDIT_FAILED
            before = transaction.detail if failed else transaction.decision.value
            return replace(
                transaction, decision=Decision.AUDIT_FAILED, detail=f"{before}; {reason}",
                fail_safe=True,
            )  # fmt: skip
        self._bus.emit("audit", transaction.transaction_id, "committed")
        return transaction
