"""End to end through the simulator: travellers who hold perfectly still at the camera are
inconclusive on the passive cues; the gate asks for a head turn; the one who answers is
verified, the one who ignores it is referred on liveness, and a still photo held up (turned
when asked) is still referred. The audit log and the JSON report say what was asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.audit import AuditLog
from gate.config import TimeoutsConfig
from gate.simulate.report import TravellerResult
from gate.simulate.runner import Simulation, SimulationOptions
from gate.simulate.scenario import scenario_from_mapping

PHOTO = "sample:t1.jpg#3"


def test_still_travellers_are_challenged(pack_folder: Path, tmp_path: Path) -> None:
    # The one who turns the head comes last: a frame or two of a scene can still be in the
    # camera's stream when the next traveller steps in, and a turning head is motion.
    people = [
        {"kind": "genuine", "photo": PHOTO, "still": True, "challenge": "ignore",
         "expect": "REFER_LIVENESS", "name": "ignores"},
        {"kind": "print_attack", "photo": PHOTO, "still": True, "name": "photo"},
        {"kind": "genuine", "photo": PHOTO, "still": True, "name": "answers"},
    ]  # fmt: skip
    scenario = scenario_from_mapping({"scenario": {"seed": 3}, "traveller": people}, tmp_path)
    audit = tmp_path / "audit.db"
    options = SimulationOptions(
        use_pcsc=False,
        workdir=tmp_path / "work",
        audit_path=audit,
        best_shot_window_s=1.0,
        frames=20,
        # Gate time is real time: at speed 2 the 10 s challenge was 5 s of a loaded machine,
        # and a fresh clone's run (both workers busy) once ended a traveller's answer early.
        speed=1.0,
        timeouts=TimeoutsConfig(capture_s=6.0, challenge_s=10.0),
    )
    with Simulation(scenario, options) as sim:
        results: list[TravellerResult] = sim.run()
    report = [r.to_json() for r in results]
    assert [r["actual"] for r in report] == ["REFER_LIVENESS", "REFER_LIVENESS", "ACCEPT"], [
        (r["actual"], r["detail"], r["liveness_evidence"]) for r in report
    ]
    ignored, photo, answered = (r["liveness_evidence"] for r in report)
    assert answered["verdict"] == ignored["verdict"] == "inconclusive"
    assert answered["challenge_result"] == "passed" and answered["challenge_peak"] >= 4.0
    assert ignored["challenge"] in ("turn_left", "turn_right")
    assert ignored["challenge_result"] == "failed"
    if photo["verdict"] == "attack":  # the passive cues saw the print: nothing is asked
        assert photo["challenge"] is None
    else:  # asked: the print turned by hand shows itself flat, or does not answer
        assert photo["verdict"] == "inconclusive"
        assert photo["challenge_result"] in ("attack", "failed")
    assert {"motion", "texture", "border", "surface"} <= set(answered["cues"])
    with AuditLog.open_readonly(audit) as log:
        rows = list(log.rows())
        assert log.verify().ok
    recorded = [json.loads(str(row["liveness"])) for row in rows]
    assert [r.get("challenge_result") for r in recorded] == [
        "failed",
        photo["challenge_result"],
        "passed",
    ]
    assert recorded[2]["cues"]["texture"] == pytest.approx(answered["cues"]["texture"], abs=1e-4)
