"""Fault tests on the real device paths: the ICAO reader over a virtual chip, the turnstile
driver over a pty to its emulator, the SQLite audit log. The camera and the face engine are
the in-memory fakes here (their real counterparts are in the end-to-end simulation test).

Each fault ends in the fail-safe state (doors locked, traveller referred) with the right
outcome, and the next traveller is served normally.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gate.lane import GateEvent
from gate.outcome import Decision, State, Transaction
from gate.turnstile import Door, DoorState
from tests.gate.lane.real_lane import RealLane


def _assert_fail_safe(lane: RealLane, tx: Transaction) -> None:
    assert tx.fail_safe
    assert any(e.kind == "fail_safe" and e.transaction_id == tx.transaction_id for e in lane.events)
    assert lane.controller.state is State.IDLE


def test_genuine_traveller_passes_on_real_devices(lane: RealLane) -> None:
    tx = lane.traveller()
    assert tx.decision is Decision.ACCEPT, tx.detail
    assert tx.passive_auth == "valid" and tx.active_auth == "valid"
    assert lane.exit_opened() == 1
    assert lane.audit.count() == 1


def test_card_removed_mid_read(lane: RealLane) -> None:
    tx = lane.traveller(remove_after_apdus=6)
    assert tx.decision is Decision.REFER_DEVICE, tx.detail
    assert "DeviceGoneError" in tx.detail
    _assert_fail_safe(lane, tx)
    assert lane.exit_opened() == 0
    assert lane.traveller().decision is Decision.ACCEPT
    assert lane.audit.count() == 2


def test_tampered_chip_is_referred_not_fail_safe(lane: RealLane) -> None:
    tx = lane.traveller(corrupt_dg=2)
    assert tx.decision is Decision.REFER_DOCUMENT
    assert tx.passive_auth == "invalid"
    assert not tx.fail_safe and lane.exit_opened() == 0


def test_turnstile_unplugged_while_opening(lane: RealLane) -> None:
    def unplug(event: GateEvent) -> None:
        if event.kind == "state" and event.state is State.EXIT_OPEN:
            lane.emulator.unplug()

    lane.controller.add_observer(unplug)
    tx = lane.traveller()
    lane.controller.remove_observer(unplug)
    assert tx.decision in (Decision.REFER_DEVICE, Decision.TIMEOUT), tx.detail
    _assert_fail_safe(lane, tx)
    assert lane.exit_opened() == 0
    mark = len(lane.emulator.commands())
    lane.emulator.replug()
    # The driver reconnects with backoff (its first act is to lock); then the next traveller.
    assert lane.emulator.wait_command("lock", start=mark, timeout=15)
    second = lane.traveller()
    assert second.decision is Decision.ACCEPT, second.detail
    assert lane.exit_opened() == 1


def test_audit_disk_full_then_recovers(lane: RealLane) -> None:
    assert lane.traveller().decision is Decision.ACCEPT
    lane.audit.limit_pages(lane.audit.page_count())  # the test plays the full disk
    # Fill the last free space so the next insert needs a new page.
    tx = lane.traveller()
    for _ in range(200):
        if tx.decision is Decision.AUDIT_FAILED:
            break
        tx = lane.traveller()
    assert tx.decision is Decision.AUDIT_FAILED
    assert "not committed" in tx.detail
    _assert_fail_safe(lane, tx)
    decisions = {
        e["transaction_id"]: e["outcome"] for e in lane.audit.entries() if e["kind"] == "decision"
    }
    if "decision record not committed" in tx.detail:
        assert tx.transaction_id not in decisions  # no door moved for an unrecorded decision
    else:
        assert decisions[tx.transaction_id] == "ACCEPT"  # the decision made it; the end did not
    # Write-ahead: every opening of the exit has its committed ACCEPT decision.
    assert lane.exit_opened() == sum(1 for o in decisions.values() if o == "ACCEPT")
    rows_while_full = lane.audit.count()
    lane.audit.limit_pages(None)
    after = lane.traveller()
    assert after.decision is Decision.ACCEPT
    assert lane.audit.count() == rows_while_full + 1
    assert lane.audit.verify().ok


# -- the fault matrix (docs/reliability.md) ----------------------------------------------------
# Each fault hits one traveller on the real device paths. Whatever it is, the lane ends with
# both doors closed, no committed audit row is lost (and the chain verifies), and the next
# traveller is served. Faults that need other set-ups (pcscd killed, SIGKILL with the door
# open or during a write, a full runtime folder) have their own tests, listed in the doc.


def _during(lane: RealLane, state: State, act: Callable[[], None]) -> Transaction:
    """A traveller, with ``act`` done when the lane enters ``state``."""

    def observer(event: GateEvent) -> None:
        if event.kind == "state" and event.state is state:
            act()

    lane.controller.add_observer(observer)
    try:
        return lane.traveller()
    finally:
        lane.controller.remove_observer(observer)


def _card_removed(lane: RealLane) -> Transaction:
    return lane.traveller(remove_after_apdus=6)


def _turnstile_unplugged(lane: RealLane) -> Transaction:
    tx = _during(lane, State.EXIT_OPEN, lane.emulator.unplug)
    mark = len(lane.emulator.commands())
    lane.emulator.replug()
    assert lane.emulator.wait_command("lock", start=mark, timeout=15)  # the driver is back
    return tx


def _controller_silent(lane: RealLane) -> Transaction:
    tx = _during(lane, State.EXIT_OPEN, lane.emulator.silence)
    mark = len(lane.emulator.commands())
    lane.emulator.silence(False)
    assert lane.emulator.wait_command("lock", start=mark, timeout=15)  # the driver is back
    return tx


def _exit_jammed(lane: RealLane) -> Transaction:
    lane.emulator.jam(Door.EXIT)
    try:
        return lane.traveller()
    finally:
        lane.emulator.jam(Door.EXIT, False)


def _entry_forced(lane: RealLane) -> Transaction:
    tx = _during(lane, State.PASSAGE, lambda: lane.emulator.force(Door.ENTRY))
    lane.emulator.force(Door.ENTRY, False)
    return tx


def _camera_gone(lane: RealLane) -> Transaction:
    lane.camera.closed = True
    try:
        return lane.traveller()
    finally:
        lane.camera.closed = False


def _pack_corrupted(lane: RealLane) -> Transaction:
    lane.biometrics.corrupt_model = True
    try:
        return lane.traveller()
    finally:
        lane.biometrics.corrupt_model = False


def _disk_full(lane: RealLane) -> Transaction:
    lane.audit.limit_pages(lane.audit.page_count())
    try:
        for _ in range(200):
            tx = lane.traveller()
            if tx.decision is Decision.AUDIT_FAILED:
                return tx
        raise AssertionError("the capped audit log never filled up")
    finally:
        lane.audit.limit_pages(None)


FAULTS: dict[str, tuple[Callable[[RealLane], Transaction], frozenset[Decision]]] = {
    "card removed": (_card_removed, frozenset({Decision.REFER_DEVICE})),
    "controller silent": (_controller_silent, frozenset({Decision.REFER_DEVICE})),
    "turnstile unplugged": (
        _turnstile_unplugged,
        frozenset({Decision.REFER_DEVICE, Decision.TIMEOUT}),
    ),
    "exit jammed": (_exit_jammed, frozenset({Decision.REFER_DEVICE})),
    "entry forced": (_entry_forced, frozenset({Decision.REFER_DEVICE})),
    "camera gone": (_camera_gone, frozenset({Decision.REFER_DEVICE})),
    "model pack corrupted": (_pack_corrupted, frozenset({Decision.REFER_DEVICE})),
    "audit disk full": (_disk_full, frozenset({Decision.AUDIT_FAILED})),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_matrix(lane: RealLane, fault: str) -> None:
    inject, outcomes = FAULTS[fault]
    assert lane.traveller().decision is Decision.ACCEPT  # a committed row before the fault
    before = list(lane.audit.entries())
    tx = inject(lane)
    assert tx.decision in outcomes, tx.detail
    _assert_fail_safe(lane, tx)
    for door in (Door.ENTRY, Door.EXIT):  # the doors travel in the emulator's own time
        assert lane.emulator.wait_door(door, DoorState.CLOSED, timeout=10), (fault, door)
    after = list(lane.audit.entries())
    assert after[: len(before)] == before and lane.audit.verify().ok  # nothing committed lost
    following = lane.traveller()
    assert following.decision is Decision.ACCEPT, following.detail
