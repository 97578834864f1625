"""Score-level fusion of several recognisers: the one place its maths lives.

A fusion pack's embedding is its components' embeddings concatenated (so templates are one
vector per face, stored like any other). Each component's distance (Euclidean or 1 - cos)
is z-normalised with that component's impostor mean and standard deviation and the results
are summed with weights: ``sum(w * (d - mean) / sd)``. Lower is more alike, as for every
pack. ``FaceEngine.distances`` (row-wise) and ``FaceEngine.distance_matrix`` (all pairs)
both come here, so the two always agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gate.errors import InputError
from models.manifest import FusionSpec

F64 = npt.NDArray[np.float64]


def _slices(spec: FusionSpec, width: int) -> list[slice]:
    total = sum(c.size for c in spec.components)
    if width != total:
        raise InputError(f"fused embeddings have {total} values, got {width}")
    out, start = [], 0
    for component in spec.components:
        out.append(slice(start, start + component.size))
        start += component.size
    return out


def rowwise(metric: str, left: F64, right: F64) -> F64:
    """Distances between matching rows (either side may be a single row)."""
    left, right = np.broadcast_arrays(left, right)
    if metric == "cosine":
        dot = np.einsum("ij,ij->i", left, right)
        norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
        cosine: F64 = 1.0 - dot / np.maximum(norms, 1e-12)
        return cosine
    euclidean: F64 = np.linalg.norm(left - right, axis=1)
    return euclidean


def pairwise(metric: str, left: F64, right: F64) -> F64:
    """All distances (n, m) by matrix products."""
    dot = left @ right.T
    if metric == "cosine":
        norms = np.outer(np.linalg.norm(left, axis=1), np.linalg.norm(right, axis=1))
        cosine: F64 = 1.0 - dot / np.maximum(norms, 1e-12)
        return cosine
    squared = np.einsum("ij,ij->i", left, left)[:, None] + np.einsum("ij,ij->i", right, right)
    squared -= 2.0 * dot
    euclidean: F64 = np.sqrt(np.maximum(squared, 0.0))
    return euclidean


def component_distances(
    spec: FusionSpec, left: F64, right: F64, *, all_pairs: bool = False
) -> dict[str, F64]:
    """Each component's raw distance, row-wise ((n,)) or for all pairs ((n, m))."""
    parts = zip(spec.components, _slices(spec, left.shape[-1]), strict=True)
    if right.shape[-1] != left.shape[-1]:
        raise InputError(f"cannot compare {left.shape[-1]}- and {right.shape[-1]}-value vectors")
    measure = pairwise if all_pairs else rowwise
    return {c.name: measure(c.distance, left[:, cut], right[:, cut]) for c, cut in parts}


def fuse(spec: FusionSpec, parts: dict[str, F64]) -> F64:
    """The weighted sum of the z-normalised component distances."""
    total: F64 | None = None
    for c in spec.components:
        term = c.weight * (parts[c.name] - c.impostor_mean) / c.impostor_sd
        total = term if total is None else total + term
    assert total is not None  # the manifest parser refuses a spec without components
    return total


def fused_distances(spec: FusionSpec, left: F64, right: F64, *, all_pairs: bool = False) -> F64:
    return fuse(spec, component_distances(spec, left, right, all_pairs=all_pairs))
