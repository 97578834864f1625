"""Micro-benchmarks of the accuracy harness at lfw-dev scale (2,267 images, 1,229 people)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import datasets, metrics

IMAGES = 2267
IDENTITIES = 1229


def lfw_like_codes() -> np.ndarray:
    rng = np.random.default_rng(0)
    codes = np.concatenate((np.arange(IDENTITIES), rng.integers(0, 300, IMAGES - IDENTITIES)))
    return rng.permutation(codes)


def test_expand_all_impostors(benchmark: Any) -> None:
    codes = lfw_like_codes()

    def expand() -> int:
        return sum(left.size for left, _ in datasets.cross_identity_pairs(codes, "all"))

    count = benchmark(expand)
    assert count == datasets.count_cross_identity_pairs(codes)
    benchmark.extra_info["pairs"] = count


def test_score_summary_millions_of_impostors(benchmark: Any) -> None:
    rng = np.random.default_rng(1)
    genuine = rng.normal(0.4, 0.08, 900)
    impostor = rng.normal(0.85, 0.07, 2_500_000)
    summary = benchmark.pedantic(
        metrics.score_summary, args=(genuine, impostor), rounds=3, iterations=1
    )
    assert summary["impostor_comparisons"] == impostor.size
    benchmark.extra_info["impostor_comparisons"] = impostor.size
