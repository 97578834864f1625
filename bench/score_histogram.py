"""Impostor distances too many to hold: fine fixed bins plus the exact lowest distances.

A streaming ``ScoreAccumulator`` takes blocks of impostor distances (lower = more similar)
and keeps two things: a histogram of every finite distance in fine fixed bins (2^20 by
default) and, exactly, every distance below a moving cut, at most ``tail_capacity`` of them.
The invariant is "the tail holds every distance below ``cut``", so any figure whose threshold
lies below the cut (the low-FMR end: FMR 1e-6 of 5e9 comparisons is 5,000 distances) is exact,
and the same as ``bench.metrics`` computes from the full array. Above the cut, counts come
from the bins and are resolved to one bin width; the summary says where exactness ends.

When every distance fits in the tail (``complete``), the figures are ``bench.metrics``'s own,
computed from the array. Memory is O(bins + tail) whatever the number of comparisons.
Accumulators merge (``merge``) so blocks can be scored in several processes; the final tail
is the lowest ``tail_capacity`` distances whatever the order (ties at the cut are dropped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import metrics

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FINE_BINS = 1 << 20
TAIL_CAPACITY = 1_000_000  # 8 MB of float64: exact down to FMR 1e-6 at 1e12 comparisons


def value_range(sample: npt.ArrayLike) -> tuple[float, float]:
    """Bin range from a sample of distances: its span, widened by the span on both sides.

    Distances of a fused pack can be negative, so no fixed range fits every pack; values
    that fall outside still count (under- and overflow slots).
    """
    values = np.asarray(sample, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    span = max(high - low, abs(high), abs(low), 1e-6)
    return low - span, high + span


@dataclass(frozen=True)
class ImpostorScores:
    """The summary of ``total`` impostor distances (see the module docstring)."""

    total: int
    infinite: int  # comparisons with an image that failed to acquire (never match)
    tail: FloatArray  # sorted: every finite distance below ``cut``
    cut: float  # +inf when the tail holds every finite distance
    low: float
    width: float
    slots: IntArray  # [underflow, bin 0 .. bin B-1, overflow] counts of finite distances

    @property
    def size(self) -> int:
        return self.total

    @property
    def complete(self) -> bool:
        return self.cut == math.inf

    @property
    def bins(self) -> int:
        return int(self.slots.size - 2)

    def values(self) -> FloatArray:
        """Every distance, sorted (only when ``complete``)."""
        if not self.complete:
            raise ValueError("the impostor distances were binned; only the lowest are kept")
        return np.concatenate((self.tail, np.full(self.infinite, math.inf)))

    def _slot(self, thresholds: FloatArray) -> IntArray:
        index = np.floor((thresholds - self.low) / self.width)
        clipped = np.clip(np.nan_to_num(index, posinf=self.bins, neginf=-1), -1, self.bins)
        slots: IntArray = (clipped + 1).astype(np.int64)
        return slots

    def count_at_most(self, thresholds: npt.ArrayLike) -> IntArray:
        """How many distances are <= each threshold: exact below ``cut``, else by whole bins
        (a bin counts when the threshold falls in it: at most one bin's worth too many)."""
        t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
        exact = np.searchsorted(self.tail, t, side="right").astype(np.int64)
        if self.complete:
            return np.where(t == math.inf, self.total, exact)
        binned = np.cumsum(self.slots)[self._slot(t)]
        counts = np.where(t < self.cut, exact, np.maximum(binned, self.tail.size))
        return np.where(t == math.inf, self.total, counts).astype(np.int64)

    def value_at_rank(self, rank: int) -> float:
        """The distance of 0-based rank ``rank``: exact in the tail, else its bin's lower edge
        (never below the cut)."""
        if rank < self.tail.size:
            return float(self.tail[rank])
        cumulative = np.cumsum(self.slots)
        if rank >= int(cumulative[-1]):
            return math.inf
        slot = int(np.searchsorted(cumulative, rank, side="right"))
        edge = -math.inf if slot == 0 else self.low + (slot - 1) * self.width
        return max(edge, self.cut)

    def histogram(self, edges: npt.ArrayLike) -> IntArray:
        """Counts of finite distances between ``edges`` (for plots)."""
        e = np.asarray(edges, dtype=np.float64)
        if self.complete:
            return np.histogram(self.tail, bins=e)[0].astype(np.int64)
        centres = self.low + (np.arange(self.bins) + 0.5) * self.width
        return np.histogram(centres, bins=e, weights=self.slots[1:-1])[0].astype(np.int64)

    def describe(self) -> dict[str, Any]:
        return {
            "comparisons": self.total,
            "exact": self.complete,
            "exact_lowest": int(self.tail.size),
            "exact_below": None if self.complete else self.cut,
            "bins": self.bins,
            "bin_width": self.width,
        }


class ScoreAccumulator:
    """Streams blocks of distances into an ``ImpostorScores``."""

    def __init__(
        self,
        low: float,
        high: float,
        bins: int = FINE_BINS,
        tail_capacity: int = TAIL_CAPACITY,
    ) -> None:
        if not high > low or bins < 1 or tail_capacity < 1:
            raise ValueError(f"bad histogram: [{low}, {high}) in {bins} bins, tail {tail_capacity}")
        self.low = float(low)
        self.width = (float(high) - float(low)) / bins
        self.bins = bins
        self.tail_capacity = tail_capacity
        self.slots = np.zeros(bins + 2, dtype=np.int64)
        self.total = 0
        self.infinite = 0
        self.cut = math.inf
        self._pending: list[FloatArray] = []
        self._pending_size = 0

    def add(self, distances: npt.ArrayLike) -> None:
        values = np.asarray(distances).reshape(-1)
        if values.size == 0:
            return
        if not np.issubdtype(values.dtype, np.floating):
            values = values.astype(np.float64)
        self.total += int(values.size)
        if np.isfinite(values).all():  # the usual case: one pass, no copy
            finite = values
        else:
            if np.isnan(values).any():
                raise ValueError("impostor distances contain NaN")
            finite = values[np.isfinite(values)]
            self.infinite += int(values.size - finite.size)
        # Bin index in the values' own precision: one subtract-multiply, one clip, one cast.
        index = np.subtract(finite, finite.dtype.type(self.low))
        np.multiply(index, finite.dtype.type(1.0 / self.width), out=index)
        np.clip(index, -1, self.bins, out=index)
        slots = np.floor(index, out=index).astype(np.int64)
        slots += 1
        self.slots += np.bincount(slots, minlength=self.bins + 2)
        kept = finite[finite < self.cut].astype(np.float64)
        if kept.size:
            self._pending.append(kept)
            self._pending_size += int(kept.size)
            if self._pending_size > 2 * self.tail_capacity:
                self._compact()

    def _compact(self) -> None:
        tail = np.concatenate(self._pending) if self._pending else np.zeros(0)
        if tail.size > self.tail_capacity:
            kth = float(np.partition(tail, self.tail_capacity)[self.tail_capacity])
            self.cut = min(self.cut, kth)
            tail = tail[tail < self.cut]
        self._pending = [tail]
        self._pending_size = int(tail.size)

    def merge(self, other: ScoreAccumulator) -> None:
        """Fold another accumulator (same bins) into this one."""
        if (other.low, other.width, other.bins) != (self.low, self.width, self.bins):
            raise ValueError("cannot merge histograms with different bins")
        self.slots += other.slots
        self.total += other.total
        self.infinite += other.infinite
        self.cut = min(self.cut, other.cut)
        self._pending = [p[p < self.cut] for p in (*self._pending, *other._pending)]
        self._pending_size = sum(int(p.size) for p in self._pending)
        self._compact()

    def finish(self) -> ImpostorScores:
        self._compact()
        tail = np.sort(self._pending[0]) if self._pending else np.zeros(0)
        return ImpostorScores(
            total=self.total,
            infinite=self.infinite,
            tail=tail,
            cut=self.cut,
            low=self.low,
            width=self.width,
            slots=self.slots.copy(),
        )


def from_array(distances: npt.ArrayLike) -> ImpostorScores:
    """Distances few enough to keep: all in the tail (``complete``)."""
    values = metrics.as_distances(distances, "impostor")
    low, high = value_range(values)
    accumulator = ScoreAccumulator(low, high, bins=1024, tail_capacity=max(1, values.size))
    accumulator.add(values)
    return accumulator.finish()
