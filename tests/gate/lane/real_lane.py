"""The real lane of the fault tests (the fixtures ``pki`` and ``lane`` are in conftest.py):
``build_lane`` from a config, the gatectl driver over a pty to its emulator, the ICAO reader
over a virtual chip, the SQLite audit log; the camera and the face engine are the in-memory
fakes (their real counterparts are in the end-to-end simulation test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from drivers.turnstile.emulator import EmulatorHandle
from gate.audit import AuditLog
from gate.clock import SystemClock
from gate.config import GateConfig, ReaderConfig, TimeoutsConfig, TurnstileConfig
from gate.fakes import FakeBiometrics, FakeCamera, FakeDocumentSource, fake_embedding, fake_photo
from gate.lane import GateEvent, Lane, build_lane
from gate.lane.adapters import AuditLogSink
from gate.outcome import Transaction
from gate.simulate.issue import issue_passport
from gate.simulate.pki import TestPki
from gate.transaction import CaptureOutcome, PresentedDocument
from gate.turnstile import Door

TIMEOUTS = TimeoutsConfig(exit_open_s=2.0, passage_s=3.0)


@dataclass
class RealLane:
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
        if self.walk and event.kind == "door" and event.detail == "exit_open_commanded":
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
