"""The operator's view of ``egate run`` (issue 25): start-up lines naming the lane's parts,
one INFO line per transaction with no document data, device errors once per change, a
camera outage as one line down and one back, and JSON lines for collectors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gate.clock import SimulatedClock
from gate.config import AuditConfig, GateConfig, ReaderConfig
from gate.errors import DeviceGoneError
from gate.fakes import FakeCamera, FakeLane
from gate.lane import JsonLogFormatter, OperatorLog, log_startup
from gate.lane.events import GateEvent
from gate.lane.resilient import ReopeningCamera
from gate.outcome import State


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_start_up_names_devices_pack_trust_store_and_audit(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    config = GateConfig(
        reader=ReaderConfig(address="pcsc:Reader 7", trust_store=tmp_path / "csca"),
        audit=AuditConfig(path=tmp_path / "audit.db"),
    )
    with caplog.at_level(logging.INFO, logger="gate.lane"):
        log_startup(config)
    text = "\n".join(_messages(caplog, logging.INFO))
    for part in (
        f"turnstile {config.turnstile.address}",
        f"camera {config.camera.address}",
        "chip reader pcsc:Reader 7 (card wait 5.0 s)",
        f"face pack {config.face.pack}",
        f"trust store {tmp_path / 'csca'}",
        f"audit log {tmp_path / 'audit.db'}",
    ):
        assert part in text


def test_one_info_line_per_transaction_without_document_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = FakeLane()
    lane = parts.build(observers=(OperatorLog(),))
    lane.start()
    parts.traveller("genuine")
    parts.traveller("impostor")
    with caplog.at_level(logging.INFO, logger="gate.lane"):
        assert lane.serve_one(1.0) is not None and lane.serve_one(1.0) is not None
    lines = [m for m in _messages(caplog, logging.INFO) if m.startswith("transaction ")]
    assert len(lines) == 2
    assert " ACCEPT: " in lines[0] and " REJECT_MISMATCH: " in lines[1]
    assert all(" ms (document " in line and "capture" in line for line in lines)
    numbers = [r.document_number for r in parts.audit.records]
    assert numbers and not [n for n in numbers if n and n in caplog.text]
    assert not [m for m in _messages(caplog, logging.WARNING) if "ACCEPT" in m]


def test_a_device_error_is_logged_once_per_change(caplog: pytest.LogCaptureFixture) -> None:
    operator = OperatorLog()

    def error(detail: str) -> None:
        operator(GateEvent("error", State.IDLE, 0.0, None, detail))

    with caplog.at_level(logging.INFO, logger="gate.lane"):
        for _ in range(5):  # the idle lane asks the dead turnstile again and again
            error("turnstile: gatectl /dev/pts/7: no answer")
        error("turnstile: gatectl /dev/pts/7: port gone")
        error("camera http://127.0.0.1:1/: connection refused")
        error("turnstile: gatectl /dev/pts/7: port gone")
    assert _messages(caplog, logging.WARNING) == [
        "error - turnstile: gatectl /dev/pts/7: no answer",
        "error - turnstile: gatectl /dev/pts/7: port gone",
        "error - camera http://127.0.0.1:1/: connection refused",
    ]


def test_a_camera_outage_is_one_line_down_and_one_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock()
    sources = [FakeCamera(clock, die_after=0) for _ in range(3)] + [FakeCamera(clock)]
    camera = ReopeningCamera(lambda: sources.pop(0), "camera test")
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            with pytest.raises(DeviceGoneError):
                camera.read(1.0)
        assert camera.down_since is not None
        camera.read(1.0)
    assert camera.down_since is None
    warnings = [m for m in _messages(caplog, logging.WARNING) if m.startswith("camera test")]
    assert warnings == [
        "camera test: source gone; it is opened again for the next read",
        "camera test: back",
    ]


def test_json_lines() -> None:
    record = logging.LogRecord("gate.lane", logging.INFO, __file__, 1, "lane %s", ("l-1",), None)
    entry = json.loads(JsonLogFormatter().format(record))
    assert entry["message"] == "lane l-1" and entry["level"] == "INFO"
    assert entry["logger"] == "gate.lane" and entry["time"]
