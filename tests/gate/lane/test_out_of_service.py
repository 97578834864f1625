"""Out of service means it (issue 25): a kiosk lane whose turnstile, camera or reader does
not answer takes no traveller, says which device and since when, and comes back by itself
once every device answers; a turnstile missing at start-up is the same (no exit 2)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from gate.clock import SimulatedClock
from gate.config import GateConfig, ReaderConfig
from gate.errors import DeviceGoneError
from gate.fakes import FakeLane, FakeTurnstile
from gate.icao.pa import TrustStore
from gate.lane import GateEvent, build_lane
from gate.lane.adapters import PassportChipReader
from gate.lane.service import DeviceGuard, ReopeningTurnstile
from gate.simulate.issue import IssuedPassport
from gate.simulate.lane import SimDocuments
from gate.transaction import PresentedDocument
from tests.gate.documents import TD3
from tests.gate.icao.passports import face_jpeg, passport, pki_ecdsa  # noqa: F401


class Devices:
    """Probes whose devices the test unplugs and plugs back."""

    def __init__(self, *names: str) -> None:
        self.broken: set[str] = set()
        self.probes = {name: self._probe(name) for name in names}

    def _probe(self, name: str):  # type: ignore[no-untyped-def]
        def probe() -> None:
            if name in self.broken:
                raise DeviceGoneError(f"{name} unplugged")

        return probe


def _guard() -> tuple[DeviceGuard, SimDocuments, Devices, list[tuple[str, str]]]:
    tray, devices, events = SimDocuments(), Devices("turnstile", "camera", "chip reader"), []
    guard = DeviceGuard(tray, devices.probes, check_every_s=0.0)
    guard.emit = lambda kind, detail: events.append((kind, detail))
    return guard, tray, devices, events


@pytest.mark.parametrize("device", ["turnstile", "camera", "chip reader"])
def test_a_dead_device_takes_no_traveller_and_the_lane_comes_back(
    device: str, caplog: pytest.LogCaptureFixture
) -> None:
    guard, tray, devices, events = _guard()
    tray.lay(PresentedDocument(TD3, None, "first"))
    assert guard.wait_document(0.0) is not None and guard.in_service
    devices.broken.add(device)
    tray.lay(PresentedDocument(TD3, None, "while down"))
    with caplog.at_level(logging.WARNING, logger="gate.lane"):
        assert guard.wait_document(0.0) is None  # the scan is refused, not kept
        assert guard.wait_document(0.0) is None
    assert not guard.in_service and list(guard.down) == [device]
    ((kind, detail),) = events
    assert kind == "service" and detail.startswith(f"out of service: {device} down since ")
    assert f"({device} unplugged)" in detail and " UTC " in detail
    logged = [r.getMessage() for r in caplog.records]
    assert sum("lane out of service" in m for m in logged) == 1  # once, not per poll
    assert any("scanned while out of service" in m for m in logged)
    devices.broken.clear()
    tray.lay(PresentedDocument(TD3, None, "after"))
    document = guard.wait_document(0.0)
    assert document is not None and document.label == "after"
    assert events[-1] == ("service", "in service") and guard.in_service


def test_a_turnstile_missing_at_start_up_is_opened_when_it_answers() -> None:
    clock = SimulatedClock()
    plugged: list[FakeTurnstile] = []
    opens: list[int] = []

    def open_turnstile() -> FakeTurnstile:
        opens.append(1)
        if not plugged:
            raise DeviceGoneError("no such port /dev/ttyUSB0")
        return plugged[0]

    turnstile = ReopeningTurnstile(open_turnstile, "turnstile gatectl:/dev/ttyUSB0", 0.0)
    with pytest.raises(DeviceGoneError, match="no such port"):
        turnstile.status(1.0)
    plugged.append(FakeTurnstile(clock))
    assert turnstile.status(1.0).connected
    plugged[0].unplugged = True  # lost once opened: the driver reconnects by itself
    with pytest.raises(DeviceGoneError):
        turnstile.lock()
    plugged[0].unplugged = False  # back: the same driver serves again, nothing reopened
    turnstile.lock()
    assert turnstile.status(1.0).connected
    assert len(opens) == 3  # two failed opens (start-up, first call), then the one that worked


def test_after_a_failed_open_calls_fail_at_once_until_it_is_time_to_try_again() -> None:
    opens: list[int] = []

    def open_turnstile() -> FakeTurnstile:
        opens.append(1)
        raise DeviceGoneError("no such port /dev/ttyUSB0")

    turnstile = ReopeningTurnstile(open_turnstile, "turnstile gatectl:/dev/ttyUSB0")
    for _ in range(3):  # an open waits seconds: a stopping lane must not wait for each
        with pytest.raises(DeviceGoneError, match="no such port"):
            turnstile.lock()
    assert len(opens) == 1


@pytest.mark.timeout(60)
def test_a_kiosk_lane_with_its_turnstile_unplugged_serves_no_one_until_it_is_back(
    tmp_path: Path,
    passport: IssuedPassport,  # noqa: F811  (the fixture)
) -> None:
    scan = tmp_path / "scanner.txt"
    scan.write_text("")
    reader = ReaderConfig(address=f"emulator:{passport.folder}", mrz_source=str(scan))
    parts = FakeLane()
    parts.turnstile.unplugged = True
    events: list[GateEvent] = []
    with build_lane(
        GateConfig(reader=reader),
        clock=parts.clock,
        chip_reader=PassportChipReader(TrustStore([])),
        biometrics=parts.biometrics,
        camera=parts.camera,
        turnstile=parts.turnstile,
        audit=parts.audit,
        observers=(events.append,),
    ) as lane:
        scan.write_text(TD3 + "\n\n")
        for _ in range(3):
            assert lane.serve_one(0.2) is None
        assert parts.audit.decisions == []  # no traveller taken
        service = [e.detail for e in events if e.kind == "service"]
        assert service and service[0].startswith("out of service: turnstile down since")
        parts.turnstile.unplugged = False
        with scan.open("a") as out:
            out.write(TD3 + "\n\n")
        stop = threading.Event()
        assert lane.serve(stop, max_transactions=1) == 1
    assert [e.detail for e in events if e.kind == "service"][-1] == "in service"
    assert len(parts.audit.records) == 1
