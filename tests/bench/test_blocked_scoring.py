"""Blocked impostor scoring and the exact-tail histogram against the full-array metrics."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from bench import blocked_scoring, metrics, score_metrics
from bench.datasets import cross_identity_pairs
from bench.score_histogram import ScoreAccumulator, from_array, value_range


def euclidean_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float32]:
    left, right = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = left[:, None, :] - right[None, :, :]
    return np.sqrt((diff**2).sum(-1)).astype(np.float32)


def integer_data(n: int = 300, identities: int = 40, seed: int = 0):  # type: ignore[no-untyped-def]
    # Small integer vectors: every distance is computed exactly, and many tie.
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-3, 4, (n, 4)).astype(np.float32)
    codes = rng.integers(0, identities, n).astype(np.int64)
    return vectors, codes


def reference(vectors: np.ndarray, codes: np.ndarray) -> np.ndarray:
    parts = []
    for left, right in cross_identity_pairs(codes):
        d = np.linalg.norm(vectors[left].astype(np.float64) - vectors[right], axis=1)
        parts.append(d.astype(np.float32).astype(np.float64))
    return np.concatenate(parts)


def test_blocks_cover_every_cross_identity_pair_once() -> None:
    vectors, codes = integer_data()
    full = reference(vectors, codes)
    p = blocked_scoring.plan(euclidean_matrix, vectors, codes, tail_capacity=full.size)
    acc = p.accumulator()
    for start, stop in blocked_scoring.row_blocks(p.rows, 7):
        blocked_scoring.score_rows(euclidean_matrix, p, start, stop, acc, rows=16, columns=50)
    scores = acc.finish()
    assert scores.total == full.size == blocked_scoring.cross_identity_count(codes)
    assert scores.complete
    np.testing.assert_array_equal(scores.values(), np.sort(full))


@pytest.mark.parametrize("capacity", [400, 2000, 9000])
def test_a_partial_tail_gives_the_full_arrays_low_fmr_figures(capacity: int) -> None:
    vectors, codes = integer_data(n=400, identities=60, seed=1)
    genuine = np.random.default_rng(5).uniform(0.0, 4.0, 200)
    full = reference(vectors, codes)
    scores = blocked_scoring.score_cross_identity(
        euclidean_matrix, vectors, codes, tail_capacity=capacity
    )
    assert not scores.complete and scores.tail.size <= capacity
    assert scores.tail.size > 0 and np.all(scores.tail < scores.cut)
    assert np.count_nonzero(full < scores.cut) == scores.tail.size  # the invariant
    for target in (1e-2, 1e-3, 1e-4):
        if math.floor(target * full.size) < scores.tail.size:
            exact = metrics.operating_point(genuine, full, target)
            mine = score_metrics.operating_point(genuine, scores, target)
            assert mine == exact
    below = np.linspace(-1.0, scores.cut, 50, endpoint=False)
    np.testing.assert_array_equal(
        score_metrics.error_rates(genuine, scores, below)[0],
        metrics.error_rates(genuine, full, below)[0],
    )


def test_eer_is_exact_when_the_crossing_is_inside_the_tail() -> None:
    rng = np.random.default_rng(7)
    impostor = rng.normal(1.0, 0.15, 200_000)
    genuine = rng.normal(0.55, 0.1, 3_000)
    low, high = value_range(impostor[:500])
    acc = ScoreAccumulator(low, high, bins=4096, tail_capacity=30_000)
    for block in np.array_split(impostor, 17):
        acc.add(block)
    scores = acc.finish()
    assert not scores.complete
    exact = metrics.score_summary(genuine, impostor)
    mine = score_metrics.score_summary(genuine, scores)
    assert mine["eer"] == exact["eer"] and mine["eer_threshold"] == exact["eer_threshold"]
    assert mine["operating_points"] == exact["operating_points"]
    # Above the cut the bins answer, to within one bin's count.
    high_t = np.array([1.0, 1.2])
    counts = scores.count_at_most(high_t)
    truth = np.searchsorted(np.sort(impostor), high_t, side="right")
    per_bin = scores.slots.max()
    assert np.all(counts >= truth) and np.all(counts - truth <= per_bin)


def test_merging_in_any_order_gives_the_same_tail() -> None:
    values = np.random.default_rng(3).uniform(0, 2, 50_000)
    parts = np.array_split(values, 5)

    def build(order: list[int]) -> np.ndarray:
        total = ScoreAccumulator(-2, 4, 256, tail_capacity=1000)
        for i in order:
            part = ScoreAccumulator(-2, 4, 256, tail_capacity=1000)
            part.add(parts[i])
            total.merge(part)
        return total.finish().tail

    first = build([0, 1, 2, 3, 4])
    np.testing.assert_array_equal(first, build([4, 2, 0, 3, 1]))
    np.testing.assert_array_equal(first, np.sort(values)[: first.size])


def test_infinite_and_nan_distances() -> None:
    scores = from_array([0.5, math.inf, 0.2])
    assert scores.complete and scores.infinite == 1 and scores.total == 3
    assert scores.count_at_most([0.3, math.inf]).tolist() == [1, 3]
    with pytest.raises(ValueError, match="NaN"):
        from_array([0.1, math.nan])
    with pytest.raises(ValueError, match="binned"):
        blocked_scoring.score_cross_identity(
            euclidean_matrix, *integer_data(n=100), tail_capacity=10
        ).values()
