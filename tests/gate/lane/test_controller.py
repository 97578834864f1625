"""The gate state machine over in-memory fakes: every path, every failure ends fail-safe."""

from __future__ import annotations

import threading

import pytest

from gate.config import TimeoutsConfig
from gate.errors import (
    DeviceGoneError,
    DeviceTimeoutError,
    DocumentError,
    ModelError,
    ProtocolError,
    SecurityError,
)
from gate.fakes import TRAVELLER_KINDS, FakeLane
from gate.lane import GateEvent
from gate.outcome import Decision, State
from gate.simulate.scenario import EXPECTED_DECISION
from gate.transaction import CaptureOutcome
from gate.turnstile import EventKind


def _run(lane: FakeLane, kind: str) -> tuple[Decision, list[GateEvent]]:
    events: list[GateEvent] = []
    ctl = lane.build(observers=(events.append,))
    ctl.start()
    lane.traveller(kind)
    tx = ctl.serve_one(0.1)
    assert tx is not None
    return tx.decision, events


def test_the_fakes_script_every_scenario_kind() -> None:
    assert frozenset(EXPECTED_DECISION) == TRAVELLER_KINDS


@pytest.mark.parametrize("kind", sorted(EXPECTED_DECISION))
def test_every_traveller_kind_gets_its_outcome(kind: str) -> None:
    lane = FakeLane()
    decision, events = _run(lane, kind)
    assert decision is EXPECTED_DECISION[kind]
    # The doors end locked whatever happened, and the gate is idle again.
    assert lane.turnstile.locked
    assert lane.turnstile.commands[-1] == "lock"
    assert events[-1].kind == "transaction" and events[-1].state is State.IDLE
    assert len(lane.audit.records) == 1
    assert lane.audit.records[0].decision is decision
    opened = "open_exit" in lane.turnstile.commands
    assert opened == (kind in ("genuine", "tailgater", "id_card"))


def test_accept_walks_through_every_state_in_order() -> None:
    lane = FakeLane()
    decision, events = _run(lane, "genuine")
    assert decision is Decision.ACCEPT
    states = [e.state for e in events if e.kind == "state"]
    assert states == [
        State.IDLE,
        State.DOCUMENT,
        State.CAPTURE,
        State.VERIFY,
        State.EXIT_OPEN,
        State.PASSAGE,
        State.AUDIT,
        State.IDLE,
    ]
    tx = lane.audit.records[0]
    assert tx.score is not None and tx.threshold is not None and tx.score <= tx.threshold
    for stage in ("document", "enrol", "capture", "verify", "decision_to_command", "passage"):
        assert tx.stage_ms[stage] >= 0.0
    assert tx.stage_ms["total"] >= tx.stage_ms["document"] + tx.stage_ms["capture"]
    assert not tx.fail_safe and not tx.alarm


def test_tailgating_raises_an_alarm_event() -> None:
    lane = FakeLane()
    decision, events = _run(lane, "tailgater")
    assert decision is Decision.TAILGATING
    assert any(e.kind == "alarm" and e.detail == "tailgating" for e in events)
    assert lane.audit.records[0].alarm


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (SecurityError("BAC failed"), Decision.REFER_DOCUMENT),
        (DocumentError("DG2 hash mismatch"), Decision.REFER_DOCUMENT),
        (DeviceGoneError("card removed"), Decision.REFER_DEVICE),
        (ProtocolError("garbage"), Decision.REFER_DEVICE),
        (DeviceTimeoutError("no answer"), Decision.REFER_DEVICE),
        (RuntimeError("a bug"), Decision.REFER_DEVICE),
    ],
)
def test_chip_errors_refer_and_next_traveller_is_served(
    error: Exception, expected: Decision
) -> None:
    lane = FakeLane()
    ctl = lane.build()
    ctl.start()
    bad = lane.traveller("genuine")
    lane.chip.answers[bad.label] = error
    lane.biometrics.script.clear()
    lane.turnstile.passages.clear()
    lane.traveller("genuine")
    first = ctl.serve_one(0.1)
    second = ctl.serve_one(0.1)
    assert first is not None and second is not None
    assert first.decision is expected
    assert first.fail_safe == (expected is Decision.REFER_DEVICE)
    assert "open_exit" not in lane.turnstile.commands[:2]
    assert second.decision is Decision.ACCEPT
    assert ctl.state is State.IDLE


def test_camera_dies_mid_capture_then_next_traveller_served() -> None:
    lane = FakeLane()
    ctl = lane.build()
    ctl.start()
    lane.traveller("genuine")
    lane.traveller("genuine")
    lane.camera.die_after = 2
    first = ctl.serve_one(0.1)
    lane.camera.die_after = None  # the stream reconnects
    second = ctl.serve_one(0.1)
    assert first is not None and second is not None
    assert first.decision is Decision.REFER_DEVICE
    assert lane.turnstile.commands.count("open_exit") == 1
    assert second.decision is Decision.ACCEPT


def test_turnstile_unplugged_while_opening_ends_fail_safe() -> None:
    lane = FakeLane()
    ctl = lane.build()
    ctl.start()
    lane.traveller("genuine")
    lane.traveller("genuine")
    lane.turnstile.fail_on = {"open_exit"}
    first = ctl.serve_one(0.1)
    lane.turnstile.fail_on = set()
    second = ctl.serve_one(0.1)
    assert first is not None and second is not None
    assert first.decision is Decision.REFER_DEVICE and first.fail_safe
    assert lane.turnstile.locked
    assert second.decision is Decision.ACCEPT


def test_unplugged_turnstile_cannot_lock_but_transaction_still_reported() -> None:
    lane = FakeLane()
    events: list[GateEvent] = []
    ctl = lane.build(observers=(events.append,))
    lane.traveller("genuine")
    lane.turnstile.unplugged = True
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_DEVICE and tx.fail_safe
    assert any(e.kind == "error" and "lock failed" in e.detail for e in events)


def test_corrupted_model_refers_device_and_keeps_serving() -> None:
    lane = FakeLane()
    ctl = lane.build()
    # Same identity: the first traveller's unused capture script serves the second.
    lane.traveller("genuine", identity=7)
    lane.traveller("genuine", identity=7)
    lane.biometrics.corrupt_model = True
    first = ctl.serve_one(0.1)
    lane.biometrics.corrupt_model = False
    second = ctl.serve_one(0.1)
    assert first is not None and first.decision is Decision.REFER_DEVICE and first.fail_safe
    assert second is not None and second.decision is Decision.ACCEPT


def test_capture_raising_model_error_is_fail_safe() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")
    lane.biometrics.script[0] = ModelError("session died")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_DEVICE and tx.fail_safe


def test_audit_disk_full_fails_safe_and_next_traveller_is_recorded() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")
    lane.traveller("impostor")
    lane.audit.fail_next = 1
    first = ctl.serve_one(0.1)
    second = ctl.serve_one(0.1)
    assert first is not None and first.decision is Decision.AUDIT_FAILED and first.fail_safe
    assert "ACCEPT" in first.detail
    assert second is not None and second.decision is Decision.REJECT_MISMATCH
    assert [t.transaction_id for t in lane.audit.records] == [second.transaction_id]
    assert lane.turnstile.locked


def test_passage_timeout_with_simulated_clock() -> None:
    lane = FakeLane()
    ctl = lane.build(timeouts=TimeoutsConfig(passage_s=30.0))
    lane.traveller("genuine")
    lane.turnstile.passages[0] = "stay"  # traveller never walks through
    before = lane.clock.now()
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.TIMEOUT and tx.fail_safe
    # The simulated clock walked through the whole 30-second wait.
    assert lane.clock.now() - before >= 30.0
    assert tx.stage_ms["passage"] >= 30_000.0
    assert lane.turnstile.locked


def test_jammed_exit_door_refers_device() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")
    lane.turnstile.passages[0] = "jam"
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_DEVICE and tx.fail_safe


def test_slow_document_read_times_out() -> None:
    lane = FakeLane()
    lane.chip.read_s = 12.0
    ctl = lane.build(timeouts=TimeoutsConfig(document_s=10.0))
    lane.traveller("genuine")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.TIMEOUT
    assert "open_exit" not in lane.turnstile.commands


def test_multiple_faces_and_camera_failure_outcomes() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")
    lane.biometrics.script[0] = CaptureOutcome("multiple_faces")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_CAPTURE


def test_observer_that_raises_does_not_stop_the_gate() -> None:
    lane = FakeLane()
    seen: list[str] = []

    def broken(event: GateEvent) -> None:
        raise RuntimeError("observer bug")

    ctl = lane.build(observers=(broken, lambda e: seen.append(e.kind)))
    lane.traveller("genuine")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.ACCEPT
    assert "decision" in seen and "audit" in seen


def test_idle_gate_without_document_returns_none_and_serve_stops() -> None:
    lane = FakeLane()
    ctl = lane.build()
    assert ctl.serve_one(0.5) is None
    for kind in ("genuine", "impostor", "no_face"):
        lane.traveller(kind)
    stop = threading.Event()
    assert ctl.serve(stop, max_transactions=3) == 3
    decisions = [t.decision for t in lane.audit.records]
    assert decisions == [Decision.ACCEPT, Decision.REJECT_MISMATCH, Decision.REFER_CAPTURE]


def test_document_source_failure_locks_and_recovers() -> None:
    lane = FakeLane()
    events: list[GateEvent] = []
    ctl = lane.build(observers=(events.append,))

    calls = {"n": 0}
    original = lane.documents.wait_document

    def flaky(timeout: float):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise DeviceGoneError("reader unplugged")
        return original(timeout)

    lane.documents.wait_document = flaky  # type: ignore[method-assign]
    lane.traveller("genuine")
    assert ctl.serve_one(0.1) is None
    assert any(e.kind == "fail_safe" for e in events)
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.ACCEPT


def test_forced_door_while_idle_raises_alarm_and_relocks() -> None:
    lane = FakeLane()
    events: list[GateEvent] = []
    ctl = lane.build(observers=(events.append,))
    ctl.start()
    lane.turnstile.events.append((lane.clock.now(), EventKind.DOOR_FORCED))
    locks_before = lane.turnstile.commands.count("lock")
    assert ctl.serve_one(0.1) is None
    assert any(e.kind == "alarm" and e.detail == "door forced" for e in events)
    assert lane.turnstile.commands.count("lock") == locks_before + 1


def test_emergency_open_during_passage_refers_with_alarm() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")
    lane.turnstile.passages[0] = "stay"

    original = lane.turnstile.open_exit

    def open_then_emergency() -> None:
        original()
        lane.turnstile.events.append((lane.clock.now() + 0.1, EventKind.EMERGENCY_OPEN))

    lane.turnstile.open_exit = open_then_emergency  # type: ignore[method-assign]
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_DEVICE
    assert tx.alarm and tx.fail_safe


def test_referred_traveller_walks_back_through_the_entry() -> None:
    lane = FakeLane()
    ctl = lane.build()
    ctl.start()
    lane.traveller("impostor")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REJECT_MISMATCH and not tx.fail_safe
    commands = lane.turnstile.commands
    assert "open_entry" in commands and "open_exit" not in commands
    assert commands.index("open_entry") < len(commands) - 1 and commands[-1] == "lock"
    assert tx.stage_ms["walk_back"] >= 0.0


def test_alarm_and_device_faults_do_not_open_the_entry() -> None:
    for kind in ("tailgater", "genuine"):
        lane = FakeLane()
        ctl = lane.build()
        lane.traveller(kind)
        if kind == "genuine":
            lane.turnstile.passages[0] = "jam"
        tx = ctl.serve_one(0.1)
        assert tx is not None and tx.decision is not Decision.ACCEPT
        assert "open_entry" not in lane.turnstile.commands


def test_fault_on_the_way_back_keeps_the_referral_and_fails_safe() -> None:
    lane = FakeLane()
    events: list[GateEvent] = []
    ctl = lane.build(observers=(events.append,))
    lane.traveller("print_attack")
    lane.turnstile.fail_on = {"open_entry"}
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_LIVENESS
    assert tx.fail_safe and "on the way back" in tx.detail
    assert lane.turnstile.locked and any(e.kind == "fail_safe" for e in events)


def test_bad_expiry_in_dg1_refers_document_not_device() -> None:
    from dataclasses import replace

    lane = FakeLane()
    ctl = lane.build()
    doc = lane.traveller("genuine")
    answer = lane.chip.answers[doc.label]
    assert not isinstance(answer, BaseException)
    lane.chip.answers[doc.label] = replace(answer, expiry_date="35AB31")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_DOCUMENT and not tx.fail_safe


def test_missing_threshold_for_the_fmr_is_a_device_referral() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")

    def no_threshold(fmr: str) -> float:
        raise ModelError(f"pack has no threshold for FMR {fmr}")

    lane.biometrics.threshold = no_threshold  # type: ignore[method-assign]
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REFER_DEVICE and tx.fail_safe
    assert "threshold" in tx.detail


def test_interrupt_mid_transaction_locks_the_doors_then_propagates() -> None:
    lane = FakeLane()
    ctl = lane.build()
    lane.traveller("genuine")
    lane.biometrics.script[0] = KeyboardInterrupt()  # type: ignore[call-overload]
    with pytest.raises(KeyboardInterrupt):
        ctl.serve_one(0.1)
    assert lane.turnstile.commands[-1] == "lock" and ctl.state is State.FAIL_SAFE


def test_the_decision_is_on_record_before_the_exit_opens() -> None:
    lane = FakeLane()
    on_record_when_opened: list[bool] = []

    def watch(event: GateEvent) -> None:
        if event.kind == "door" and event.detail == "exit_open_commanded":
            on_record_when_opened.append(
                any(
                    d.transaction_id == event.transaction_id and d.decision is Decision.ACCEPT
                    for d in lane.audit.decisions
                )
            )

    ctl = lane.build(observers=(watch,))
    ctl.start()
    lane.traveller("genuine")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.ACCEPT
    assert on_record_when_opened == [True]
    # ... and the transaction's end follows as its own record.
    assert [t.transaction_id for t in lane.audit.records] == [tx.transaction_id]


def test_a_referral_is_on_record_before_the_entry_opens() -> None:
    lane = FakeLane()
    seen: list[list[Decision]] = []

    def watch(event: GateEvent) -> None:
        if event.kind == "door" and event.detail == "entry_open_commanded":
            seen.append([d.decision for d in lane.audit.decisions])

    ctl = lane.build(observers=(watch,))
    ctl.start()
    lane.traveller("impostor")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.REJECT_MISMATCH
    assert seen == [[Decision.REJECT_MISMATCH]]


def test_a_decision_that_cannot_be_recorded_opens_no_door() -> None:
    lane = FakeLane()
    events: list[GateEvent] = []
    ctl = lane.build(observers=(events.append,))
    ctl.start()
    lane.audit.fail_next_decisions = 1
    lane.traveller("genuine")
    tx = ctl.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.AUDIT_FAILED and tx.fail_safe
    assert "ACCEPT; decision record not committed" in tx.detail
    assert "open_exit" not in lane.turnstile.commands
    assert "open_entry" not in lane.turnstile.commands
    assert lane.turnstile.locked
    assert any(e.kind == "fail_safe" for e in events)
    # The disk has room again: the next traveller goes through.
    lane.traveller("genuine")
    second = ctl.serve_one(0.1)
    assert second is not None and second.decision is Decision.ACCEPT
    assert lane.turnstile.commands.count("open_exit") == 1
