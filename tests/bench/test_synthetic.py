"""Synthetic templates at scale: each model's block turned on its own keeps the fused
distance; the check refuses templates that do not reproduce the real distances."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from bench.identify_scale import identify_at_scale
from bench.scale import replicate
from gate.errors import InputError
from models.fusion import fused_distances
from models.pack import load_manifest
from tests.gate.watch import lists

PEOPLE = lists.templates(150, seed=41)
BASE = np.concatenate([PEOPLE, lists.near(PEOPLE, 0.25, seed=42)])
CODES = np.tile(np.arange(150), 2)


def test_turned_blocks_keep_the_fused_distance_and_the_old_way_did_not() -> None:
    spec = load_manifest("fusion").fusion
    assert spec is not None
    blocks = synthetic.blocks_of(load_manifest("fusion"))
    assert blocks == [128, 128]
    copy = synthetic.turned_copy(BASE, blocks, 0.0, np.random.default_rng(1))
    before = fused_distances(spec, BASE[:150], BASE[150:])
    after = fused_distances(spec, copy[:150], copy[150:])
    assert np.max(np.abs(after - before)) < 0.5  # genuine pairs stay genuine-like
    old, _ = replicate(BASE, CODES, 600, noise=0.0)
    mixed = fused_distances(spec, old[300:450], old[450:600])
    assert np.median(np.abs(mixed - before)) > np.median(np.abs(after - before))


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
