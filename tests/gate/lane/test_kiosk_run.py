"""``egate run`` on emulated kiosk hardware: a PC/SC reader (pcscd + vpcd) holding a virtual
passport, the gatectl turnstile on a pty, an MJPEG camera on 127.0.0.1, the printed MRZ from
a file (the page scanner's output) or read by OCR from the data page a second MJPEG camera
shows. One genuine traveller must be accepted and audited, a gate killed with the exit open
must have its ACCEPT on record, and a lane serves more travellers than its pcscd allows
clients (one PC/SC context for the lane, not one each)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gate.audit import AuditLog
from gate.cli import main
from gate.record import load_recording
from gate.turnstile import Door, DoorState
from tests.conftest import PROJECT_ROOT
from tests.drivers.chip.isolated import isolated, isolated_env
from tests.gate.lane.kiosk import TRAVELLERS, emulated_kiosk, walk_out_when_open


def test_egate_run_serves_one_traveller(kiosk_ready: None, tmp_path: Path) -> None:
    """Issue 22: ``reader.mrz_source`` names an MJPEG camera showing the passport's rendered
    data page; the lane waits for the still page, reads its MRZ by OCR, opens the chip with
    it, checks page against chip (MRZ, portrait) and lets the traveller through."""
    stop = threading.Event()
    with emulated_kiosk(tmp_path, "K12345678", page_camera=True) as kiosk:
        walker = threading.Thread(
            target=walk_out_when_open, args=(kiosk.emulator, stop), daemon=True
        )
        walker.start()
        try:
            record = ["--record", str(tmp_path / "recording"), "--record-days", "2"]
            code = main(["run", "--config", str(kiosk.config), "--max-travellers", "1", *record])
        finally:
            stop.set()
            walker.join(5)
        assert code == 0
        assert kiosk.emulator.opened_count(Door.EXIT) == 1
    with AuditLog.open(kiosk.audit) as log:
        (row,) = list(log.rows())
    assert row["outcome"] == "ACCEPT", row["detail"]
    assert row["passive_auth"] == "valid"
    stages = json.loads(row["stage_ms"]) if isinstance(row["stage_ms"], str) else row["stage_ms"]
    assert {"page_ocr", "page_portrait"} <= set(stages)  # the page was read and checked
    # --record (opt-in): the transaction as the lane saw it, for a replay
    (recorded,) = load_recording(tmp_path / "recording").transactions
    assert recorded.transaction_id == row["transaction_id"] and recorded.outcome.value == "ACCEPT"
    assert recorded.frames and recorded.document is not None
    assert {"DG1", "DG2", "EF.SOD"} <= set(recorded.document.files)
    assert recorded.document.passive_auth == "valid"
    assert any(e["detail"] == "passage_completed" for e in recorded.turnstile)
    assert recorded.kind is None  # a kiosk does not know who the traveller is


def test_egate_run_without_trust_store_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[audit]\npath = "audit.db"\n')
    assert main(["run", "--config", str(config)]) == 2


@pytest.mark.slow
def test_sigkill_with_the_exit_open_leaves_the_accept_on_record(
    kiosk_ready: None, tmp_path: Path
) -> None:
    """Write-ahead: ``egate run`` is killed with SIGKILL while the accepted traveller stands
    in the open exit. The turnstile (another process's emulator) counted the opening, and
    the ACCEPT it acted on is committed in the audit log, with an intact chain."""
    with emulated_kiosk(tmp_path, "K87654321", "[timeouts]\npassage_s = 60.0\n") as kiosk:
        process = subprocess.Popen(
            [sys.executable, "-m", "gate", "run", "--config", str(kiosk.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=PROJECT_ROOT,
        )
        try:
            # Nobody walks through: the exit stays open until the gate is killed.
            deadline = time.monotonic() + 90
            while not kiosk.emulator.wait_door(Door.EXIT, DoorState.OPEN, timeout=0.5):
                assert process.poll() is None, process.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "the exit never opened"
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
        opened = kiosk.emulator.opened_count(Door.EXIT)
        # The host is gone: the controller's own watchdog closes and locks the lane.
        assert kiosk.emulator.wait_door(Door.EXIT, DoorState.CLOSED, timeout=20)
    assert opened == 1
    with AuditLog.open_readonly(kiosk.audit) as log:
        entries = list(log.entries())
        assert log.verify().ok
    decisions = [e for e in entries if e["kind"] == "decision" and e["outcome"] == "ACCEPT"]
    assert len(decisions) == opened
    # Killed mid-passage: the transaction has its decision but no result row.
    assert [e["kind"] for e in entries] == ["decision"]


# Runs in private namespaces (tests.drivers.chip.isolated), where the pcscd is this script's own,
# started with a limit of 8 contexts. argv[1]: the work folder.
LIMITED_PCSCD = """
import json, subprocess, sys, threading, time
from pathlib import Path
from drivers.chip.pcscd import list_readers, pcscd_sockets
from gate.audit import AuditLog
from gate.turnstile import Door, DoorState
from tests.gate.lane.kiosk import CONTEXT_LIMIT, TRAVELLERS, emulated_kiosk

work = Path(sys.argv[1])
daemon = subprocess.Popen(["pcscd", "--foreground", "-t", str(CONTEXT_LIMIT)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 20
while not list_readers():  # pcscd offers no readiness signal: poll the condition itself
    assert time.monotonic() < deadline, "pcscd listed no reader"
    time.sleep(0.02)
out = {"sockets": [], "passed": 0}
# Doors and walkers at 1/20 of real time: the lane's sockets are what is counted, 20 times.
with emulated_kiosk(work, "K24681357", door_time_scale=0.05) as kiosk:
    mrz = (work / "mrz.txt").read_text().strip()
    (work / "mrz.txt").write_text((mrz + "\\n\\n") * TRAVELLERS)
    with open(work / "lane.log", "wb") as log:
        lane = subprocess.Popen(
            [sys.executable, "-m", "gate", "run", "--config", str(kiosk.config),
             "--max-travellers", str(TRAVELLERS)],
            stdout=log, stderr=subprocess.STDOUT, cwd=work)
        try:
            while out["passed"] < TRAVELLERS and lane.poll() is None:
                if not kiosk.emulator.wait_door(Door.EXIT, DoorState.OPEN, timeout=0.5):
                    continue
                # The traveller's chip was read and released: count the lane's sockets to pcscd.
                out["sockets"].append(pcscd_sockets(lane.pid))
                kiosk.emulator.traveller_passes()
                out["passed"] += 1
                assert kiosk.emulator.wait_door(Door.EXIT, DoorState.CLOSED, timeout=30)
            out["code"] = lane.wait(timeout=120)
        finally:
            lane.kill()
            lane.wait()
    out["exit_opened"] = kiosk.emulator.opened_count(Door.EXIT)
with AuditLog.open_readonly(work / "audit.db") as audit:
    entries = list(audit.entries())
    out["chain_ok"] = audit.verify().ok
out["decisions"] = [e["outcome"] for e in entries if e["kind"] == "decision"]
out["details"] = sorted({e["detail"] for e in entries if e["outcome"] != "ACCEPT"})
out["log"] = (work / "lane.log").read_text(errors="replace")[-3000:]
daemon.terminate()
daemon.wait()
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.pcsc_isolated
def test_a_lane_serves_more_travellers_than_pcscd_has_contexts(
    pack_folder: Path, tmp_path: Path
) -> None:
    """Issue 25: every traveller used to leak one pcscd connection, so a pcscd serving 8
    contexts referred the 8th traveller on ("PC/SC: no daemon"). Now the lane holds one
    context: 20 travellers through ``egate run`` against ``pcscd -t 8``, all accepted, and
    the lane process's sockets to pcscd stay at 1 from the first traveller to the last."""
    work = tmp_path / "kiosk"
    work.mkdir()
    done = subprocess.run(
        isolated([sys.executable, "-c", LIMITED_PCSCD, str(work)]),
        env=isolated_env(tmp_path / "runtime"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["code"] == 0, out["log"]
    assert out["passed"] == TRAVELLERS == out["exit_opened"], out["log"]
    assert out["decisions"] == ["ACCEPT"] * TRAVELLERS, (out["details"], out["log"])
    assert out["chain_ok"] is True
    # Before (the first traveller) and after (the last): one socket, none leaked between.
    assert out["sockets"] == [1] * TRAVELLERS


STOP_WITHIN_S = 2.0  # issue 25: SIGTERM ends the lane within 2 s in every state


class _LaneProcess:
    """``egate -v run`` with its log lines read as they come (events to wait on)."""

    def __init__(self, config: Path, cwd: Path, *options: str) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gate", "run", "--config", str(config), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_line(self, text: str, timeout: float = 90.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: any(text in line for line in self.lines), timeout)

    def stop(self, signum: int) -> float:
        """Send ``signum``; how long the process took to exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout=30)
        return time.monotonic() - sent

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self._reader.join(5)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_idle_lane_on_a_fifo_with_no_writer_stops_at_once(
    kiosk_ready: None, tmp_path: Path, signum: int
) -> None:
    """The FIFO case of issue 25: the lane is in service with no writer on its FIFO (it
    used to wait in open() for one), and a signal ends it (it used to wait for the writer).
    Its log, without -v, is JSON lines naming the lane's parts at start-up."""
    with emulated_kiosk(tmp_path, "K11223344") as kiosk:
        kiosk.config.write_text(
            kiosk.config.read_text().replace('mrz_source = "mrz.txt"', 'mrz_source = "mrz.fifo"')
        )
        os.mkfifo(tmp_path / "mrz.fifo")
        lane = _LaneProcess(kiosk.config, tmp_path, "--log-format", "json")
        try:
            assert lane.wait_line(" in service"), "".join(lane.lines)
            took = lane.stop(signum)
        finally:
            lane.close()
    assert lane.process.returncode == 0, "".join(lane.lines)
    assert took < STOP_WITHIN_S, f"{took:.2f} s"
    messages = [json.loads(line)["message"] for line in lane.lines]
    assert "lane stopped by a signal" in " ".join(messages).replace("lane-1 ", "")
    assert any("out of service after 0 travellers" in m for m in messages)
    for part in ("turnstile gatectl:", "camera http://", "chip reader pcsc:", "trust store"):
        assert any(part in m for m in messages), messages


@pytest.mark.slow
def test_sigterm_with_the_exit_open_refers_and_records_the_traveller(
    kiosk_ready: None, tmp_path: Path
) -> None:
    """The MRZ comes through a FIFO (written once the lane serves); the exit opens and
    nobody walks out (passage_s 60 s): SIGTERM ends the lane within 2 s, the traveller is
    referred on record, and the exit closes."""
    with emulated_kiosk(tmp_path, "K55667788", "[timeouts]\npassage_s = 60.0\n") as kiosk:
        mrz = (tmp_path / "mrz.txt").read_text()
        kiosk.config.write_text(
            kiosk.config.read_text().replace('mrz_source = "mrz.txt"', 'mrz_source = "mrz.fifo"')
        )
        os.mkfifo(tmp_path / "mrz.fifo")
        lane = _LaneProcess(kiosk.config, tmp_path)
        try:
            assert lane.wait_line(" in service"), "".join(lane.lines)
            with (tmp_path / "mrz.fifo").open("w") as writer:  # the scanner, then gone
                writer.write(mrz + "\n")
            assert kiosk.emulator.wait_door(Door.EXIT, DoorState.OPEN, timeout=90), "".join(
                lane.lines
            )
            took = lane.stop(signal.SIGTERM)
        finally:
            lane.close()
        assert kiosk.emulator.wait_door(Door.EXIT, DoorState.CLOSED, timeout=20)
    assert lane.process.returncode == 0, "".join(lane.lines)
    assert took < STOP_WITHIN_S, f"{took:.2f} s"
    with AuditLog.open_readonly(kiosk.audit) as log:
        entries = list(log.entries())
        assert log.verify().ok
    assert [(e["kind"], e["outcome"]) for e in entries] == [
        ("decision", "ACCEPT"),
        ("result", "REFER_DEVICE"),
    ], entries
    assert "lane stopped (SIGTERM)" in entries[-1]["detail"]
    # The operator's one line for the traveller, at INFO without -v.
    (line,) = [line for line in lane.lines if " INFO gate.lane transaction " in line]
    assert "REFER_DEVICE: lane stopped (SIGTERM)" in line and "K55667788" not in line


@pytest.mark.slow
def test_missing_devices_at_start_up_are_out_of_service_not_an_exit(tmp_path: Path) -> None:
    """No turnstile, no camera, no such reader: the lane starts (no exit 2), says which
    devices are down since when, takes no traveller, and SIGTERM still ends it at once."""
    from gate.simulate.pki import init_pki

    init_pki(tmp_path / "pki")
    os.mkfifo(tmp_path / "mrz.fifo")
    config = tmp_path / "kiosk.toml"
    config.write_text(
        """[camera]
address = "http://127.0.0.1:9/nothing.mjpg"
[reader]
address = "pcsc:No Such Reader"
mrz_source = "mrz.fifo"
trust_store = "pki"
[turnstile]
address = "gatectl:/dev/egate-no-such-port"
[audit]
path = "audit.db"
"""
    )
    lane = _LaneProcess(config, tmp_path)
    try:
        assert lane.wait_line("lane out of service: "), "".join(lane.lines)
        took = lane.stop(signal.SIGTERM)
    finally:
        lane.close()
    assert lane.process.returncode == 0, "".join(lane.lines)
    assert took < STOP_WITHIN_S, f"{took:.2f} s"
    (line,) = [line for line in lane.lines if "lane out of service: " in line]
    for device in ("camera", "chip reader", "turnstile"):
        assert f"{device} down since " in line
    # Whether pcscd runs, lists no reader or lists others, the line names the reader.
    assert "reader 'No Such Reader' unavailable: PC/SC: " in line
