"""Synthetic templates at scale that keep a pack's real distance distributions, and the check
that they do before a scale bench prints a figure.

A copy of the base (real) templates is each component's block turned about its mean by its
own random rotation, plus a little Gaussian noise, under new identities. Rotating each block
on its own keeps every within-copy distance of that component (Euclidean exactly, cosine
nearly: the norms about the shared mean are kept), so genuine pairs stay genuine-like for
every component of a fusion; a person and the copy of anyone end up as far apart as two real
strangers. Rotating the whole fused vector at once (the old way) mixed the components and
broke the fused distance (EER 0.93 for ``fusion``).

``check_synthetic`` compares, at each FMR both sets can measure (rule of three), the FMR and
TAR the synthetic set gives at the real set's threshold; it refuses (``InputError``) when the
FMR is off by more than ``FMR_FACTOR`` either way or the TAR by more than ``TAR_POINTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import metrics
from gate.errors import InputError

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
CHECK_FMRS = (1e-2, 1e-3, 1e-4)
FMR_FACTOR = 2.0  # the synthetic FMR at the real threshold within [f / 2, 2 f]
TAR_POINTS = 0.005  # the synthetic TAR at the real threshold within 0.5 points


def blocks_of(manifest: Any) -> list[int]:
    """The sizes of a pack's embedding blocks (its fusion components, or one block)."""
    spec = getattr(manifest, "fusion", None)
    if spec is None:
        return [int(manifest.embedding_size)]
    return [int(c.size) for c in spec.components]


def turned_copy(base: F32, blocks: Sequence[int], noise: float, rng: np.random.Generator) -> F32:
    """One copy: each block rotated about its mean, plus ``noise`` x its spread."""
    out = np.empty_like(base)
    start = 0
    for size in blocks:
        part = base[:, start : start + size]
        mean = part.mean(axis=0, keepdims=True)
        rotation, _ = np.linalg.qr(rng.standard_normal((size, size)))
        turned = (part - mean) @ rotation.astype(np.float32) + mean
        jitter = rng.standard_normal(part.shape).astype(np.float32) * part.std(axis=0) * noise
        out[:, start : start + size] = turned + jitter
        start += size
    return out


def replicate_blocks(
    base: npt.ArrayLike,
    codes: npt.ArrayLike,
    total: int,
    blocks: Sequence[int],
    noise: float = 0.05,
    seed: int = 0,
) -> tuple[F32, I64]:
    """``total`` rows: the base set, then turned copies of it under new identities."""
    vectors = np.asarray(base, dtype=np.float32)
    ids = np.asarray(codes, dtype=np.int64)
    if vectors.shape[0] == 0:
        raise InputError("no base embeddings to replicate")
    if sum(blocks) != vectors.shape[1]:
        raise InputError(f"blocks {list(blocks)} do not add up to {vectors.shape[1]} values")
    rng = np.random.default_rng(seed)
    step = int(ids.max()) + 1
    parts, part_codes = [vectors], [ids]
    for copy in range(1, -(-total // vectors.shape[0])):
        parts.append(turned_copy(vectors, blocks, noise, rng))
        part_codes.append(ids + copy * step)
    return np.concatenate(parts)[:total], np.concatenate(part_codes)[:total]


def _pairs(codes: I64) -> tuple[I64, I64]:
    order = np.argsort(codes, kind="stable")
    same = np.flatnonzero(codes[order][1:] == codes[order][:-1])
    return order[same], order[same + 1]


def distances_of(
    distance_matrix: Any, distances: Any, vectors: F32, codes: I64
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Genuine (consecutive same-identity pairs) and impostor (every cross-identity pair)
    distances of one set."""
    left, right = _pairs(codes)
    genuine = np.asarray(distances(vectors[left], vectors[right]), dtype=np.float64)
    matrix = np.asarray(distance_matrix(vectors, vectors), dtype=np.float64)
    upper = np.triu(codes[:, None] != codes[None, :], k=1)
    return genuine, matrix[upper]


def check_synthetic(
    real: tuple[npt.ArrayLike, npt.ArrayLike],
    synthetic: tuple[npt.ArrayLike, npt.ArrayLike],
    fmrs: Sequence[float] = CHECK_FMRS,
) -> list[dict[str, Any]]:
    """The comparison at each FMR both sets can measure; ``InputError`` naming the first
    FMR where the synthetic set does not reproduce the real one."""
    real_gen, real_imp = (metrics.as_distances(v, "real") for v in real)
    syn_gen, syn_imp = (metrics.as_distances(v, "synthetic") for v in synthetic)
    rows = []
    for fmr in fmrs:
        if min(real_imp.size, syn_imp.size) < metrics.RULE_OF_THREE / fmr:
            continue
        threshold = metrics.threshold_at_fmr(real_imp, fmr)
        row = {
            "fmr": fmr,
            "real_threshold": threshold,
            "real_tar": float(np.mean(real_gen <= threshold)),
            "synthetic_fmr": float(np.mean(syn_imp <= threshold)),
            "synthetic_tar": float(np.mean(syn_gen <= threshold)),
        }
        rows.append(row)
        low, high = fmr / FMR_FACTOR, fmr * FMR_FACTOR
        if (
            not low <= row["synthetic_fmr"] <= high
            or abs(row["synthetic_tar"] - row["real_tar"]) > TAR_POINTS
        ):
            raise InputError(
                f"synthetic templates do not reproduce the real distances at FMR {fmr:g}: "
                f"FMR {row['synthetic_fmr']:.2e} (allowed {low:.1e}..{high:.1e}), TAR "
                f"{row['synthetic_tar']:.4f} vs real {row['real_tar']:.4f} (allowed "
                f"+-{TAR_POINTS}); no figure printed"
            )
    if not rows:
        raise InputError("too few comparisons to check the synthetic templates at any FMR")
    return rows
