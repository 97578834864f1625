"""All cross-identity impostor comparisons in blocks of matrix products.

The embeddings are sorted by identity; the upper triangle of the all-against-all distance
matrix is walked in (rows x columns) blocks, each one call of the engine's
``distance_matrix`` (so a pack's own distance, whatever it is, decides every score). Pairs of
the same identity, and the diagonal, are masked out only in the blocks where identities can
meet (near the diagonal, since the rows are sorted). Each block streams into a
``ScoreAccumulator``, so memory is one block plus the histogram, never n^2.

``row_blocks`` splits the work into independent row ranges (for several processes); each
range is scored by ``score_rows`` and the accumulators merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from bench import optional
from bench.score_histogram import (
    FINE_BINS,
    TAIL_CAPACITY,
    ImpostorScores,
    ScoreAccumulator,
    value_range,
)

DistanceMatrix = Callable[[npt.ArrayLike, npt.ArrayLike], npt.NDArray[np.floating]]
IntArray = npt.NDArray[np.int64]

ROWS = 1024
COLUMNS = 8192
PROBE = 512  # rows whose distances to each other fix the histogram's range


@dataclass(frozen=True)
class Plan:
    """The identity-sorted embeddings and the histogram's range, shared by every worker."""

    vectors: npt.NDArray[np.float32]
    codes: IntArray
    low: float
    high: float
    bins: int = FINE_BINS
    tail_capacity: int = TAIL_CAPACITY

    @property
    def rows(self) -> int:
        return int(self.codes.size)

    def accumulator(self) -> ScoreAccumulator:
        return ScoreAccumulator(self.low, self.high, self.bins, self.tail_capacity)


def plan(
    distance_matrix: DistanceMatrix,
    vectors: npt.ArrayLike,
    codes: npt.ArrayLike,
    bins: int = FINE_BINS,
    tail_capacity: int = TAIL_CAPACITY,
) -> Plan:
    """Sort by identity and fix the bin range from the first rows' mutual distances."""
    matrix = np.asarray(vectors, dtype=np.float32)
    identity = np.asarray(codes, dtype=np.int64).reshape(-1)
    if matrix.ndim != 2 or matrix.shape[0] != identity.size:
        raise ValueError(f"{matrix.shape} embeddings for {identity.size} identity codes")
    order = np.argsort(identity, kind="stable")
    matrix, identity = np.ascontiguousarray(matrix[order]), identity[order]
    probe = matrix[:PROBE]
    low, high = value_range(distance_matrix(probe, probe) if probe.size else np.zeros(0))
    return Plan(matrix, identity, low, high, bins, tail_capacity)


def cross_identity_count(codes: npt.ArrayLike) -> int:
    _, counts = np.unique(np.asarray(codes), return_counts=True)
    n = int(counts.sum())
    return n * (n - 1) // 2 - int((counts * (counts - 1) // 2).sum())


def row_blocks(rows: int, parts: int) -> list[tuple[int, int]]:
    """Row ranges of about equal work (the triangle's rows shrink): ``parts`` of them."""
    if rows == 0:
        return []
    parts = max(1, min(parts, rows))
    # Work above row r is (rows - r); equal areas of the triangle split at sqrt quantiles.
    cuts = [round(rows * (1 - np.sqrt(1 - k / parts))) for k in range(parts + 1)]
    bounds = sorted(set(cuts))
    return [(a, b) for a, b in pairwise(bounds) if b > a]


def score_rows(
    distance_matrix: DistanceMatrix,
    plan_: Plan,
    start: int,
    stop: int,
    accumulator: ScoreAccumulator | None = None,
    rows: int = ROWS,
    columns: int = COLUMNS,
) -> ScoreAccumulator:
    """Every cross-identity pair (p, q) with start <= p < stop and q > p, into one accumulator."""
    acc = accumulator if accumulator is not None else plan_.accumulator()
    vectors, codes, n = plan_.vectors, plan_.codes, plan_.rows
    for r0 in range(start, stop, rows):
        r1 = min(stop, r0 + rows)
        left, left_codes = vectors[r0:r1], codes[r0:r1]
        for c0 in range(r0 + 1, n, columns):
            c1 = min(n, c0 + columns)
            block = np.asarray(distance_matrix(left, vectors[c0:c1]))
            if c0 >= r1 and left_codes[-1] < codes[c0]:
                acc.add(block)  # every row before every column, identities apart
                continue
            keep = left_codes[:, None] != codes[None, c0:c1]
            if c0 < r1:  # the block touches the diagonal: only q > p
                keep &= np.arange(c0, c1)[None, :] > np.arange(r0, r1)[:, None]
            acc.add(block[keep])
    return acc


def score_cross_identity(
    distance_matrix: DistanceMatrix,
    vectors: npt.ArrayLike,
    codes: npt.ArrayLike,
    progress: bool = False,
    tail_capacity: int = TAIL_CAPACITY,
) -> ImpostorScores:
    """Every cross-identity comparison, scored in blocks in this process."""
    plan_ = plan(distance_matrix, vectors, codes, tail_capacity=tail_capacity)
    acc = plan_.accumulator()
    ranges: Iterable[tuple[int, int]] = row_blocks(plan_.rows, max(1, plan_.rows // ROWS))
    for start, stop in optional.progress(
        ranges, desc="impostor blocks", unit="block", enabled=progress
    ):
        score_rows(distance_matrix, plan_, start, stop, acc)
    return acc.finish()
