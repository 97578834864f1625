"""The simulator's page reader as a camera over the tray (issue 22): the traveller's rendered
data page is served as MJPEG and read by the lane through the camera registry, its MRZ by
OCR, then the chip; page and chip agree, and the traveller is let through."""

from __future__ import annotations

from pathlib import Path

from gate.outcome import Decision
from gate.simulate.runner import SimulationOptions, run_scenario
from gate.simulate.scenario import Scenario, TravellerSpec


def test_a_page_served_by_a_camera_is_read_and_checked(pack_folder: Path, tmp_path: Path) -> None:
    genuine = TravellerSpec("genuine", "sample:t1.jpg#0", Decision.ACCEPT)
    options = SimulationOptions(use_pcsc=False, page_camera=True, workdir=tmp_path / "work")
    (result,) = run_scenario(Scenario("page-camera", (genuine,), seed=7), options)
    assert result.transaction is not None
    assert result.actual is Decision.ACCEPT, result.transaction.detail
    assert {"page_ocr", "page_portrait"} <= set(result.transaction.stage_ms)
    assert result.transaction.stage_ms["document"] >= result.transaction.stage_ms["page_ocr"]
