"""Approach datasets: ``<traveller>/chip.jpg`` with ``approach.mp4`` or ``approach/`` frames
are travellers for ``egate simulate --dataset``, refused in one line where unusable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import gate.simulate.lanes as lanes
from gate.cli import main
from gate.errors import InputError
from gate.outcome import Decision, Transaction
from gate.simulate.approaches import approach_scenario, is_approach_dataset, load_approach
from gate.simulate.report import TravellerResult


def _picture(value: int, size: tuple[int, int] = (320, 240)) -> np.ndarray[Any, Any]:
    return np.full((size[1], size[0], 3), value, np.uint8)


def _frames(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:04d}.png"), _picture(10 * i))


def _video(path: Path, count: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    assert writer.isOpened()
    for i in range(count):
        writer.write(_picture(20 * i))
    writer.release()


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "approaches"
    for name in ("ana", "bo"):
        (root / name).mkdir(parents=True)
        cv2.imwrite(str(root / name / "chip.jpg"), _picture(128))
    _frames(root / "ana" / "approach", 4)
    _video(root / "bo" / "approach.mp4", 5)
    return root


def test_each_traveller_is_genuine_then_an_impostor_with_the_next_approach(
    dataset: Path,
) -> None:
    assert is_approach_dataset(dataset) and not is_approach_dataset(dataset / "ana")
    scenario = approach_scenario(dataset)
    assert [(t.name, t.kind, t.expect) for t in scenario.travellers] == [
        ("ana", "genuine", Decision.ACCEPT),
        ("ana~bo", "impostor", Decision.REJECT_MISMATCH),
        ("bo", "genuine", Decision.ACCEPT),
        ("bo~ana", "impostor", Decision.REJECT_MISMATCH),
    ]
    ana, ana_bo = scenario.travellers[:2]
    assert ana.photo == ana_bo.photo == str(dataset / "ana" / "chip.jpg")
    assert ana_bo.approach == str(dataset / "bo" / "approach.mp4")
    assert len(approach_scenario(dataset, limit=3).travellers) == 3


def test_frames_come_from_a_folder_in_name_order_or_a_video_fitted_to_the_camera(
    dataset: Path,
) -> None:
    folder = load_approach(dataset / "ana" / "approach")
    assert len(folder) == 4 and all(f.shape == (480, 640, 3) for f in folder)
    assert [int(f[240, 320, 0]) for f in folder] == [0, 10, 20, 30]
    assert folder[0][0, 0, 0] == 0  # 4:3 into 4:3: no border
    video = load_approach(dataset / "bo" / "approach.mp4")
    assert len(video) == 5 and video[-1].shape == (480, 640, 3)
    assert int(video[-1][240, 320].mean()) > int(video[0][240, 320].mean())


def test_unusable_approaches_are_refused_in_one_line(dataset: Path) -> None:
    os.mkfifo(dataset / "fifo.mp4")
    with pytest.raises(InputError, match="a FIFO"):
        load_approach(dataset / "fifo.mp4")
    (dataset / "junk.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="no frame could be read"):
        load_approach(dataset / "junk.mp4")
    (dataset / "ana" / "approach" / "0009.png").write_bytes(b"broken")
    with pytest.raises(InputError, match="0009.png"):
        load_approach(dataset / "ana" / "approach")
    (dataset / "cy").mkdir()
    with pytest.raises(InputError, match="cy: no chip.jpg"):
        approach_scenario(dataset)


def test_simulate_dataset_runs_the_approaches_and_reports_them(
    dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = []

    def run(scenario: Any, options: Any, count: int) -> list[TravellerResult]:
        seen.append(scenario)
        return [
            TravellerResult(i, t.label, t.kind, t.expect,
                            Transaction(f"t{i}", 0.0, 1.0, Decision.ACCEPT, score=0.1))
            for i, t in enumerate(scenario.travellers)
        ]  # fmt: skip

    monkeypatch.setattr(lanes, "run_lanes", run)
    assert main(["simulate", "--dataset", str(dataset), "--limit", "2", "--no-pcsc"]) == 0
    (scenario,) = seen
    assert [t.approach for t in scenario.travellers] == [
        str(dataset / "ana" / "approach"),
        str(dataset / "bo" / "approach.mp4"),
    ]
    assert "system: FTA 0.0 % (0/2)  FRR 0.0 % (0/1)  FAR 100.0 % (1/1)" in capsys.readouterr().out
    assert main(["simulate", "--dataset", str(dataset), "--impostors", "similar"]) == 2
    assert "--impostors similar: not with an approach dataset" in capsys.readouterr().err
