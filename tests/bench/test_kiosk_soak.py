"""``egate bench soak --kiosk`` (issue 25): ``egate run`` as its own process on the emulators,
its resources watched from outside. A few travellers: every one accepted, the lane ends by
itself after them, holds one socket to pcscd, and the report has the kiosk path's timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.chip.pcscd import PcscdStatus
from gate.cli import main

TRAVELLERS = 3


@pytest.mark.slow
@pytest.mark.pcsc
def test_kiosk_soak_reports_the_lane_process(
    pack_folder: Path,
    pcscd: PcscdStatus,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--travellers", str(TRAVELLERS), "--approach-s", "0.5", "--json", "-"]
    code = main(["bench", "soak", "--kiosk", *args])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report.get("lane_log_tail")
    assert report["as_expected"] == TRAVELLERS == report["walked_out"]
    assert report["decisions"] == {"ACCEPT": TRAVELLERS}
    assert report["exit_code"] == 0  # --max-travellers reached: the lane closed its FIFO
    assert report["audit_chain_ok"] is True
    measures = report["measures"]
    # One context for the lane: 1 socket from the first traveller on; at the end it is 1, or
    # 0 where the lane had already closed its reader when the last sample was taken.
    assert measures["pcscd_sockets"]["after_first"] == 1
    assert measures["pcscd_sockets"]["end"] in (0, 1)
    # No descriptor gained (the last sample may catch the lane closing its devices).
    assert measures["open_fds"]["end"] <= measures["open_fds"]["after_first"]
    assert [s["traveller"] for s in report["samples"]] == list(range(TRAVELLERS + 1))
    assert 0 < report["mrz_to_exit_open_s"]["min"] <= report["mrz_to_exit_open_s"]["median"]
    assert report["stages_ms"]["exit_open"] > 0 and report["stages_ms"]["mrz_to_start"] > 0


def test_the_stage_breakdown_is_the_median_of_the_accepted_travellers() -> None:
    from bench.kiosk_report import kiosk_markdown, stage_breakdown

    def row(outcome: str, started: float, capture: float) -> dict[str, object]:
        stages = {"capture": capture, "exit_open": 800.0}
        return {"outcome": outcome, "started_at": started, "stage_ms": json.dumps(stages)}

    results = [
        row("ACCEPT", 100.01, 300.0),
        row("REFER_CAPTURE", 200.5, 9000.0),  # not a traveller let through: left out
        row("ACCEPT", 300.03, 500.0),
        row("ACCEPT", 400.02, 400.0),
    ]
    stages = stage_breakdown(results, [100.0, 200.0, 300.0, 400.0])
    assert stages == {"capture": 400.0, "exit_open": 800.0, "mrz_to_start": 20.0}
    report = {
        "travellers": 3,
        "as_expected": 3,
        "exit_code": 0,
        "audit_chain_ok": True,
        "mrz_to_exit_open_s": {"median": 1.1, "min": 1.0, "max": 1.3},
        "measures": {},
        "stages_ms": stages,
    }
    text = kiosk_markdown(report)
    assert "MRZ to exit open: median 1.1 s" in text
    assert "| mrz_to_start | 20.0 |" in text and "| capture | 400.0 |" in text


def test_a_traveller_counts_with_the_result_not_the_decision(tmp_path: Path) -> None:
    """An ACCEPT whose passage then failed (the turnstile lost: REFER_DEVICE in its result
    row) is no accepted traveller; a transaction cut off before its result counts with its
    decision."""
    from bench.kiosk_soak import _audit
    from gate.audit import AuditLog, AuditRecord

    rows = [
        ("a", "ACCEPT", "decision"),
        ("a", "REFER_DEVICE", "result"),
        ("b", "ACCEPT", "decision"),
        ("b", "ACCEPT", "result"),
        ("c", "ACCEPT", "decision"),
    ]
    with AuditLog.open(tmp_path / "audit.db") as log:
        for n, (tid, outcome, kind) in enumerate(rows):
            record = AuditRecord(transaction_id=tid, started_at=n, finished_at=n, outcome=outcome)
            log.record(record, kind=kind)  # type: ignore[arg-type]
    outcomes, chain_ok, results = _audit(tmp_path / "audit.db")
    assert outcomes == ["REFER_DEVICE", "ACCEPT", "ACCEPT"] and chain_ok
    assert [r["outcome"] for r in results] == ["REFER_DEVICE", "ACCEPT"]


def test_the_timeline_adds_the_stages_along_the_kiosk_path() -> None:
    from bench.kiosk_report import kiosk_markdown, kiosk_timeline

    stages = {"document": 150.0, "capture.total": 420.0, "document_to_exit_command": 450.0,
              "decision_to_command": 5.0, "exit_open": 800.0}  # fmt: skip
    rows = [
        {"outcome": "ACCEPT", "started_at": 10.01, "stage_ms": json.dumps(stages)},
        {"outcome": "REJECT_MISMATCH", "started_at": 20.5, "stage_ms": json.dumps(stages)},
    ]
    timeline = kiosk_timeline(rows, [10.0, 20.0])
    assert timeline == {
        "started": 10.0,
        "chip_read_done": 160.0,
        "capture_done": 430.0,
        "decided": 455.0,
        "exit_commanded": 460.0,
        "exit_open_seen": 1260.0,
    }
    report = {
        "travellers": 1,
        "as_expected": 1,
        "exit_code": 0,
        "audit_chain_ok": True,
        "mrz_to_exit_open_s": {"median": 1.3, "min": 1.3, "max": 1.3},
        "measures": {},
        "timeline_ms": timeline,
        "load_average": {"start": [1, 2, 3], "end": [2, 2, 3]},
    }
    text = kiosk_markdown(report)
    assert "| exit_commanded | 460.0 |" in text and "at the start 1.00 / 2.00 / 3.00" in text
