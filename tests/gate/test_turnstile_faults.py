"""A gate controller that stops answering with its port still open (the line cut behind a
USB adapter that stays plugged in), on the real paths: the lane built by ``build_lane`` from
its config, the gatectl driver over a pty to its emulator, the ICAO reader over a virtual
chip, the SQLite audit log. The camera and the face engine are the in-memory fakes.

The transaction caught by the silence ends REFER_DEVICE and fail-safe with the doors locked
(by the driver, or by the controller's own watchdog when the driver cannot reach it), and
the next traveller is served once the controller answers again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
class SilentLane:
    tmp: Path
    pki: TestPki
    emulator: EmulatorHandle
    audit: AuditLog
    clock: SystemClock = field(default_factory=SystemClock)
    count: int = 0
    walk: bool = True  # the accepted traveller walks out once the exit is commanded open

    def __post_init__(self) -> None:
        self.documents = FakeDocumentSource(self.clock)
        self.biometrics = FakeBiometrics(capture_s=0.05, frames=2)
        self.events: list[GateEvent] = []
        config = GateConfig(
            reader=ReaderConfig(trust_store=self.pki.folder),
            turnstile=TurnstileConfig(address=self.emulator.address),
            timeouts=TIMEOUTS,
        )
        # the real gatectl driver and ICAO reader come from the config, as in a kiosk
        self.controller: Lane = build_lane(
            config,
            clock=self.clock,
            documents=self.documents,
            biometrics=self.biometrics,
            camera=FakeCamera(self.clock),
            audit=AuditLogSink(self.audit),
            observers=(self.events.append, self._walk),
            tailgate_grace_s=0.5,
        )

    def _walk(self, event: GateEvent) -> None:
        if self.walk and event.kind == "door" and event.detail == "exit_open_commanded":
            self.emulator.traveller_passes()

    def traveller(self) -> Transaction:
        """A genuine traveller with a good passport; returns the transaction."""
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
            document_number=f"S{self.count:08d}",
        )
        card = load_passport_folder(folder)
        self.biometrics.script.append(
            CaptureOutcome("ok", (fake_embedding(identity),), liveness=0.9)
        )
        mrz = "\n".join(issued.mrz.lines)
        self.documents.present(PresentedDocument(mrz, InProcessTransport(card), f"s{self.count}"))
        tx = self.controller.serve_one(0.1)
        assert tx is not None
        self.biometrics.script.clear()
        return tx

    def silence_at(self, state: State) -> None:
        """Cut the line as the lane enters ``state`` (once)."""

        def cut(event: GateEvent) -> None:
            if event.kind == "state" and event.state is state:
                self.controller.remove_observer(cut)
                self.emulator.silence()

        self.controller.add_observer(cut)

    def mend_and_wait_for_the_driver(self) -> None:
        """The controller answers again; the driver's first act is to lock the doors."""
        mark = len(self.emulator.commands())
        self.emulator.silence(False)
        assert self.emulator.wait_command("lock", start=mark, timeout=15), self.emulator.commands()[
            mark:
        ]


@pytest.fixture
def lane(tmp_path: Path, pki: TestPki) -> Iterator[SilentLane]:
    emulator = start_emulator("gatectl", physics=Physics(time_scale=0.05))
    audit = AuditLog.open(tmp_path / "audit.db")
    try:
        real = SilentLane(tmp_path, pki, emulator, audit)
        with real.controller:
            yield real
    finally:
        audit.close()
        emulator.close()


def _assert_fail_safe_and_locked(lane: SilentLane, tx: Transaction) -> None:
    assert tx.decision is Decision.REFER_DEVICE, tx.detail
    assert tx.fail_safe
    assert any(e.kind == "fail_safe" and e.transaction_id == tx.transaction_id for e in lane.events)
    assert lane.controller.state is State.IDLE
    for door in Door:
        assert lane.emulator.wait_door(door, DoorState.CLOSED), f"{door.value} door left open"


def test_controller_silent_as_the_exit_is_about_to_open(lane: SilentLane) -> None:
    lane.silence_at(State.EXIT_OPEN)
    tx = lane.traveller()
    _assert_fail_safe_and_locked(lane, tx)
    assert "exit_command" in tx.detail
    assert lane.emulator.opened_count(Door.EXIT) == 0  # the OPEN never reached it
    lane.mend_and_wait_for_the_driver()
    second = lane.traveller()
    assert second.decision is Decision.ACCEPT, second.detail
    assert lane.emulator.opened_count(Door.EXIT) == 1
    assert lane.audit.count() == 2


def test_controller_silent_with_the_exit_open(lane: SilentLane) -> None:
    """The exit opened, then the line is cut before the traveller moves: the driver reports
    the silence (DEVICE_FAULT), the lane refers and cannot lock over the dead line, and the
    controller's watchdog closes the exit on its own."""
    lane.walk = False
    lane.silence_at(State.PASSAGE)
    tx = lane.traveller()
    _assert_fail_safe_and_locked(lane, tx)
    assert tx.detail == "turnstile: device_fault"
    assert lane.emulator.opened_count(Door.EXIT) == 1
    assert "watchdog" in lane.emulator.commands()
    lane.walk = True
    lane.mend_and_wait_for_the_driver()
    assert lane.traveller().decision is Decision.ACCEPT
    assert lane.emulator.opened_count(Door.EXIT) == 2
