"""Synthetic templates at scale that keep a pack's real distance distributions, and the check
that they do before a scale bench prints a figure.

A copy of the base (real) templates is the same images under new identities: each identity's
centre moved by a random rotation that keeps the Gaussian between/within-identity model of
the base (``Copier``), each image's own deviation from its centre kept. At 100,000 templates
from 2,267 real ones, 97.7 % of the impostor pairs join two *different* copies, so those
pairs decide every scale figure. The old copies (each model's block rotated about its mean at
random) made such pairs as unlike as random directions: at the real thresholds their FMR was
4e-4 for 1e-2, 1e-6 for 1e-3 and 0 for 1e-4. The old check did not see it because half of
the pairs it looked at lay within one copy, exact replicas of real pairs; the scoring bench's
FMR 1e-3 threshold fell where the real FMR is about 4e-2, and its TAR came out 0.52 points
above ``bench accuracy``'s.

``check_synthetic`` compares, at each FMR both sets can measure (rule of three), the FMR and
TAR the synthetic set gives at the real set's threshold, with the impostor pairs of two
different copies (what dominates at scale); it refuses (``InputError``) when the FMR is off
by more than ``FMR_FACTOR`` either way or the TAR by more than ``TAR_POINTS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import metrics
from gate.errors import InputError

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
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


GROUP = 8  # whitened dimensions turned together (neighbours in between/within ratio)


@dataclass(frozen=True)
class Copier:
    """Makes copies of a base set under new identities (``copy``).

    Fitted on the base (``copier``): cosine parts unit-normalised (their distance ignores
    the norm), each identity's centre, and a basis ``V`` in which the within-identity spread
    is white and the between-identity spread diagonal (``V^T Sw V = I``, ``V^T Sb V``
    ascending). A copy turns every *centre* by one random rotation of each ``GROUP``
    neighbouring dimensions of that basis (dimensions of nearly one ratio: the Gaussian
    between/within model is kept) and adds each image's own deviation from its centre
    unchanged, so a copy's genuine pairs are the real ones (exactly, for Euclidean parts)
    and two copies' people are as far apart as real strangers, the two models' distances as
    correlated as in the real set.
    """

    base: F64
    centres: F64
    inverse_codes: I64
    mean: F64
    basis: F64
    unbasis: F64
    noise: float

    def copy(self, rng: np.random.Generator) -> F32:
        dim = self.basis.shape[0]
        turn = np.zeros((dim, dim))
        for start in range(0, dim, GROUP):
            size = min(GROUP, dim - start)
            q, _ = np.linalg.qr(rng.standard_normal((size, size)))
            turn[start : start + size, start : start + size] = q
        moved = ((self.centres - self.mean) @ self.basis @ turn) @ self.unbasis + self.mean
        out = moved[self.inverse_codes] + (self.base - self.centres[self.inverse_codes])
        if self.noise:
            spread = self.base.std(axis=0)
            out += rng.standard_normal(out.shape) * spread * self.noise
        return out.astype(np.float32)


def unit_cosine_parts(manifest: Any, vectors: npt.ArrayLike) -> F64:
    """``vectors`` with each cosine part scaled to unit length (its distance unchanged)."""
    out = np.array(vectors, dtype=np.float64)
    spec = getattr(manifest, "fusion", None)
    parts = (
        [(c.size, c.distance) for c in spec.components]
        if spec is not None
        else [(out.shape[1], manifest.distance)]
    )
    start = 0
    for size, distance in parts:
        if distance == "cosine":
            part = out[:, start : start + size]
            part /= np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-12)
        start += size
    return out


def copier(manifest: Any, base: npt.ArrayLike, codes: npt.ArrayLike, noise: float = 0.0) -> Copier:
    """Fit the copies' model on the base set (see ``Copier``)."""
    x = unit_cosine_parts(manifest, base)
    ids = np.asarray(codes, dtype=np.int64)
    if x.shape[0] == 0:
        raise InputError("no base embeddings to replicate")
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    centres = np.zeros((counts.size, x.shape[1]))
    np.add.at(centres, inverse, x)
    centres /= counts[:, None]
    deviations = (x - centres[inverse])[counts[inverse] > 1]
    dim = x.shape[1]
    ridge = np.eye(dim) * 1e-3 * max(float(np.mean(np.var(x, axis=0))), 1e-12)
    within = (deviations.T @ deviations) / max(len(deviations) - 1, 1) + ridge
    between = np.cov(centres.T) + ridge if counts.size > 1 else ridge
    lower_inv = np.linalg.inv(np.linalg.cholesky(within))
    _, eigvecs = np.linalg.eigh(lower_inv @ between @ lower_inv.T)
    basis = lower_inv.T @ eigvecs  # basis.T @ within @ basis = I
    return Copier(x, centres, inverse, x.mean(axis=0), basis, np.linalg.inv(basis), noise)


def replicate_copies(
    made: Copier, codes: npt.ArrayLike, total: int, seed: int = 0
) -> tuple[F32, I64]:
    """``total`` rows: the base set (cosine parts unit length), then copies of it under new
    identities."""
    ids = np.asarray(codes, dtype=np.int64)
    rng = np.random.default_rng(seed)
    step = int(ids.max()) + 1
    parts, part_codes = [made.base.astype(np.float32)], [ids]
    for copy in range(1, -(-total // len(ids))):
        parts.append(made.copy(rng))
        part_codes.append(ids + copy * step)
    return np.concatenate(parts)[:total], np.concatenate(part_codes)[:total]


def _pairs(codes: I64) -> tuple[I64, I64]:
    order = np.argsort(codes, kind="stable")
    same = np.flatnonzero(codes[order][1:] == codes[order][:-1])
    return order[same], order[same + 1]


def cross_copy_distances(
    distance_matrix: Any, distances: Any, made: Copier, codes: I64, seed: int = 1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Two fresh copies: the first's genuine distances, and every pair across the two (all
    impostors: each copy's people are new identities)."""
    rng = np.random.default_rng(seed)
    first, second = made.copy(rng), made.copy(rng)
    left, right = _pairs(codes)
    genuine = np.asarray(distances(first[left], first[right]), dtype=np.float64)
    return genuine, np.asarray(distance_matrix(first, second), dtype=np.float64).ravel()


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
