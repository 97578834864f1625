"""Metrics against answers computed independently: closed forms and brute force."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from bench import metrics


def brute_rates(gen: np.ndarray, imp: np.ndarray, t: float) -> tuple[float, float]:
    fm = sum(1 for d in imp if d <= t) / len(imp)
    fnm = sum(1 for d in gen if not d <= t) / len(gen)
    return fm, fnm


def test_error_rates_match_brute_force_with_ties_and_fta() -> None:
    rng = np.random.default_rng(1)
    gen = np.round(rng.normal(0.4, 0.1, 60), 2)
    imp = np.round(rng.normal(0.8, 0.1, 80), 2)
    gen[:3] = math.inf  # failures to acquire
    thresholds = np.concatenate((np.unique(np.concatenate((gen, imp))), [-1.0, 5.0]))
    fmr, fnmr = metrics.error_rates(gen, imp, thresholds)
    for t, a, b in zip(thresholds, fmr, fnmr, strict=True):
        assert (a, b) == pytest.approx(brute_rates(gen, imp, float(t)))
    # an FTA genuine pair never matches, even at the most permissive finite threshold
    assert fnmr[thresholds == 5.0][0] == pytest.approx(3 / 60)


def test_threshold_at_fmr_is_the_most_permissive_allowed() -> None:
    rng = np.random.default_rng(2)
    imp = np.round(rng.uniform(0, 1, 2000), 3)  # many ties
    gen = rng.uniform(0, 0.6, 300)
    for target in (0.1, 0.01, 0.005, 1e-3):
        t = metrics.threshold_at_fmr(imp, target)
        assert np.mean(imp <= t) <= target
        # brute force: the largest candidate (impostor values and just below them) allowed
        candidates = np.concatenate((imp, np.nextafter(imp, -np.inf)))
        allowed = [c for c in np.unique(candidates) if np.mean(imp <= c) <= target]
        best = max(allowed)
        assert t == best
        point = metrics.operating_point(gen, imp, target)
        assert point.tar == pytest.approx(np.mean(gen <= best))
        assert point.false_matches == int(np.sum(imp <= best))


def test_tar_at_fmr_on_gaussians_matches_closed_form() -> None:
    rng = np.random.default_rng(3)
    gen = rng.normal(0.0, 1.0, 200_000)
    imp = rng.normal(3.0, 1.0, 200_000)
    normal = NormalDist()
    for target in (1e-2, 1e-3):
        expected_threshold = 3.0 + normal.inv_cdf(target)
        point = metrics.operating_point(gen, imp, target)
        assert point.threshold == pytest.approx(expected_threshold, abs=0.05)
        assert point.tar == pytest.approx(normal.cdf(expected_threshold), abs=0.01)
        assert point.supported


def test_eer_closed_forms() -> None:
    # uniform grids: FNMR(t) = 1 - t, FMR(t) = t - 0.5 -> cross at t = 0.75, EER = 0.25
    n = 4000
    gen = (np.arange(n) + 0.5) / n
    imp = 0.5 + (np.arange(n) + 0.5) / n
    eer = metrics.equal_error_rate(gen, imp)
    assert eer.eer == pytest.approx(0.25, abs=2 / n)
    assert eer.threshold == pytest.approx(0.75, abs=2 / n)
    # Gaussians with equal spread: EER = Phi(-d/2)
    rng = np.random.default_rng(4)
    g = rng.normal(0.0, 1.0, 100_000)
    i = rng.normal(2.0, 1.0, 100_000)
    assert metrics.equal_error_rate(g, i).eer == pytest.approx(NormalDist().cdf(-1.0), abs=0.005)


def test_eer_of_separable_scores_is_zero_and_of_identical_is_half() -> None:
    assert metrics.equal_error_rate([0.1, 0.2], [0.5, 0.6]).eer == 0.0
    same = np.linspace(0, 1, 1001)
    assert metrics.equal_error_rate(same, same).eer == pytest.approx(0.5, abs=2e-3)


def test_wilson_interval_known_values() -> None:
    # reference values of the Wilson score interval (z = 1.96)
    low, high = metrics.wilson_interval(0, 10).low, metrics.wilson_interval(0, 10).high
    assert (low, high) == pytest.approx((0.0, 0.2775), abs=1e-4)
    mid = metrics.wilson_interval(5, 10)
    assert (mid.low, mid.high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    full = metrics.wilson_interval(10, 10)
    assert full.high == 1.0 and full.low == pytest.approx(0.7225, abs=1e-4)


def test_rule_of_three_marks_unsupported_targets() -> None:
    gen = np.zeros(10)
    few = metrics.operating_point(gen, np.ones(2999), 1e-3)
    enough = metrics.operating_point(gen, np.ones(3000), 1e-3)
    assert not few.supported and enough.supported
    assert "too few impostors" in few.as_dict()["note"]
    assert enough.as_dict()["note"] is None


def test_det_curve_monotone_and_exact() -> None:
    rng = np.random.default_rng(5)
    gen = rng.normal(0.4, 0.1, 500)
    imp = rng.normal(0.9, 0.1, 50_000)
    det = metrics.det_curve(gen, imp, max_points=200)
    assert np.all(np.diff(det.fmr) >= 0) and np.all(np.diff(det.fnmr) <= 0)
    assert det.fmr.min() <= 1 / imp.size * 2  # reaches the low-FMR end
    for k in range(0, det.thresholds.size, max(1, det.thresholds.size // 15)):
        t = float(det.thresholds[k])
        assert det.fmr[k] == pytest.approx(np.mean(imp <= t))
        assert det.fnmr[k] == pytest.approx(np.mean(gen > t))


def test_accuracy_counts_fta_genuine_as_error() -> None:
    gen = np.array([0.1, 0.2, math.inf, 0.9])
    imp = np.array([0.8, 0.3, math.inf])
    # correct: 0.1, 0.2 (gen <= 0.5); 0.8 and inf (imp > 0.5) -> 4 of 7
    assert metrics.accuracy_at(gen, imp, 0.5) == pytest.approx(4 / 7)


def test_nan_and_empty_are_refused() -> None:
    with pytest.raises(ValueError, match="genuine"):
        metrics.error_rates([0.1, math.nan], [0.2], [0.5])
    with pytest.raises(ValueError, match="impostor"):
        metrics.threshold_at_fmr([], 1e-3)
    with pytest.raises(ValueError, match="target FMR"):
        metrics.threshold_at_fmr([0.1], 1.5)


def test_score_summary_is_json_ready() -> None:
    import json

    gen = np.array([0.1, 0.2, math.inf])
    imp = np.linspace(0.3, 1.0, 500)
    summary = metrics.score_summary(gen, imp)
    text = json.dumps(summary, allow_nan=False)
    assert set(json.loads(text)["tar_at_fmr"]) == {"1e-2", "1e-3", "1e-4"}
    assert summary["genuine_fta"] == 1
    assert summary["tar_at_fmr"]["1e-2"] == pytest.approx(2 / 3)
