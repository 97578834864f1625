"""End to end: ``egate simulate`` through the real reader, turnstile driver, camera, engine.

These need the face model pack (``egate models prepare``, done by ``make install``); they
skip with the reason when it is missing. pcscd + vpcd are used when available, else the
chips are read in process (the chip tests cover the PC/SC path on its own).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.chip.pcscd import PcscdStatus
from gate.audit import AuditLog
from gate.cli import main
from gate.lane import GateEvent
from gate.outcome import Decision, State
from gate.simulate.runner import Simulation, SimulationOptions
from gate.simulate.scenario import load_scenario
from gate.turnstile import Door

ROOT = Path(__file__).resolve().parents[3]
SMALL = ROOT / "examples" / "scenarios" / "small.toml"


def test_simulate_small_scenario_end_to_end(
    pack_folder: Path, pcsc_path: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = tmp_path / "audit.db"
    summary = tmp_path / "summary.json"
    args = ["simulate", "--scenario", str(SMALL), "--audit", str(audit), "--json", str(summary)]
    if not pcsc_path:
        args.append("--no-pcsc")
    code = main(args)
    out = capsys.readouterr().out
    data = json.loads(summary.read_text())
    assert code == 0, out
    assert "3/3 outcomes as expected" in out
    assert [t["actual"] for t in data["travellers"]] == [
        "ACCEPT",
        "REJECT_MISMATCH",
        "REFER_DOCUMENT",
    ]
    genuine = data["travellers"][0]
    assert genuine["score"] <= genuine["threshold"] < data["travellers"][1]["score"]
    assert genuine["passive_auth"] == "valid"
    assert {"document", "capture", "verify", "passage"} <= set(genuine["stage_ms"])
    assert data["audit_rows"] == 3
    with AuditLog.open(audit) as log:
        outcomes = [row["outcome"] for row in log.rows()]
    assert outcomes == ["ACCEPT", "REJECT_MISMATCH", "REFER_DOCUMENT"]


def test_simulate_reports_a_wrong_expectation(
    pack_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "wrong.toml"
    scenario.write_text(
        '[[traveller]]\nkind = "tampered"\nphoto = "sample:t1.jpg#2"\nexpect = "ACCEPT"\n'
    )
    assert main(["simulate", "--scenario", str(scenario), "--no-pcsc"]) == 1
    assert "DIFFERS" in capsys.readouterr().out


@pytest.fixture
def simulation(pack_folder: Path, tmp_path: Path) -> Iterator[Simulation]:
    options = SimulationOptions(use_pcsc=False, workdir=tmp_path / "work")
    with Simulation(load_scenario(SMALL), options) as sim:
        yield sim


def test_camera_stream_dies_mid_capture_then_next_traveller(simulation: Simulation) -> None:
    from drivers.camera.mjpeg_server import MjpegServer

    genuine = simulation.scenario.travellers[0]
    port = simulation.mjpeg.port

    def kill_stream(event: GateEvent) -> None:
        if event.kind == "state" and event.state is State.CAPTURE:
            simulation.mjpeg.close()

    simulation.lane.add_observer(kill_stream)
    first = simulation.run_traveller(0, genuine)
    simulation.lane.remove_observer(kill_stream)
    assert first.transaction is not None
    # The driver tries to reconnect for 5 s (inside the 8-s capture budget), then gives up.
    assert first.actual is Decision.REFER_DEVICE, first.transaction
    assert first.transaction.fail_safe
    assert simulation.turnstile.status().locked
    # The stream comes back on the same address; the camera reconnects.
    simulation.mjpeg = MjpegServer(simulation.feed, port=port, fps=simulation.options.fps)
    simulation.add_cleanup(simulation.mjpeg.close)
    second = simulation.run_traveller(1, genuine)
    assert second.actual is Decision.ACCEPT, second.transaction


def test_model_corrupted_at_start_up_then_repaired(pack_folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "pack"
    shutil.copytree(pack_folder, broken)
    victim = max(
        (p for p in broken.iterdir() if p.suffix == ".onnx"), key=lambda p: p.stat().st_size
    )
    original = victim.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    victim.write_bytes(bytes(damaged))
    options = SimulationOptions(use_pcsc=False, pack=str(broken), workdir=tmp_path / "work")
    with Simulation(load_scenario(SMALL), options) as sim:
        genuine = sim.scenario.travellers[0]
        first = sim.run_traveller(0, genuine)
        assert first.transaction is not None
        assert first.actual is Decision.REFER_DEVICE and first.transaction.fail_safe
        assert sim.emulator.opened_count(Door.EXIT) == 0
        victim.write_bytes(original)  # the technician restores the pack
        second = sim.run_traveller(1, genuine)
        assert second.actual is Decision.ACCEPT, second.transaction


def _rows(db: Path) -> dict[str, tuple[Any, ...]]:
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # One key per chained row: a transaction has a decision row and a result row.
        query = "SELECT transaction_id || ':' || kind, * FROM entries"
        return {row[0]: row for row in connection.execute(query)}
    finally:
        connection.close()


@pytest.mark.slow
def test_sigkill_during_simulate_loses_no_committed_row(pack_folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    rng = random.Random(20261126)
    before: dict[str, tuple[Any, ...]] = {}
    committed_total = 0
    for attempt in range(3):
        log_path = tmp_path / f"stderr-{attempt}.txt"
        with log_path.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "gate", "simulate", "--no-pcsc", "--scenario", str(SMALL),
                 "--travellers", "30", "--audit", str(db), "--capture-timeout", "3",
                 "--speed", "2"],
                stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=ROOT,
            )  # fmt: skip
            # Kill at a random moment once the lane is serving travellers (the lane runs at
            # twice real time: 2 s covers a traveller's whole transaction and more).
            deadline = time.monotonic() + 90
            while "audit committed" not in log_path.read_text() and time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 2.0))
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        committed = log_path.read_text().count("audit committed")
        assert committed >= 1, log_path.read_text()[-2000:]
        committed_total += committed
        after = _rows(db)
        # Every row from before the kill is still there, byte for byte ...
        assert {k: after[k] for k in before} == before
        # ... and every transaction reported committed is in the table.
        assert sum(1 for key in after if key.endswith(":result")) >= committed_total
        before = after
    with AuditLog.open(db) as log:  # opens cleanly (quick_check inside) and counts
        assert log.count() == len({key.partition(":")[0] for key in before})
        assert log.verify().ok  # the chain survived three SIGKILLs


# -- runtime files and daemons -------------------------------------------------------------

TAMPERED = '[[traveller]]\nkind = "tampered"\nphoto = "sample:t1.jpg#2"\n'
EXPIRED = '[[traveller]]\nkind = "expired"\nphoto = "sample:t1.jpg#0"\n'


def _scenario(folder: Path, *travellers: str) -> Path:
    """A scenario of document travellers: referred right after the chip read (no capture),
    so they are the quickest to put through the real reader path."""
    path = folder / "documents.toml"
    path.write_text("\n".join(travellers))
    return path


@pytest.fixture
def served_passport(tmp_path: Path, pcscd: PcscdStatus) -> Iterator[tuple[Path, str]]:
    """``egate chip serve`` in a subprocess on a fresh passport; (its folder, its reader)."""
    import cv2

    from gate.simulate.faces import sample_folder
    from gate.simulate.issue import issue_passport
    from gate.simulate.pki import init_pki

    ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(sample_folder() / "t1.jpg")))
    assert ok
    issue_passport(
        tmp_path / "served",
        pki=init_pki(tmp_path / "served-pki"),
        photo=bytes(jpeg),
        surname="Served",
        given_names="Card",
        nationality="UTO",
        birth_date="850101",
        sex="F",
        expiry_date="341231",
        document_number="C1234567",
    )
    serve = subprocess.Popen(
        [sys.executable, "-m", "gate", "chip", "serve", str(tmp_path / "served")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert serve.stdout is not None
        banner = serve.stdout.readline()
        found = re.search(r"on '(Virtual PCD [0-9 ]+)'", banner)
        assert found, banner
        yield tmp_path / "served", found.group(1)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=20)


@pytest.mark.pcsc
def test_simulation_beside_chip_serve_holds_its_own_reader(
    pack_folder: Path,
    served_passport: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from drivers.chip.vpcd import claim_vpcd_port
    from gate.errors import DeviceTimeoutError

    folder, served_reader = served_passport
    scenario = load_scenario(_scenario(tmp_path, TAMPERED, EXPIRED))
    options = SimulationOptions(use_pcsc=True, workdir=tmp_path / "work")
    with Simulation(scenario, options) as sim:
        assert sim.slot.reader_name != served_reader  # type: ignore[attr-defined]
        port = sim.slot.port.port  # type: ignore[attr-defined]
        for index, traveller in enumerate(scenario.travellers):
            result = sim.run_traveller(index, traveller)
            assert result.ok and result.transaction is not None, result
            assert result.transaction.passive_auth in ("invalid", "valid")  # read over PC/SC
            # Between travellers the card is out, yet nobody else can take the reader.
            with pytest.raises(DeviceTimeoutError, match="busy"):
                claim_vpcd_port((port,), timeout=0.0)
    # The served card was never disturbed: it still answers on its own reader.
    mrz = "|".join(json.loads((folder / "passport.json").read_text())["mrz"])
    assert main(["chip", "read", "--reader", served_reader, "--mrz", mrz, "--no-photo"]) == 1
    assert "C1234567" in capsys.readouterr().out  # read; exit 1 only as no trust was given


# Runs in private namespaces (tests.drivers.chip.isolated): a simulation whose pcscd is killed
# while the second traveller's chip is about to be read.
KILL_PCSCD = """
import json, os, select, signal, sys
from pathlib import Path
from gate.outcome import State
from gate.simulate.runner import Simulation, SimulationOptions
from gate.simulate.scenario import load_scenario

scenario = load_scenario(Path(sys.argv[1]))
with Simulation(scenario, SimulationOptions(use_pcsc=True, workdir=Path(sys.argv[2]))) as sim:
    killed = []

    def kill_pcscd(event):
        if event.kind == "state" and event.state is State.DOCUMENT and sim.status.index == 1:
            pid = sim.slot.daemon.pid
            pidfd = os.pidfd_open(pid)
            os.kill(pid, signal.SIGKILL)
            select.select([pidfd], [], [])  # readable once pcscd has exited
            killed.append(pid)

    sim.lane.add_observer(kill_pcscd)
    started_here = sim.slot.status.started_here
    results = sim.run()
    restarts = sim.slot.daemon.restarts
print(json.dumps({
    "started_here": started_here,
    "killed": killed,
    "restarts": restarts,
    "actual": [r.actual.value if r.actual else r.error for r in results],
    "detail": [r.transaction.detail if r.transaction else "" for r in results],
}))
"""


@pytest.mark.pcsc
@pytest.mark.pcsc_isolated
def test_pcscd_killed_mid_run_then_the_next_travellers_are_served(
    pack_folder: Path, tmp_path: Path
) -> None:
    from tests.drivers.chip.isolated import isolated, isolated_env

    scenario = _scenario(tmp_path, TAMPERED, TAMPERED, TAMPERED)
    done = subprocess.run(
        isolated([sys.executable, "-c", KILL_PCSCD, str(scenario), str(tmp_path / "work")]),
        env=isolated_env(tmp_path / "runtime"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["started_here"] is True and len(out["killed"]) == 1
    # The traveller whose read met a dead pcscd is referred as a device failure ...
    assert out["actual"][1] == "REFER_DEVICE", out["detail"][1]
    # ... pcscd is restarted once, and the travellers on either side are read over PC/SC.
    assert out["restarts"] == 1
    assert out["actual"][0] == out["actual"][2] == "REFER_DOCUMENT"
    assert out["detail"][2] == "passive authentication invalid"  # the chip was read
    assert "restarting it" in done.stderr


def test_sigterm_mid_run_removes_the_temporary_folders(pack_folder: Path, tmp_path: Path) -> None:
    from drivers.runtime_dir import OWNER_FILE

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    stale = tmp / "egate-sim-stale"  # left by a run killed with SIGKILL
    stale.mkdir()
    (stale / "ds-key.pem").write_text("a test key")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (stale / OWNER_FILE).write_text(f"{gone.pid} 1 {os.readlink('/proc/self/ns/pid')}\n")
    scenario = _scenario(tmp_path, TAMPERED, TAMPERED, TAMPERED)
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "simulate", "--no-pcsc", "--scenario", str(scenario)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1"),
        cwd=ROOT,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # the status lines: wait for the first decision
        seen.append(line)
        if ": decision " in line:
            break
    assert process.poll() is None, "".join(seen)
    assert not stale.exists()  # removed at start-up: its owner is gone
    assert [p.name for p in tmp.iterdir() if p.name.startswith("egate-sim-")]  # the run's own
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=60)[1]
    assert process.returncode == 128 + signal.SIGTERM, rest[-2000:]
    assert "egate: terminated" in rest
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("egate-")) == []


def test_full_audit_disk_keeps_the_table_and_the_json(pack_folder: Path, tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    disk = tmp_path / "audit-disk"
    disk.mkdir()
    fill = f"mount -t tmpfs -o size=64k tmpfs {disk} && (cat /dev/zero > {disk}/fill || true)"
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", fill], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small disk: {probe.stderr.decode()[:200]}")
    summary = tmp_path / "out" / "summary.json"
    summary.parent.mkdir()
    summary.write_text("from an earlier run")
    scenario = _scenario(tmp_path, TAMPERED)
    command = [sys.executable, "-m", "gate", "simulate", "--no-pcsc", "--scenario", str(scenario)]
    command += ["--audit", str(disk / "audit.db"), "--json", str(summary)]
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", fill + ' && exec "$@"', "sh", *command],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
    )
    # The run went on with every traveller referred (AUDIT_FAILED): "not as expected", 1.
    assert done.returncode == 1, done.stderr[-3000:]
    assert "No space left on device" in done.stderr
    assert "AUDIT_FAILED" in done.stdout and "0/1 outcomes as expected" in done.stdout
    data = json.loads(summary.read_text())
    assert data["audit_failed"] == 1 and data["passed"] is False
    assert data["travellers"][0]["actual"] == "AUDIT_FAILED"
    assert data["travellers"][0]["fail_safe"] is True
    assert data["audit_rows"] is None and "audit.db" in data["audit_error"]
