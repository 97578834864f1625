"""Fault tests on the real device paths: the ICAO reader over a virtual chip, the turnstile
driver over a pty to its emulator, the SQLite audit log. The camera and the face engine are
the in-memory fakes here (their real counterparts are in the end-to-end simulation test).

Each fault ends in the fail-safe state (doors locked, traveller referred) with the right
outcome, and the next traveller is served normally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import pytest

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from drivers.turnstile.emulator import EmulatorHandle, Physics, start_emulator
from gate.audit import AuditLog
from gate.clock import SystemClock
from gate.config import GateConfig, ReaderConfig, TimeoutsConfig, TurnstileConfig
from gate.fakes import FakeBiometrics, FakeCamera, FakeDocumentSource, fake_embedding, fake_photo
from gate.lane import GateEvent, Lane, build_lane
from gate.lane.adapters import AuditLogSink
from gate.outcome import Decision, State, Transaction
from gate.simulate.issue import issue_passport
from gate.simulate.pki import TestPki, init_pki
from gate.transaction import CaptureOutcome, PresentedDocument
from gate.turnstile import Door, DoorState

TIMEOUTS = TimeoutsConfig(exit_open_s=2.0, passage_s=3.0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class RealLane:
    tmp: Path
    pki: TestPki
    emulator: EmulatorHandle
    audit: AuditLog
    clock: SystemClock = field(default_factory=SystemClock)
    count: int = 0

    def __post_init__(self) -> None:
        self.documents = FakeDocumentSource(self.clock)
        self.biometrics = FakeBiometrics(capture_s=0.05, frames=2)
        self.camera = FakeCamera(self.clock)
        self.events: list[GateEvent] = []
        config = GateConfig(
            reader=ReaderConfig(trust_store=self.pki.folder),
            turnstile=TurnstileConfig(address=self.emulator.address),
            timeouts=TIMEOUTS,
        )
        # The real turnstile driver and ICAO reader come from the config, as in a kiosk.
        self.controller: Lane = build_lane(
            config,
            clock=self.clock,
            documents=self.documents,
            biometrics=self.biometrics,
            camera=self.camera,
            audit=AuditLogSink(self.audit),
            observers=(self.events.append, self._walk),
            tailgate_grace_s=0.5,
        )

    def _walk(self, event: GateEvent) -> None:
        if event.kind == "door" and event.detail == "exit_open_commanded":
            self.emulator.traveller_passes()
        if event.kind == "door" and event.detail == "entry_open_commanded":
            self.emulator.traveller_walks_back()

    def traveller(self, **faults: Any) -> Transaction:
        """A genuine traveller whose card carries ``faults``; returns the transaction."""
        self.count += 1
        identity = self.count % 16
        ok, jpeg = cv2.imencode(".jpg", fake_photo(identity, size=64))
        assert ok
        folder = self.tmp / f"passport-{self.count}"
        issued = issue_passport(
            folder,
            pki=self.pki,
            photo=bytes(jpeg),
            surname="TESTER",
            given_names="ANNA",
            nationality="UTO",
            birth_date="850101",
            sex="F",
            expiry_date="351231",
            document_number=f"T{self.count:08d}",
        )
        card = load_passport_folder(folder, **faults)
        mrz = "\n".join(issued.mrz.lines)
        self.biometrics.script.append(
            CaptureOutcome("ok", (fake_embedding(identity),), liveness=0.9)
        )
        self.documents.present(PresentedDocument(mrz, InProcessTransport(card), f"t{self.count}"))
        tx = self.controller.serve_one(0.1)
        assert tx is not None
        self.biometrics.script.clear()
        return tx

    def exit_opened(self) -> int:
        return self.emulator.opened_count(Door.EXIT)


@pytest.fixture
def lane(tmp_path: Path, pki: TestPki) -> Iterator[RealLane]:
    emulator = start_emulator("gatectl", physics=Physics(time_scale=0.05))
    audit = AuditLog.open(tmp_path / "audit.db")
    try:
        real = RealLane(tmp_path, pki, emulator, audit)
        with real.controller:
            yield real
    finally:
        audit.close()
        emulator.close()


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
