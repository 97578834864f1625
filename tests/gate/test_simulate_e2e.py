"""End to end: ``egate simulate`` through the real reader, turnstile driver, camera, engine.

These need the face model pack (``egate models prepare``, done by ``make install``); they
skip with the reason when it is missing. pcscd + vpcd are used when available, else the
chips are read in process (the chip tests cover the PC/SC path on its own).
"""

from __future__ import annotations

import json
import os
import random
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

from gate.audit import AuditLog
from gate.cli import main
from gate.errors import ModelError
from gate.lane import GateEvent
from gate.outcome import Decision, State
from gate.simulate.runner import Simulation, SimulationOptions
from gate.simulate.scenario import load_scenario
from gate.turnstile import Door

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "examples" / "scenarios" / "small.toml"


@pytest.fixture(scope="module")
def pack_folder() -> Path:
    from models.pack import pack_dir

    try:
        return pack_dir(None)
    except ModelError as exc:
        pytest.skip(f"face model pack not prepared ({exc})")


def _pcsc_problem() -> str | None:
    from drivers.chip.pcscd import pcscd_available

    return pcscd_available()


def test_simulate_small_scenario_end_to_end(
    pack_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = tmp_path / "audit.db"
    summary = tmp_path / "summary.json"
    args = ["simulate", "--scenario", str(SMALL), "--audit", str(audit), "--json", str(summary)]
    if _pcsc_problem():
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
                 "--travellers", "30", "--audit", str(db), "--capture-timeout", "3"],
                stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=ROOT,
            )  # fmt: skip
            # Kill at a random moment once the lane is serving travellers.
            deadline = time.monotonic() + 90
            while "audit committed" not in log_path.read_text() and time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 4.0))
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
