"""Scale benchmarks: all-pairs impostor scoring of 100,000 embeddings, 1:N search of a
gallery of a million (``bench.identify_scale``), and Ray embedding throughput with 1 and 2
workers.

    python -m bench.scale scoring --dataset ../shared/datasets/lfw-dev/pairs.txt \\
        --cache ~/.cache/egate/embeddings --embeddings 100000
    python -m bench.scale ray-throughput --dataset ../shared/datasets/lfw-dev/pairs.txt \\
        --images 200 --workers 1 2
    python -m bench.scale identify --dataset ../shared/datasets/lfw-dev/pairs.txt \\
        --gallery 1000000 [--index pq|hnsw|ivf]

``scoring`` and ``identify`` take the dataset's embeddings (through the shard cache) and
replicate them under new identities (``bench.synthetic``: each identity's centre moved in a
between/within-whitened basis, each image's own deviation kept, a little noise), after
checking that two copies' cross pairs reproduce the dataset's impostor distances, and the
copies' genuine pairs its genuine ones, at the FMRs both can measure (refused otherwise).
``scoring`` goes up to ``--embeddings`` rows and scores every cross-identity pair in blocks
through the pack's own ``distance_matrix`` into the exact-tail histogram; its TARs come from
the dataset's real genuine pairs (copies only repeat them). It prints the wall
time, the peak RSS of the process, the comparisons per second and the figures down to FMR
1e-6 as JSON. ``bench/micro/test_scale_micro.py`` runs a small version in the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import score_metrics
from bench.blocked_scoring import cross_identity_count, score_cross_identity

LOW_FMRS = ("1e-2", "1e-3", "1e-4", "1e-5", "1e-6")


def replicate(
    vectors: npt.ArrayLike, codes: npt.ArrayLike, total: int, noise: float, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """``total`` rows: the base set, then copies of it, each copy new identities.

    A copy is the base set turned about its mean by a random rotation, plus Gaussian noise
    (``noise`` times the base's per-dimension spread). The rotation keeps every distance
    within a copy (so genuine pairs stay genuine-like) while a person and their copy end up
    as far apart as two unrelated people; noise alone would make each copy a near twin, an
    impostor closer than any genuine pair.
    """
    base = np.asarray(vectors, dtype=np.float32)
    base_codes = np.asarray(codes, dtype=np.int64)
    if base.shape[0] == 0:
        raise ValueError("no base embeddings to replicate")
    rng = np.random.default_rng(seed)
    mean = base.mean(axis=0, keepdims=True)
    spread = base.std(axis=0, keepdims=True)
    copies = -(-total // base.shape[0])
    parts, part_codes = [], []
    step = int(base_codes.max()) + 1
    for copy in range(copies):
        if copy == 0:
            parts.append(base)
        else:
            rotation, _ = np.linalg.qr(rng.standard_normal((base.shape[1], base.shape[1])))
            jitter = rng.standard_normal(base.shape).astype(np.float32) * spread * noise
            turned = (base - mean) @ rotation.astype(np.float32) + mean
            parts.append((turned + jitter).astype(np.float32))
        part_codes.append(base_codes + copy * step)
    return np.concatenate(parts)[:total], np.concatenate(part_codes)[:total]


def synthetic_base(
    identities: int, per_identity: int, dim: int = 128, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Clustered unit-ish vectors: a centre per identity, samples around it."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((identities, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    codes = np.repeat(np.arange(identities, dtype=np.int64), per_identity)
    samples = centres[codes] + 0.25 * rng.standard_normal((codes.size, dim)).astype(np.float32)
    return samples / np.sqrt(2.0).astype(np.float32), codes


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def score_at_scale(
    engine: Any,
    vectors: npt.NDArray[np.float32],
    codes: npt.NDArray[np.int64],
    progress: bool = False,
    genuine: npt.NDArray[np.float64] | None = None,
) -> dict[str, Any]:
    """Score every cross-identity pair; the figures, the time and the memory it took
    (``genuine``: the genuine distances to use, else consecutive pairs of ``vectors``)."""
    started = time.perf_counter()
    scores = score_cross_identity(engine.distance_matrix, vectors, codes, progress=progress)
    seconds = time.perf_counter() - started
    if genuine is None:
        genuine = _genuine_distances(engine, vectors, codes)
    summary = score_metrics.score_summary(genuine, scores, targets=LOW_FMRS)
    return {
        "embeddings": int(codes.size),
        "identities": int(np.unique(codes).size),
        "impostor_comparisons": scores.total,
        "expected_comparisons": cross_identity_count(codes),
        "seconds": seconds,
        "comparisons_per_second": scores.total / seconds if seconds > 0 else None,
        "peak_rss_mb": peak_rss_mb(),
        "genuine_pairs": int(genuine.size),
        "eer": summary["eer"],
        "tar_at_fmr": summary["tar_at_fmr"],
        "thresholds": {k: p["threshold"] for k, p in summary["operating_points"].items()},
        "impostor_scoring": summary["impostor_scoring"],
    }


def _genuine_distances(
    engine: Any, vectors: npt.NDArray[np.float32], codes: npt.NDArray[np.int64], cap: int = 20_000
) -> npt.NDArray[np.float64]:
    """Consecutive same-identity pairs (up to ``cap``): enough for TARs at these scales."""
    order = np.argsort(codes, kind="stable")
    same = np.flatnonzero(codes[order][1:] == codes[order][:-1])[:cap]
    left, right = order[same], order[same + 1]
    return np.asarray(engine.distances(vectors[left], vectors[right]), dtype=np.float64)


def _base_embeddings(args: argparse.Namespace, engine: Any) -> tuple[Any, Any, str]:
    if args.dataset is None:
        vectors, codes = synthetic_base(1000, 2, dim=engine.manifest.embedding_size)
        return vectors, codes, "synthetic clusters (1000 identities x 2)"
    from bench.accuracy import EmbedOptions
    from bench.dataset_formats import load_dataset
    from bench.embedding_cache import default_cache_dir, embed_cached

    dataset = load_dataset(args.dataset)
    if dataset.identity_codes is None:
        raise SystemExit(f"{args.dataset}: identities unknown ({dataset.identity_note})")
    cache = args.cache or default_cache_dir()
    emb = embed_cached(engine, dataset, EmbedOptions(), cache, progress=args.progress)
    keep = emb.acquired
    return emb.vectors[keep], dataset.identity_codes[keep], f"{args.dataset} ({keep.sum()} faces)"


def _checked_base(args: argparse.Namespace, engine: Any) -> tuple[Any, Any, str, list[Any]]:
    """The real base set, once its synthetic copies were checked to reproduce its genuine
    and impostor distances (``bench.synthetic``: two copies' cross pairs, what dominates at
    scale); refused otherwise, or without a dataset."""
    from bench import synthetic

    if args.dataset is None:
        raise SystemExit("a scale figure needs --dataset: the synthetic templates are checked "
                         "against its real distances before any figure is printed")  # fmt: skip
    base, codes, source = _base_embeddings(args, engine)
    made = synthetic.copier(engine.manifest, base, codes, args.noise)
    measure = (engine.distance_matrix, engine.distances)
    real = synthetic.distances_of(*measure, base, codes)
    copies = synthetic.cross_copy_distances(*measure, made, codes)
    try:
        checked = synthetic.check_synthetic(real, copies)
    except Exception as exc:
        raise SystemExit(f"refused: {exc}") from exc
    return base, codes, source, checked


def _scoring(args: argparse.Namespace) -> dict[str, Any]:
    from bench import synthetic
    from models.engine import load_engine

    engine = load_engine(args.pack)
    base, codes, source, checked = _checked_base(args, engine)
    made = synthetic.copier(engine.manifest, base, codes, args.noise)
    vectors, identities = synthetic.replicate_copies(made, codes, args.embeddings, args.seed)
    # the TARs from the real genuine pairs: a copy repeats a real pair, it adds no evidence
    genuine = _genuine_distances(engine, base, codes)
    del base, made
    out = score_at_scale(engine, vectors, identities, progress=args.progress, genuine=genuine)
    out.update(pack=engine.pack_id, base=source, noise=args.noise, synthetic_check=checked)
    return out


def _identify(args: argparse.Namespace) -> dict[str, Any]:
    from bench.identify_scale import identify_at_scale
    from gate.watch import search
    from models.engine import load_engine

    engine = load_engine(args.pack)
    base, codes, source, checked = _checked_base(args, engine)
    search.set_threads(args.build_threads)
    out = identify_at_scale(engine.manifest, base, codes, args.gallery, index=args.index,
                            noise=args.noise, seed=args.seed, probes=args.probes,
                            candidates=args.candidates or [None])  # fmt: skip
    out.update(pack=engine.pack_id, base=source, synthetic_check=checked,
               peak_rss_mb=peak_rss_mb())  # fmt: skip
    return out


def _ray_throughput(args: argparse.Namespace) -> dict[str, Any]:
    from bench.accuracy import EmbedOptions
    from bench.dataset_formats import load_dataset
    from bench.datasets import subset
    from bench.ray_engine import embed_with_ray, ray_session
    from models.engine import load_engine

    dataset = subset(load_dataset(args.dataset), args.images // 2)
    engine = load_engine(args.pack)
    runs = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as cache, ray_session(None, workers) as ray:
            (emb,) = embed_with_ray(
                ray, [args.pack], [engine], dataset, EmbedOptions(), Path(cache), workers
            )
        rate = len(dataset.images) / emb.seconds if emb.seconds > 0 else None
        runs.append({"workers": workers, "images": len(dataset.images), "seconds": emb.seconds,
                     "images_per_second": rate})  # fmt: skip
    return {"pack": engine.pack_id, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    scoring = sub.add_parser("scoring", help="all-pairs impostor scoring at scale")
    scoring.add_argument("--embeddings", type=int, default=100_000)
    scoring.add_argument("--noise", type=float, default=0.05)
    scoring.add_argument("--seed", type=int, default=0)
    ident = sub.add_parser("identify", help="1:N search of a synthetic gallery at scale")
    ident.add_argument("--gallery", type=int, default=1_000_000)
    ident.add_argument("--index", choices=("pq", "hnsw", "ivf"), default="pq")
    ident.add_argument("--probes", type=int, default=1000)
    ident.add_argument("--candidates", type=int, nargs="+", default=None,
                       help="rows the index proposes for the exact re-rank, one run each "
                       "(default: the index's own)")  # fmt: skip
    ident.add_argument("--noise", type=float, default=0.05)
    ident.add_argument("--seed", type=int, default=0)
    ident.add_argument("--build-threads", type=int, default=2)
    ray = sub.add_parser("ray-throughput", help="Ray embedding throughput per worker count")
    ray.add_argument("--images", type=int, default=200)
    ray.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    for p in (scoring, ident, ray):
        p.add_argument("--dataset", type=Path, default=None)
        p.add_argument("--cache", type=Path, default=None)
        p.add_argument("--pack", default=None)
        p.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    if args.what == "ray-throughput" and args.dataset is None:
        parser.error("ray-throughput needs --dataset")
    run = {"scoring": _scoring, "identify": _identify}.get(args.what, _ray_throughput)
    result = run(args)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
