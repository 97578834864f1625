"""``python -m bench.scale identify --gallery N``: 1:N search at scale on synthetic templates.

The gallery is one template per identity of the replicated base set (``bench.synthetic``:
the dataset's own images under new identities, each identity's centre moved), checked first
to reproduce the real distances (``check_synthetic``). Probes: mated ones (another image of an
enrolled identity, from the first copies) and non-mated ones (a copy left out). Figures:
index build time, peak RSS, and per candidate count the single-probe search latency after
the exact re-rank and the recall of the exact top-1 for mated and non-mated probes (the
exact search done in blocks, as the truth).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import synthetic
from gate.watch import search

BLOCK = 25_000  # gallery rows per exact-search block (1,000 probes: 200 MB a matrix)


def build_gallery(
    base: npt.NDArray[np.float32],
    codes: npt.NDArray[np.int64],
    size: int,
    made: synthetic.Copier,
    *,
    seed: int,
    probes: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """(gallery, probe vectors, each probe's gallery row or -1 for a non-mated probe)."""
    rng = np.random.default_rng(seed)
    first = np.unique(codes, return_index=True)[1]  # one image per identity
    others = np.setdiff1d(np.arange(codes.size), first)  # mated probe candidates
    position = {int(codes[i]): k for k, i in enumerate(first)}
    copies = -(-size // first.size)
    gallery = np.empty((copies * first.size, base.shape[1]), dtype=np.float32)
    mated: list[npt.NDArray[np.float32]] = []
    mates: list[int] = []
    non_mated = np.zeros((0, base.shape[1]), dtype=np.float32)
    for copy in range(copies + 1):
        turned = made.base.astype(np.float32) if copy == 0 else made.copy(rng)
        if copy < copies:
            gallery[copy * first.size : (copy + 1) * first.size] = turned[first]
            if len(mated) < probes // 2:
                take = others[: probes // 2 - len(mated)]
                mated.extend(turned[take])
                mates.extend(copy * first.size + position[int(codes[i])] for i in take)
        else:  # a copy never enrolled: strangers
            non_mated = turned[rng.choice(codes.size, probes - len(mated), replace=False)]
    gallery = gallery[:size]
    marks = [m if m < size else -1 for m in mates] + [-1] * len(non_mated)
    truth: npt.NDArray[np.int64] = np.array(marks, dtype=np.int64)
    return gallery, np.concatenate([np.stack(mated), non_mated]), truth


def exact_top1(
    gallery: search.Gallery, probes: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each probe's exact nearest row and distance (the truth the index is measured by)."""
    best = np.full(len(probes), -1, dtype=np.int64)
    best_d = np.full(len(probes), np.inf)
    for start in range(0, len(gallery), BLOCK):
        part = gallery.templates[start : start + BLOCK]
        matrix = search.exact_distances(gallery.manifest, probes, part)
        rows = matrix.argmin(axis=1)
        near = matrix[np.arange(len(probes)), rows]
        better = near < best_d
        best[better], best_d[better] = rows[better] + start, near[better]
    return best, best_d


def identify_at_scale(
    manifest: Any,
    base: npt.NDArray[np.float32],
    codes: npt.NDArray[np.int64],
    size: int,
    *,
    index: str = "pq",
    noise: float = 0.05,
    seed: int = 0,
    probes: int = 1000,
    candidates: Sequence[int | None] = (None,),
) -> dict[str, Any]:
    """Build, then search every probe once per candidate count (``None``: the gallery's
    default for the index), one probe at a time on one thread; the exact search last."""
    made = synthetic.copier(manifest, base, codes, noise)
    gallery_vectors, probe_vectors, truth = build_gallery(
        base, codes, size, made, seed=seed, probes=probes
    )
    started = time.perf_counter()
    built = search.index_gallery(manifest, gallery_vectors, kind=index)
    build_s = time.perf_counter() - started
    build_rss = _peak_rss_mb()
    search.set_threads(1)  # a lane searches one probe at a time
    load_before = os.getloadavg()
    runs = [_searches(search.Gallery(manifest, gallery_vectors, built, candidates=c),
                      probe_vectors) for c in candidates]  # fmt: skip
    load_after = os.getloadavg()
    exact, exact_d = exact_top1(search.Gallery(manifest, gallery_vectors), probe_vectors)
    mated = truth >= 0
    threshold = min(manifest.thresholds.values())  # the strictest calibrated (FMR 1e-4)
    return {
        "gallery": len(gallery_vectors),
        "index": index,
        "index_build_seconds": build_s,
        "peak_rss_mb_after_build": build_rss,
        "probes": len(probe_vectors),
        "mated_probes": int(mated.sum()),
        "threshold": threshold,
        "rank1_mated": float(np.mean(exact[mated] == truth[mated])) if mated.any() else None,
        "exact_top1_under_threshold": {
            "mated": float(np.mean(exact_d[mated] <= threshold)) if mated.any() else None,
            "non_mated": float(np.mean(exact_d[~mated] <= threshold)),
        },
        "load_average_1min": {"before_search": load_before[0], "after_search": load_after[0]},
        "runs": [_figures(run, exact, exact_d, mated, threshold) for run in runs],
    }


@dataclass(frozen=True)
class _Run:
    candidates: int
    ms: npt.NDArray[np.float64]
    found: npt.NDArray[np.int64]
    nearest: npt.NDArray[np.float64]


def _searches(gallery: search.Gallery, probes: npt.NDArray[np.float32]) -> _Run:
    seconds, found, nearest = [], [], []
    for probe in probes:
        t0 = time.perf_counter()
        hits = gallery.search(probe[None, :], 1)[0]
        seconds.append(time.perf_counter() - t0)
        found.append(hits[0].row if hits else -1)
        nearest.append(hits[0].distance if hits else np.inf)
    ms = np.array(seconds) * 1000.0
    return _Run(gallery.candidates, ms, np.array(found), np.array(nearest))


def _figures(
    run: _Run, exact: npt.NDArray[np.int64], exact_d: npt.NDArray[np.float64],
    mated: npt.NDArray[np.bool_], threshold: float,
) -> dict[str, Any]:  # fmt: skip
    same = run.found == exact
    hit_ann, hit_exact = run.nearest <= threshold, exact_d <= threshold
    return {
        "candidates": run.candidates,
        "recall_of_exact_top1": float(np.mean(same)),
        "recall_of_exact_top1_mated": float(np.mean(same[mated])) if mated.any() else None,
        "recall_of_exact_top1_non_mated": float(np.mean(same[~mated])),
        "decisions_as_exact_at_threshold": float(
            np.mean((hit_ann == hit_exact) & (~hit_exact | same))
        ),
        "search_ms": {f"p{q}": float(np.percentile(run.ms, q)) for q in (50, 95, 99)},
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
