"""The sweep page of ``egate simulate --dataset ... --sweep AXIS=...``: figures per value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.system_sweep import sweep_line, sweep_markdown, sweep_summary, write_sweep_page
from gate.cli.conditions import conditions_to_run
from gate.cli.simulate_dataset import report_folder
from gate.errors import InputError


def _report(lost: int, fta: int) -> dict[str, object]:
    def rate(count: int, of: int) -> dict[str, object]:
        return {"count": count, "of": of, "rate": count / of, "ci95": {"low": 0.0, "high": 0.5}}

    return {
        "system": {
            "fta": rate(fta, 20),
            "frr": rate(lost, 10),
            "far": rate(0, 10),
            "fidelity": {"margin_kept": {"median": 0.9 - 0.1 * lost, "p10": 0.5}},
            "genuine_breakdown": {"REFER_CAPTURE": fta} if fta else {},
        },
        "matcher": {"fnmr": 0.1},
    }


def test_the_sweep_sets_frr_against_the_value(tmp_path: Path) -> None:
    reports = {"ideal yaw_deg=0": _report(1, 0), "ideal yaw_deg=30": _report(4, 2)}
    summary = sweep_summary("yaw_deg", (0.0, 30.0), reports)
    assert [row["frr"]["count"] for row in summary["rows"]] == [1, 4]
    assert (
        sweep_line(summary)
        == "sweep: yaw_deg=0.0: FRR 10.0 % (1/10); yaw_deg=30.0: FRR 40.0 % (4/10)"
    )
    page = sweep_markdown(summary)
    assert "| 30.0 | 10.0 % (2/20) | 40.0 % (4/10) | 0.0 % (0/10) | 10.0 % | 0.50 / 0.50 |" in page
    assert "REFER_CAPTURE: 2" in page
    written = write_sweep_page(summary, tmp_path / "out")
    assert written.read_text() == page
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["axis"] == "yaw_deg"
    with pytest.raises(ValueError, match="one report per swept value"):
        sweep_summary("yaw_deg", (0.0,), reports)


def test_a_sweep_runs_one_base_condition() -> None:
    from drivers.camera.conditions import PRESETS, sweep_argument

    sweep = sweep_argument("light_level=1,0.5")
    assert [c.name for c in conditions_to_run(None, sweep)] == [
        "ideal light_level=1",  # the calibration point is the default base
        "ideal light_level=0.5",
    ]
    assert conditions_to_run((PRESETS["harsh"],), sweep)[1].walk_through is True
    assert conditions_to_run(None, None) == (None,)  # no conditions: the legacy scenes
    with pytest.raises(InputError, match="at most one"):
        conditions_to_run((PRESETS["ideal"], PRESETS["harsh"]), sweep)


@pytest.mark.parametrize(
    ("name", "folder"),
    [("ideal yaw_deg=15", "ideal_yaw_deg=15"), ("../../etc", "etc"), ("..", "conditions")],
)
def test_a_conditions_report_folder_stays_in_the_report(name: str, folder: str) -> None:
    assert report_folder(name) == folder
