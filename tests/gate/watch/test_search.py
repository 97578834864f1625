"""1:N search: the pack's own distance, and an index that changes nothing at the threshold."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gate.errors import ConfigError
from gate.watch import search
from models import fusion
from models.pack import load_manifest
from tests.gate.watch import lists

GALLERY = lists.templates(2000, seed=3)


@pytest.fixture(scope="module")
def threshold() -> float:
    return float(load_manifest("fusion").thresholds["1e-3"])


def test_exact_search_uses_the_1to1_distance() -> None:
    manifest = load_manifest("fusion")
    probes = lists.near(GALLERY[:5], 0.3, seed=4)
    gallery = search.Gallery("fusion", GALLERY[:200])
    for probe, hits in zip(probes, gallery.search(probes, k=3), strict=True):
        one_to_one = fusion.fused_distances(manifest.fusion, probe[None, :], GALLERY[:200])  # type: ignore[arg-type]
        order = np.argsort(one_to_one)[:3]
        assert [h.row for h in hits] == list(order)
        np.testing.assert_allclose([h.distance for h in hits], one_to_one[order], rtol=1e-6)


def test_the_index_finds_what_exact_search_finds_at_the_threshold(threshold: float) -> None:
    exact = search.Gallery("fusion", GALLERY)
    indexed = exact.with_index()
    assert indexed.index is not None
    mated = lists.near(GALLERY[::10], 0.35, seed=5)  # 200 people of the gallery, new shots
    strangers = lists.templates(200, seed=6)
    probes = np.concatenate([mated, strangers])
    a = [h[0] if h[0].distance <= threshold else None for h in exact.search(probes, 1)]
    b = [h[0] if h[0].distance <= threshold else None for h in indexed.search(probes, 1)]
    assert a == b
    hits = [(i, h.row) for i, h in enumerate(a[:200]) if h is not None]
    assert len(hits) > 150, "the mated probes should mostly fall under the threshold"
    assert all(row == 10 * i for i, row in hits)
    assert all(h is None for h in a[200:])
    assert indexed.within(probes[:2], threshold) == exact.within(probes[:2], threshold)
    top5 = indexed.search(probes[:20], k=5)
    assert top5 == exact.search(probes[:20], k=5)


def test_an_index_round_trips_and_without_faiss_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors = search.ann_space("fusion", GALLERY[:100])
    index = search.index_from_bytes(search.index_to_bytes(search.build_index(vectors)))
    assert index.ntotal == 100
    monkeypatch.setitem(sys.modules, "faiss", None)
    for needs_faiss in (lambda: search.build_index(vectors), lambda: search.set_threads(2)):
        with pytest.raises(ConfigError, match=r"faiss-cpu \(pip install 'egate\[watch\]'\)"):
            needs_faiss()
