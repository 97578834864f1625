"""The scale benchmark, small: blocked scoring of replicated embeddings through the real
pack's distance, its figures against the full array's. ``python -m bench.scale scoring``
runs the full size (100,000 embeddings, ~5e9 comparisons); see docs/evaluation.md."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench import metrics
from bench.scale import replicate, score_at_scale, synthetic_base

EMBEDDINGS = 2_000  # ~2e6 comparisons: more than the 1e6 exact tail, so bins are used too


def _engine() -> Any:
    from gate.errors import ModelError
    from models.engine import load_engine

    try:
        return load_engine(None)
    except ModelError as exc:
        pytest.skip(f"face pack not prepared ({exc}); run `egate models prepare`")


def test_blocked_scoring_of_replicated_embeddings(benchmark: Any) -> None:
    engine = _engine()
    base, codes = synthetic_base(300, 2, dim=engine.manifest.embedding_size)
    vectors, identities = replicate(base, codes, EMBEDDINGS, noise=0.05)
    assert np.unique(identities).size == EMBEDDINGS // 2  # each copy under new identities
    out = benchmark.pedantic(score_at_scale, args=(engine, vectors, identities), rounds=1)
    assert out["impostor_comparisons"] == out["expected_comparisons"] > 1_000_000
    assert not out["impostor_scoring"]["exact"]
    matrix = engine.distance_matrix(vectors, vectors)
    upper = np.triu(identities[:, None] != identities[None, :], k=1)
    full = matrix[upper]
    for key in ("1e-4", "1e-5", "1e-6"):
        threshold = metrics.threshold_at_fmr(full, float(key))
        assert out["thresholds"][key] == threshold  # the exact tail: the very same value
    benchmark.extra_info.update(
        comparisons=out["impostor_comparisons"], peak_rss_mb=out["peak_rss_mb"]
    )
