"""Synthetic templates at scale: each model's block turned on its own keeps the fused
distance; the check refuses templates that do not reproduce the real distances."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from bench.identify_scale import identify_at_scale
from gate.errors import InputError
from models.fusion import fused_distances
from models.pack import load_manifest
from tests.gate.watch import lists

PEOPLE = lists.templates(150, seed=41)
BASE = np.concatenate([PEOPLE, lists.near(PEOPLE, 0.25, seed=42)])
CODES = np.tile(np.arange(150), 2)


def test_copies_keep_genuine_pairs_and_their_strangers_are_like_real_ones() -> None:
    manifest = load_manifest("fusion")
    spec = manifest.fusion
    assert spec is not None
    people = lists.templates(600, seed=43)  # more people than dimensions: a fitted model
    base = np.concatenate([people, lists.near(people, 0.25, seed=44)])
    made = synthetic.copier(manifest, base, np.tile(np.arange(600), 2))
    rng = np.random.default_rng(1)
    first, second = made.copy(rng), made.copy(rng)
    before = fused_distances(spec, base[:600], base[600:])
    after = fused_distances(spec, first[:600], first[600:])
    assert np.max(np.abs(after - before)) < 0.1  # a copy's genuine pairs: the real ones
    real_strangers = fused_distances(spec, base[:600], base[1:601])
    across = fused_distances(spec, first[:600], second[1:601])
    assert abs(np.median(across) - np.median(real_strangers)) < 0.5
    assert abs(np.std(across) - np.std(real_strangers)) < 0.5 * np.std(real_strangers)
    # the old copies (each model's block rotated about its mean) made strangers from two
    # copies far less alike than real ones: their spread collapsed
    old = [synthetic_old_copy(base, rng) for _ in range(2)]
    old_across = fused_distances(spec, old[0][:600], old[1][1:601])
    assert np.std(old_across) < np.std(across)
    vectors, codes = synthetic.replicate_copies(made, CODES, 1000, seed=2)
    assert vectors.shape == (1000, 256) and np.unique(codes).size == 3 * 150 + 100


def synthetic_old_copy(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The old way: each model's block turned about its mean by its own random rotation."""
    out = np.empty_like(base)
    for start in (0, 128):
        part = base[:, start : start + 128]
        rotation, _ = np.linalg.qr(rng.standard_normal((128, 128)))
        out[:, start : start + 128] = (part - part.mean(0)) @ rotation + part.mean(0)
    return out


def test_the_check_accepts_a_faithful_copy_and_refuses_a_shifted_one() -> None:
    rng = np.random.default_rng(2)
    real = (rng.normal(0.0, 1.0, 50_000), rng.normal(5.0, 1.0, 300_000))
    same = (rng.normal(0.0, 1.0, 50_000), rng.normal(5.0, 1.0, 300_000))
    rows = synthetic.check_synthetic(real, same)
    assert [r["fmr"] for r in rows] == [1e-2, 1e-3, 1e-4]
    with pytest.raises(InputError, match=r"FMR 0\.01"):
        synthetic.check_synthetic(real, (same[0], same[1] + 1.0))  # strangers too far apart
    with pytest.raises(InputError, match="TAR"):
        synthetic.check_synthetic(real, (same[0] + 0.5, same[1]))


@pytest.mark.parametrize(("index", "size"), [("pq", 1200), ("hnsw", 300)])
def test_identify_at_scale_finds_the_mates_and_reports_its_figures(index: str, size: int) -> None:
    out = identify_at_scale(
        load_manifest("fusion"), BASE, CODES, size, index=index, seed=3, probes=20,
        candidates=(None, 64),
    )  # fmt: skip
    assert out["gallery"] == size and out["probes"] == 20 and out["mated_probes"] == 10
    assert out["rank1_mated"] == 1.0
    default, small = out["runs"]
    assert small["candidates"] == 64 and default["candidates"] > 64
    for run in out["runs"]:
        assert run["recall_of_exact_top1_mated"] == 1.0
        assert run["decisions_as_exact_at_threshold"] == 1.0
        assert run["search_ms"]["p50"] <= run["search_ms"]["p99"]


def test_the_check_measures_pairs_across_two_copies() -> None:
    from models.engine import load_engine

    engine = load_engine("fusion")
    made = synthetic.copier(engine.manifest, BASE, CODES)
    genuine, impostors = synthetic.cross_copy_distances(
        engine.distance_matrix, engine.distances, made, CODES
    )
    assert genuine.size == 150 and impostors.size == 300 * 300  # every pair across copies
    assert np.median(genuine) < np.median(impostors)
