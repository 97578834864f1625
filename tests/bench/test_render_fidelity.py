"""Render fidelity figures and the margin kept in a system report, counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bench.render_fidelity import PairFidelity, ReplayCamera, summarise, summary_line
from bench.system_conditions import conditions_markdown, conditions_summary, margin_figures
from gate.errors import DeviceTimeoutError
from gate.outcome import Decision, Transaction
from gate.simulate.report import TravellerResult

THRESHOLD = -2.0


def _pair(
    matcher: float | None, gate: float | None, status: str = "ok", capture_ms: float = 30.0
) -> PairFidelity:
    return PairFidelity(
        pair=1,
        status=status,
        matcher_distance=matcher,
        chip_distance=-8.0,
        best_shot_distance=None if gate is None else -7.0,
        gate_distance=gate,
        liveness=1.0,
        frames_seen=30,
        render_ms_per_frame=20.0,
        capture_ms_per_frame=capture_ms,
    )


def test_margin_kept_is_the_share_of_the_matchers_margin_left() -> None:
    assert _pair(-6.0, -6.0).margin_kept(THRESHOLD) == pytest.approx(1.0)
    assert _pair(-6.0, -4.0).margin_kept(THRESHOLD) == pytest.approx(0.5)
    assert _pair(-6.0, -1.0).margin_kept(THRESHOLD) == pytest.approx(-0.25)  # rejected
    assert _pair(-1.0, -6.0).margin_kept(THRESHOLD) is None  # the matcher already rejects
    assert _pair(-6.0, None, "fta").margin_kept(THRESHOLD) is None
    assert _pair(-6.0, -4.5).shift() == pytest.approx(1.5)


def test_the_summary_counts_fta_and_the_pairs_lost_to_rendering() -> None:
    pairs = [
        _pair(-6.0, -6.0),
        _pair(-6.0, -4.0),
        _pair(-6.0, -1.0),
        _pair(-6.0, None, "fta"),
    ]
    s = summarise(pairs, THRESHOLD)
    assert s["fta"]["count"] == 1 and s["fta"]["of"] == 4
    assert s["lost_to_rendering"] == 1
    assert s["margin_kept"]["median"] == pytest.approx(0.5)
    assert s["margin_kept"]["pairs"] == 3
    line = summary_line(s)
    assert "FTA 1/4" in line and "margin kept median 0.50" in line and "20.0 ms" in line
    assert s["within_budget"] is True and "within the lock-step budget" in line
    slow_gate = summarise([_pair(-6.0, -6.0, capture_ms=15.0)], THRESHOLD)
    assert slow_gate["within_budget"] is False  # the renderer would hold the lane up
    assert "OVER the lock-step budget" in summary_line(slow_gate)


def test_the_replay_camera_plays_as_the_simulators_feed() -> None:
    frames = [np.full((8, 8, 3), i * 20, np.uint8) for i in range(6)]
    camera = ReplayCamera(frames)
    seen = [round(float(camera.read(0.1).image.mean()) / 20) for _ in range(12)]
    assert seen[:6] == [0, 1, 2, 3, 4, 5]  # the approach, then its second half to and fro
    assert set(seen[6:]) <= {3, 4, 5} and len(set(seen[6:])) > 1
    empty = ReplayCamera([])
    with pytest.raises(DeviceTimeoutError):
        empty.read(0.1)


def _result(kind: str, score: float | None) -> TravellerResult:
    decision = (
        Decision.ACCEPT if score is not None and score <= THRESHOLD else (Decision.REJECT_MISMATCH)
    )
    tx = Transaction("t", 0.0, 1.0, decision, score=score, threshold=THRESHOLD)
    return TravellerResult(0, kind, kind, Decision.ACCEPT, tx)


def test_a_system_reports_margin_kept_from_its_transactions() -> None:
    results = [
        _result("genuine", -6.0),
        _result("genuine", -4.0),
        _result("genuine", -3.0),
        _result("impostor", 1.0),  # not a genuine pair: no margin
        _result("genuine", None),  # no score (a capture failure): no margin
    ]
    distances = [-6.0, -6.0, -1.0, -6.0, -6.0]  # the third pair the matcher rejects
    figures = margin_figures(results, distances, THRESHOLD)
    assert figures["pairs"] == 2
    assert figures["margin_kept"]["median"] == pytest.approx(0.75)
    assert figures["shift"]["median"] == pytest.approx(0.0)  # shifts 0, 2, -2


def test_conditions_are_reported_side_by_side() -> None:
    def report(frr: int) -> dict[str, object]:
        rate = {"count": frr, "of": 10, "rate": frr / 10}
        return {
            "run": {"conditions": {"name": "x", "yaw_deg": 11.0}},
            "system": {
                "fta": {"count": 0, "of": 20, "rate": 0.0},
                "frr": rate,
                "far": {"count": 0, "of": 10, "rate": 0.0},
                "fidelity": {
                    "pairs": 10,
                    "margin_kept": {"median": 0.9, "p10": 0.6},
                    "shift": {"median": 0.2},
                },
                "genuine_breakdown": {"accepted": 10 - frr},
            },
            "matcher": {"fnmr": 0.0, "fmr": 0.0},
        }

    summary = conditions_summary({"ideal": report(0), "harsh": report(3)})
    page = conditions_markdown(summary)
    assert "| ideal | 0.0 % (0/20) | 0.0 % (0/10) | 0.0 % (0/10) | 0.0 % | 0.90 / 0.60 |" in page
    assert "| harsh | 0.0 % (0/20) | 30.0 % (3/10) |" in page
    assert "- **harsh**: accepted: 7" in page
