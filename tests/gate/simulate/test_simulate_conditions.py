"""Capture conditions in the simulator: a scenario's [conditions], ``--conditions`` and
``--sweep`` on ``egate simulate --dataset`` (figures per condition, FRR against a swept
axis) and ``egate bench render-fidelity``.

The identities are faces of the insightface sample group photo, cut out (a second photo of
a person is the mirror image, slightly brighter). The end-to-end tests need the face pack.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli import main
from gate.errors import ConfigError
from gate.simulate.scenario import scenario_from_mapping
from tests.gate.simulate.people import face_crops


def test_a_scenario_names_its_conditions(tmp_path: Path) -> None:
    people = [{"kind": "genuine", "photo": "sample:t1.jpg#0"}]
    plain = scenario_from_mapping({"traveller": people}, tmp_path)
    assert plain.conditions is None  # the legacy scenes: the demo's expectations hold
    table = {"preset": "harsh", "glasses": False}
    scenario = scenario_from_mapping({"traveller": people, "conditions": table}, tmp_path)
    assert scenario.conditions is not None and scenario.conditions.name == "harsh*"
    assert scenario.repeated(3).conditions == scenario.conditions
    with pytest.raises(ConfigError, match=r"unknown key \[conditions\]\.fog"):
        scenario_from_mapping({"traveller": people, "conditions": {"fog": 1}}, tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--conditions", "sunny"], "neither a preset"),
        (["simulate", "--conditions", "ideal,harsh"], "needs --dataset"),
        (["bench", "render-fidelity", "--dataset", "x.csv", "--conditions", ""], "empty"),
        (["simulate", "--sweep", "yaw=0,15"], "--sweep needs --dataset"),
        (["simulate", "--sweep", "fog=1"], "not an axis"),
        (
            ["simulate", "--dataset", "x.csv", "--conditions", "ideal,harsh", "--sweep", "yaw=0"],
            "--sweep varies one condition",
        ),
    ],
)
def test_bad_conditions_are_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


@pytest.fixture()
def sample_people(tmp_path: Path, sample_images: Path) -> Path:
    import cv2

    crops = face_crops(sample_images)
    root = tmp_path / "people"
    for number in (0, 2):
        crop = crops[number]
        folder = root / f"person{number}"
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "a.jpg"), crop)
        cv2.imwrite(str(folder / "b.jpg"), cv2.convertScaleAbs(crop[:, ::-1], beta=12))
    return root


@pytest.mark.slow
def test_render_fidelity_of_genuine_pairs(
    sample_people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fidelity.json"
    args = ["bench", "render-fidelity", "--dataset", str(sample_people), "--limit", "2"]
    assert main([*args, "--conditions", "ideal", "--json", str(out)]) == 0
    assert "[ideal] render fidelity: 2 genuine pairs, FTA 0/2" in capsys.readouterr().out
    figures = json.loads(out.read_text())["conditions"]["ideal"]
    assert figures["conditions"]["jpeg_quality"] == 95
    for pair in figures["pairs"]:
        # the gate's score against the chip photo is near the matcher's on the originals
        assert pair["status"] == "ok" and pair["margin_kept"] > 0.5, pair
        assert pair["render_ms_per_frame"] > 0


@pytest.mark.slow
def test_simulate_reports_each_condition_of_a_sweep(
    sample_people: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--dataset", str(sample_people), "--limit", "2", "--no-pcsc"]
    args += ["--speed", "4", "--conditions", "ideal", "--sweep", "yaw=0,20"]
    args += ["--json", str(tmp_path / "out.json"), "--report", str(tmp_path / "report")]
    assert main(args) == 0
    out = capsys.readouterr().out
    names = ["ideal yaw_deg=0", "ideal yaw_deg=20"]
    assert all(f"system [{name}]: FTA" in out for name in names)
    assert "sweep: yaw_deg=0.0: FRR" in out
    report = json.loads((tmp_path / "out.json").read_text())
    assert list(report["conditions"]) == names
    assert [row["value"] for row in report["sweep"]["rows"]] == [0.0, 20.0]
    for name in names:
        each = report["reports"][name]
        assert each["run"]["conditions"]["name"] == name
        assert each["run"]["conditions"]["yaw_deg"] == float(name.rsplit("=", 1)[1])
        genuine = [t for t in each["travellers"] if t["kind"] == "genuine"]
        rejected = sum(t["outcome"] != "ACCEPT" for t in genuine)
        assert report["conditions"][name]["frr"]["count"] == rejected
        assert (tmp_path / "report" / name.replace(" ", "_") / "report.md").is_file()
    page = (tmp_path / "report" / "conditions.md").read_text()
    assert "| ideal yaw_deg=0 |" in page and "| ideal yaw_deg=20 |" in page
    assert (tmp_path / "report" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert "FRR against yaw_deg" in (tmp_path / "report" / "sweep.md").read_text()
