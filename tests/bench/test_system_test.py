"""Travellers from a dataset, lookalikes, matcher-only figures, the system report and the
embedding shard cache (in-memory engine; the lanes themselves are in tests/gate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import system_report, system_test
from bench.accuracy import EmbedOptions, embed_images
from bench.dataset_formats import load_dataset
from bench.embedding_cache import ShardStore, embed_cached, pack_hash, shards
from gate.errors import InputError
from gate.outcome import Decision, Transaction
from gate.simulate.report import TravellerResult


def test_pairs_are_drawn_in_proportion_and_by_seed(pairs_csv: Path) -> None:
    ds = load_dataset(pairs_csv)  # 9 genuine and 9 impostor pairs
    chosen = system_test.select_pairs(ds, 6, seed=3)
    assert len(set(chosen.tolist())) == 6
    assert int(ds.same[chosen].sum()) == 3
    assert np.array_equal(chosen, system_test.select_pairs(ds, 6, seed=3))
    assert not np.array_equal(chosen, system_test.select_pairs(ds, 6, seed=4))
    assert sorted(system_test.select_pairs(ds, None, 0).tolist()) == list(range(18))


def test_genuine_pairs_give_a_live_photo_and_impostor_pairs_a_zero_effort_impostor(
    pairs_csv: Path,
) -> None:
    ds = load_dataset(pairs_csv)
    people = system_test.travellers_from_dataset(ds, limit=8, seed=1)
    assert len(people.scenario.travellers) == 8
    for spec, a, b, same in zip(
        people.scenario.travellers, people.left, people.right, people.genuine, strict=True
    ):
        assert spec.photo == str(ds.images[a].path) and spec.live_photo == str(ds.images[b].path)
        assert spec.kind == ("genuine" if same else "impostor")
        assert spec.expect is (Decision.ACCEPT if same else Decision.REJECT_MISMATCH)
        codes = ds.identity_codes
        assert codes is not None and (codes[a] == codes[b]) == same


def test_lookalikes_are_the_nearest_other_identity(
    identity_tree: Path, fake_engine_class: Any
) -> None:
    ds = load_dataset(identity_tree)
    engine = fake_engine_class()
    emb = embed_images(engine, ds, progress=False)
    people = system_test.travellers_from_dataset(
        ds, impostors="similar", engine=engine, embeddings=emb, seed=0
    )
    codes = ds.identity_codes
    assert codes is not None
    impostors = ~people.genuine
    assert impostors.any() and (people.pairs[impostors] == -1).all()
    for chip, live in zip(people.left[impostors], people.right[impostors], strict=True):
        others = np.flatnonzero(codes != codes[chip])
        distances = engine.distances(emb.vectors[chip], emb.vectors[others])
        assert live == others[int(np.argmin(distances))]
    with pytest.raises(InputError, match="needs the pack's embeddings"):
        system_test.travellers_from_dataset(ds, impostors="similar")


def test_matcher_figures_at_the_gate_threshold(pairs_csv: Path, fake_engine_class: Any) -> None:
    ds = load_dataset(pairs_csv)
    people = system_test.travellers_from_dataset(ds, seed=0)  # every pair, the dark one too
    engine = fake_engine_class()
    figures = system_test.matcher_figures(engine, ds, people, threshold=0.25)
    assert figures["pairs"] == 18 and figures["fta_pairs"] == 2  # the dark image's two pairs
    distances = np.array([np.inf if d is None else d for d in figures["distances"]])
    genuine = people.genuine
    assert figures["false_non_matches"] == int(np.sum(genuine & (distances > 0.25)))
    assert figures["false_matches"] == int(np.sum(~genuine & (distances <= 0.25)))
    assert figures["fnmr"] == figures["false_non_matches"] / 9


def transaction(decision: Decision, total_s: float, **stages: float) -> Transaction:
    return Transaction(
        "t", 100.0, 100.0 + total_s, decision, score=0.4, threshold=0.5,
        stage_ms=dict(stages), detail=f"because {decision.value.lower()}",
    )  # fmt: skip


def result(index: int, kind: str, decision: Decision | None, total_s: float = 2.0) -> Any:
    expected = Decision.ACCEPT if kind == "genuine" else Decision.REJECT_MISMATCH
    tx = None if decision is None else transaction(decision, total_s, capture=900.0, verify=5.0)
    return TravellerResult(index, f"{kind}-{index}", kind, expected, tx, "" if tx else "no face")


def test_system_figures_and_report(tmp_path: Path) -> None:
    results = [
        result(0, "genuine", Decision.ACCEPT),
        result(1, "genuine", Decision.REFER_CAPTURE, 8.0),
        result(2, "genuine", Decision.REFER_LIVENESS),
        result(3, "genuine", Decision.ACCEPT),
        result(4, "impostor", Decision.REJECT_MISMATCH),
        result(5, "impostor", Decision.ACCEPT),
        result(6, "impostor", None),
    ]
    s = system_report.system_figures(results)
    assert s["transactions"] == 6 and s["not_presented"] == [
        {"name": "impostor-6", "why": "no face"}
    ]
    assert (s["fta"]["count"], s["fta"]["of"]) == (1, 6)
    assert (s["frr"]["count"], s["frr"]["of"]) == (2, 4)
    assert (s["far"]["count"], s["far"]["of"]) == (1, 2)
    assert 0.0 < s["frr"]["ci95"]["low"] < 0.5 < s["frr"]["ci95"]["high"] < 1.0
    assert s["genuine_losses"] == {
        "REFER_CAPTURE: because refer_capture": 1,
        "REFER_LIVENESS: because refer_liveness": 1,
    }
    assert s["transaction_ms"]["n"] == 6 and s["transaction_ms"]["max"] == pytest.approx(8000.0)
    assert s["stage_ms"]["capture"]["p50"] == pytest.approx(900.0)
    matcher = {"pack": "p", "threshold": 0.5, "pairs": 7, "fta_pairs": 0, "genuine": 4,
               "impostor": 3, "fnmr": 0.0, "fmr": 0.0, "false_non_matches": 0,
               "false_matches": 0, "fnmr_ci95": {"low": 0.0, "high": 0.5},
               "fmr_ci95": {"low": 0.0, "high": 0.6}, "distances": [0.1] * 7}  # fmt: skip
    matcher["distances"] = [0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9]
    results[3] = result(3, "genuine", Decision.REJECT_MISMATCH)
    report = system_report.system_report(results, matcher, {"scenario": "s", "lanes": 2})
    assert report["system"]["genuine_breakdown"] == {
        "accepted": 1,
        "lost in capture (FTA)": 1,
        "lost to liveness (a live person taken for an attack)": 1,
        "mismatch the matcher alone also makes": 1,
    }
    assert report["losses"]["frr_minus_fnmr"] == pytest.approx(0.75)
    page = system_report.write_system_report(report, tmp_path / "out")
    text = page.read_text()
    assert "| false reject rate (FRR) / FNMR | 75.0 % (3/4;" in text
    assert "impostor-6: no face" in text
    assert json.loads((tmp_path / "out" / "report.json").read_text())["system"]["far"]["count"] == 1
    for name in ("outcomes.png", "transaction_times.png", "stages.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000


def test_embedding_shards_are_reused_and_a_broken_one_is_redone(
    identity_tree: Path, fake_engine_class: Any, tmp_path: Path
) -> None:
    ds = load_dataset(identity_tree)
    engine = fake_engine_class()
    cache = tmp_path / "cache"
    first = embed_cached(engine, ds, EmbedOptions(), cache)
    assert first.embedded == len(ds.images) == engine.embedded
    direct = embed_images(fake_engine_class(), ds, progress=False)
    assert np.array_equal(first.vectors, direct.vectors)
    again = embed_cached(engine, ds, EmbedOptions(), cache)
    assert again.embedded == 0 and np.array_equal(again.vectors, first.vectors)
    store = ShardStore(cache, pack_hash(engine.manifest))
    (shard,) = shards([ref.key for ref in ds.images], EmbedOptions().describe())
    assert store.path(shard).stat().st_mode & 0o777 == 0o600
    store.path(shard).write_bytes(b"not a zip")
    assert store.load(shard) is None
    redone = embed_cached(engine, ds, EmbedOptions(), cache)
    assert redone.embedded == len(ds.images) and np.array_equal(redone.vectors, first.vectors)
    other = embed_cached(engine, ds, EmbedOptions(face="largest"), cache)
    assert other.embedded == len(ds.images)  # other options: other shards
