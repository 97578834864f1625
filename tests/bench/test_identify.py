"""bench identify: the split of ISO/IEC 19795-1 identification and its figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bench.acquire import Embeddings
from bench.datasets import Dataset, ImageRef
from bench.identify import Searches, identify, split, summarise
from bench.identify_report import markdown, summary_line
from tests.gate.watch import lists


def test_the_split_keeps_mated_and_non_mated_searches_apart() -> None:
    codes = np.repeat(np.arange(40), 3)
    codes = np.concatenate([codes, np.arange(40, 50)])  # ten people with one image
    acquired = np.ones(codes.size, dtype=bool)
    acquired[0] = False
    parts = split(codes, acquired, 0.25, seed=1)
    enrolled = codes[parts.gallery]
    assert len(set(enrolled.tolist())) == parts.gallery.size == 30
    assert 0 not in parts.gallery and 0 not in parts.mated and 0 not in parts.non_mated
    np.testing.assert_array_equal(codes[parts.mated], enrolled[parts.mates])
    assert not set(codes[parts.non_mated].tolist()) & set(enrolled.tolist())
    assert set(range(40, 50)) <= set(codes[parts.non_mated].tolist())
    everyone = np.concatenate([parts.gallery, parts.mated, parts.non_mated])
    assert sorted(everyone.tolist()) == list(range(1, codes.size))


def test_fnir_counts_a_mate_missed_or_over_the_threshold() -> None:
    searches = Searches(
        mate_rank=np.array([1, 1, 2, 0, 1]),
        mated_rank1_distance=np.array([0.1, 0.5, math.inf, math.inf, 0.2]),
        non_mated_distance=np.linspace(0.3, 2.0, 30),
        seconds=np.full(35, 0.001),
    )
    s = summarise(searches, 3, pack_threshold=0.25)
    assert s["rank1"] == 0.6 and s["cmc"] == [0.6, 0.8, 0.8]
    point = s["operating_points"]["0.1"]  # 3 of 30 allowed: threshold under the 4th
    assert point["false_positives"] == 3 and point["non_mated_searches"] == 30
    assert point["threshold"] < 0.3 + 3 * 1.7 / 29 < 0.5
    assert point["false_negatives"] == 3 and point["mated_searches"] == 5  # 0.1 and 0.2 pass
    assert point["supported"] and not s["operating_points"]["0.01"]["supported"]
    assert s["at_pack_threshold"]["fnir"] == 0.6 and s["at_pack_threshold"]["fpir"] == 0.0


def test_identify_on_synthetic_people_finds_the_mates() -> None:
    people = lists.templates(60, seed=11)
    codes = np.repeat(np.arange(60), 3)
    vectors = np.concatenate([lists.near(people, 0.2, seed=s) for s in (1, 2, 3)])
    order = np.argsort(np.tile(np.arange(60), 3), kind="stable")
    vectors = vectors[order]  # rows grouped by person, as codes are
    images = tuple(ImageRef(f"i{i}") for i in range(codes.size))
    empty = np.zeros(0, dtype=np.int64)
    dataset = Dataset(Path("synthetic"), "test", images, empty, empty, empty.astype(bool), codes)
    emb = Embeddings(vectors, np.ones(codes.size, dtype=bool), {}, 1.0)

    class Engine:
        pack_id = "fusion"
        manifest = __import__("models.pack", fromlist=["load_manifest"]).load_manifest("fusion")

        def threshold(self, fmr: str) -> float:
            return float(self.manifest.thresholds[fmr])

    summary = identify(Engine(), dataset, emb, seed=0, non_mated_share=0.3)
    assert summary["gallery"] == 42 and summary["mated_searches"] == 84
    assert summary["non_mated_searches"] == 54
    assert summary["rank1"] == 1.0
    assert summary["at_pack_threshold"]["fpir"] == 0.0
    report = {"packs": [summary], "dataset": {"source": "x"}, "seed": 0, "protocol": "p"}
    assert "Rank-1: 1.0000" in markdown(report)
    assert "rank1=1.0000" in summary_line(summary)
