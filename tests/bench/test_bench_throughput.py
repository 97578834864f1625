"""Throughput summaries from gate transactions (percentiles, rates, CPU) and the report."""

from __future__ import annotations

import numpy as np
import pytest

from bench import throughput
from gate.outcome import Decision, Transaction
from gate.simulate.report import TravellerResult


def traveller(index: int, decision: Decision, stages: dict[str, float]) -> TravellerResult:
    tx = Transaction(
        transaction_id=f"t{index}",
        started_at=1000.0 + index,
        finished_at=1000.0 + index + stages.get("total", 0.0) / 1000.0,
        decision=decision,
        stage_ms=stages,
    )
    sim = {"prepare": 300.0, "gate": 1000.0}
    return TravellerResult(index, f"p{index}", "genuine", Decision.ACCEPT, tx, timings_ms=sim)


def test_distribution_matches_numpy_percentiles() -> None:
    values = [float(v) for v in np.random.default_rng(0).exponential(100, 257)]
    d = throughput.distribution(values)
    assert d["n"] == 257
    for p in (50, 95, 99):
        assert d[f"p{p}"] == pytest.approx(float(np.percentile(values, p)))
    assert throughput.distribution([])["p50"] is None


def test_run_summary_scales_gate_time_back_to_wall_time() -> None:
    results = [
        traveller(
            i,
            Decision.ACCEPT if i % 4 else Decision.REFER_LIVENESS,
            {"document": 100.0 * (i + 1), "capture.detect": 80.0, "total": 4000.0},
        )
        for i in range(8)
    ]
    results.append(TravellerResult(8, "broken", "genuine", Decision.ACCEPT, None, "setup failed"))
    s = throughput.summarise_run(
        results, speed=4.0, wall_s=9.0, cpu_s=4.5, cores=2, camera=None, setup_s=0.5
    )
    assert s["travellers"] == 9 and s["as_expected"] == 6
    assert s["decisions"] == {"ACCEPT": 6, "ERROR": 1, "REFER_LIVENESS": 2}
    assert s["travellers_per_hour"] == pytest.approx(3600.0)
    assert s["travellers_per_hour_gate_only"] == pytest.approx(3600.0)  # 1 s inside the gate
    assert s["simulator_ms"]["prepare"]["p50"] == pytest.approx(300.0)
    assert s["cpu_percent_of_one_core"] == pytest.approx(50.0)
    assert s["cpu_percent_of_machine"] == pytest.approx(25.0)
    doc = s["stages_ms"]["document"]
    assert doc["n"] == 8
    assert doc["p50"] == pytest.approx(np.percentile([25.0 * (i + 1) for i in range(8)], 50))
    assert s["transaction_ms"]["p99"] == pytest.approx(1000.0)
    # the capture pipeline's own timings are wall-clock already: not rescaled
    assert s["stages_ms"]["capture.detect"]["p50"] == pytest.approx(80.0)
    assert s["errors"] == ["setup failed"]
    report = {
        "runs": [dict(s, scenario="default", pcsc=False)],
        "environment": {"command": "egate bench throughput", "cpu": "x", "cores": 2},
    }
    page = throughput.markdown(report)
    assert "| `document` p50/p95/p99 ms |" in page and "speed 4" in page
