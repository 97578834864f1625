"""1:N identification accuracy (ISO/IEC 19795-1, open set) of a pack on a dataset.

The protocol, on the images that acquired a template:

- identities with at least two images are split (seeded) into *enrolled* and *left out*
  (``non_mated_share`` of them); identities with one image are left out too;
- the gallery holds one image per enrolled identity (a seeded choice); every other image of
  an enrolled identity is a *mated* search, every image of a left-out identity a *non-mated*
  search;
- each search returns the ``CANDIDATES`` nearest gallery entries with the pack's own
  distance (``gate.watch.search``: exactly, or through the HNSW index and an exact re-rank).

Figures: FPIR(T) = share of non-mated searches whose nearest entry is at or under T;
FNIR(T) = share of mated searches whose mate is not the nearest entry at or under T (rank 1);
thresholds are chosen like ``bench accuracy``'s at an FMR: the largest T whose FPIR does not
exceed the target, supported when there are >= 3 / FPIR non-mated searches. Rank-1 and the
CMC need no threshold. Search latency is one probe at a time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import metrics
from bench.acquire import Embeddings, EmbedOptions, embed_images
from bench.datasets import Dataset
from gate.errors import InputError

TARGET_FPIRS = (1e-1, 1e-2, 1e-3)
CANDIDATES = 20  # the candidate list: the CMC goes to this rank
IntArray = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Split:
    gallery: IntArray  # image rows, one per enrolled identity
    mated: IntArray  # image rows of enrolled identities, not in the gallery
    mates: IntArray  # for each mated search, its gallery position
    non_mated: IntArray  # image rows of left-out identities


def split(codes: npt.ArrayLike, acquired: npt.ArrayLike, share: float, seed: int) -> Split:
    """Gallery, mated and non-mated searches (rows of the dataset's images)."""
    ids = np.asarray(codes, dtype=np.int64)
    ok = np.asarray(acquired, dtype=bool)
    if not 0.0 <= share < 1.0:
        raise InputError(f"the left-out share must be in [0, 1), got {share}")
    rng = np.random.default_rng(seed)
    people, counts = np.unique(ids[ok], return_counts=True)
    several = people[counts >= 2]
    out = rng.permutation(several)[: round(share * several.size)]
    enrolled = np.setdiff1d(several, out)
    if enrolled.size < 2:
        raise InputError("too few identities with two or more usable images for a gallery")
    gallery: list[int] = []
    mated: list[int] = []
    mates: list[int] = []
    for position, person in enumerate(enrolled):
        rows = np.flatnonzero(ok & (ids == person))
        chosen = int(rng.choice(rows))
        gallery.append(chosen)
        others = rows[rows != chosen]
        mated.extend(int(r) for r in others)
        mates.extend([position] * others.size)
    non_mated = np.flatnonzero(ok & ~np.isin(ids, enrolled))
    return Split(
        np.array(gallery, dtype=np.int64),
        np.array(mated, dtype=np.int64),
        np.array(mates, dtype=np.int64),
        non_mated.astype(np.int64),
    )


@dataclass(frozen=True)
class Searches:
    """What the searches found: per mated search the mate's rank (0 = not in the list) and
    the nearest distance when the nearest is the mate (inf otherwise); per non-mated search
    the nearest distance; the seconds of each search."""

    mate_rank: IntArray
    mated_rank1_distance: F64
    non_mated_distance: F64
    seconds: F64


def run_searches(gallery: Any, vectors: npt.ArrayLike, split_: Split, k: int) -> Searches:
    """Every search, one probe at a time (so the latency is a lane's)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    probes = np.concatenate([split_.mated, split_.non_mated])
    seconds = np.zeros(probes.size)
    results = []
    for i, row in enumerate(probes):
        started = time.perf_counter()
        results.append(gallery.search(matrix[row : row + 1], k)[0])
        seconds[i] = time.perf_counter() - started
    ranks = np.zeros(split_.mated.size, dtype=np.int64)
    rank1 = np.full(split_.mated.size, math.inf)
    for i, (hits, mate) in enumerate(zip(results, split_.mates, strict=False)):
        rows = [h.row for h in hits]
        if mate in rows:
            ranks[i] = rows.index(int(mate)) + 1
        if rows and rows[0] == mate:
            rank1[i] = hits[0].distance
    nearest = np.array([h[0].distance if h else math.inf for h in results[split_.mated.size :]])
    return Searches(ranks, rank1, nearest, seconds)


def _operating_point(searches: Searches, fpir: float) -> dict[str, Any]:
    point = metrics.operating_point(
        searches.mated_rank1_distance, searches.non_mated_distance, fpir
    )
    return {
        "target_fpir": fpir,
        "threshold": point.threshold,
        "fpir": point.fmr,
        "fnir": point.fnmr,
        "false_positives": point.false_matches,
        "false_negatives": point.false_non_matches,
        "non_mated_searches": point.impostor_comparisons,
        "mated_searches": point.genuine_comparisons,
        "fnir_ci95": metrics.wilson_interval(
            point.false_non_matches, point.genuine_comparisons
        ).as_dict(),
        "supported": point.supported,
    }


def summarise(searches: Searches, k: int, pack_threshold: float | None) -> dict[str, Any]:
    """The report's figures."""
    mated = searches.mate_rank.size
    if mated == 0 or searches.non_mated_distance.size == 0:
        raise InputError("need mated and non-mated searches")
    ranks = searches.mate_rank
    cmc = [float(np.count_nonzero((ranks > 0) & (ranks <= r)) / mated) for r in range(1, k + 1)]
    points = {f"{f:g}": _operating_point(searches, f) for f in TARGET_FPIRS}
    ms = searches.seconds * 1000.0
    summary: dict[str, Any] = {
        "mated_searches": mated,
        "non_mated_searches": int(searches.non_mated_distance.size),
        "rank1": cmc[0],
        "cmc": cmc,
        "fnir_at_fpir": {key: p["fnir"] for key, p in points.items()},
        "operating_points": points,
        "search_ms": {
            "p50": float(np.percentile(ms, 50)),
            "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)),
            "mean": float(ms.mean()),
            "searches": int(ms.size),
        },
    }
    if pack_threshold is not None:
        fpir, fnir = metrics.error_rates(
            searches.mated_rank1_distance, searches.non_mated_distance, [pack_threshold]
        )
        summary["at_pack_threshold"] = {
            "threshold": pack_threshold,
            "source": "the pack's FMR 1e-3 threshold (the lane's)",
            "fpir": float(fpir[0]),
            "fnir": float(fnir[0]),
        }
    summary["det"] = _det(searches)
    return summary


def _det(searches: Searches, points: int = 400) -> dict[str, list[float]]:
    values = np.concatenate([searches.mated_rank1_distance, searches.non_mated_distance])
    finite = np.unique(values[np.isfinite(values)])
    if finite.size > points:
        finite = finite[np.linspace(0, finite.size - 1, points).astype(int)]
    fpir, fnir = metrics.error_rates(
        searches.mated_rank1_distance, searches.non_mated_distance, finite
    )
    return {"fpir": fpir.tolist(), "fnir": fnir.tolist()}


def embed(
    engine: Any, dataset: Dataset, cache: Path | None, progress: bool, options: EmbedOptions
) -> Embeddings:
    if cache is None:
        return embed_images(engine, dataset, progress=progress, options=options)
    from bench.embedding_cache import embed_cached

    cached: Embeddings = embed_cached(engine, dataset, options, cache, progress=progress)
    return cached


def identify(
    engine: Any,
    dataset: Dataset,
    emb: Embeddings,
    *,
    seed: int = 0,
    non_mated_share: float = 0.3,
    index: str = "exact",
    k: int = CANDIDATES,
) -> dict[str, Any]:
    """Split, build the gallery, search, summarise (one pack)."""
    from gate.watch.search import Gallery

    if dataset.identity_codes is None:
        raise InputError(f"{dataset.source}: identification needs identities "
                         f"({dataset.identity_note or 'unknown'})")  # fmt: skip
    parts = split(dataset.identity_codes, emb.acquired, non_mated_share, seed)
    gallery = Gallery(engine.manifest, emb.vectors[parts.gallery])
    started = time.perf_counter()
    if index != "exact":
        gallery = gallery.with_index(index)
    build_s = time.perf_counter() - started
    k = min(k, len(gallery))
    searches = run_searches(gallery, emb.vectors, parts, k)
    try:
        pack_threshold: float | None = float(engine.threshold("1e-3"))
    except Exception:
        pack_threshold = None
    summary = summarise(searches, k, pack_threshold)
    summary.update(
        pack=engine.pack_id,
        gallery=len(gallery),
        index=index,
        index_build_seconds=build_s,
        candidates=k,
        fta_images=emb.fta_count,
        enrolled_identities=len(gallery),
        left_out_share=non_mated_share,
    )
    return summary
