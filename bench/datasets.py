"""Verification datasets: unique images plus the pairs a protocol lists.

The values every format reader builds (``ImageRef``, ``Dataset``, ``DatasetBuilder``) and
what the harness does with any dataset (impostor expansion, ``subset``); the readers and
``load_dataset``, which picks one from the path, are ``bench.dataset_formats``, above this
module. Each image is listed once, so a harness embeds it once. Where the people are known,
each image carries an identity code so impostor pairs can be expanded across identities
(``cross_identity_pairs``) without a Python loop per pair.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gate.errors import ImageError, InputError
from gate.images import decode_image, load_image
from gate.types import ImageBGR

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Pairs per chunk when expanding impostors: bounds memory at ~2 x 8 bytes x this.
CHUNK_PAIRS = 1_000_000


@dataclass(frozen=True)
class ImageRef:
    """One unique image of a dataset: a file, or encoded bytes (``.bin`` datasets)."""

    key: str
    path: Path | None = None
    data: bytes | None = None

    def load(self) -> ImageBGR:
        """Decode to BGR uint8; an unusable image raises ``ImageError`` (it failed to acquire)."""
        if self.path is not None:
            return load_image(self.path)
        if self.data is not None:
            return decode_image(self.data, self.key)
        raise ImageError(f"{self.key}: dataset image has neither a path nor bytes")


@dataclass(frozen=True)
class Dataset:
    """Unique images, the listed pairs (indices into ``images``) and, if known, identities."""

    source: Path
    format: str
    images: tuple[ImageRef, ...]
    left: IntArray
    right: IntArray
    same: BoolArray
    identity_codes: IntArray | None  # one code per image; None when people are unknown
    identity_note: str = ""  # why identities are unknown, when they are

    @property
    def pair_count(self) -> int:
        return int(self.same.size)

    @property
    def identity_count(self) -> int:
        return 0 if self.identity_codes is None else int(np.unique(self.identity_codes).size)

    def describe(self) -> dict[str, object]:
        return {
            "source": str(self.source),
            "format": self.format,
            "images": len(self.images),
            "pairs": self.pair_count,
            "genuine_pairs": int(np.count_nonzero(self.same)),
            "impostor_pairs": int(np.count_nonzero(~self.same)),
            "identities": self.identity_count if self.identity_codes is not None else None,
        }


class DatasetBuilder:
    """Collects unique images and pairs in order of first appearance."""

    def __init__(self) -> None:
        self.images: list[ImageRef] = []
        self.identities: list[str] = []
        self._index: dict[str, int] = {}
        self.left: list[int] = []
        self.right: list[int] = []
        self.same: list[bool] = []

    def image(self, ref: ImageRef, identity: str = "") -> int:
        found = self._index.get(ref.key)
        if found is None:
            found = len(self.images)
            self._index[ref.key] = found
            self.images.append(ref)
            self.identities.append(identity)
        return found

    def pair(self, left: int, right: int, same: bool) -> None:
        self.left.append(left)
        self.right.append(right)
        self.same.append(same)

    def build(self, source: Path, fmt: str, identities_known: bool, note: str = "") -> Dataset:
        if not self.same:
            raise InputError(f"{source}: the dataset lists no pairs")
        codes: IntArray | None = None
        if identities_known:
            _, inverse = np.unique(np.asarray(self.identities, dtype=object), return_inverse=True)
            codes = inverse.astype(np.int64)
        return Dataset(
            source=source,
            format=fmt,
            images=tuple(self.images),
            left=np.asarray(self.left, dtype=np.int64),
            right=np.asarray(self.right, dtype=np.int64),
            same=np.asarray(self.same, dtype=np.bool_),
            identity_codes=codes,
            identity_note=note,
        )


def _groups(codes: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Images sorted by identity: the order, and per sorted position its group start/end."""
    order = np.argsort(codes, kind="stable").astype(np.int64)
    sorted_codes = codes[order]
    n = sorted_codes.size
    boundaries = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate(([0], boundaries)).astype(np.int64)
    ends = np.concatenate((boundaries, [n])).astype(np.int64)
    sizes = ends - starts
    return order, np.repeat(starts, sizes), np.repeat(ends, sizes)


def same_identity_pairs(codes: IntArray) -> tuple[IntArray, IntArray]:
    """Every unordered pair of two images of the same identity (image indices)."""
    order, _, group_end = _groups(np.asarray(codes, dtype=np.int64))
    positions = np.arange(order.size, dtype=np.int64)
    counts = group_end - positions - 1  # partners after p inside its group
    left_pos = np.repeat(positions, counts)
    offsets = np.arange(left_pos.size, dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    right_pos = left_pos + 1 + offsets
    return order[left_pos], order[right_pos]


def count_cross_identity_pairs(codes: IntArray) -> int:
    """How many unordered image pairs have different identities."""
    _, counts = np.unique(np.asarray(codes), return_counts=True)
    n = int(counts.sum())
    return n * (n - 1) // 2 - int((counts * (counts - 1) // 2).sum())


def cross_identity_pairs(
    codes: IntArray, wanted: int | str = "all", seed: int = 0, chunk: int = CHUNK_PAIRS
) -> Iterator[tuple[IntArray, IntArray]]:
    """Impostor pairs across identities, in chunks of image-index arrays.

    ``wanted="all"`` enumerates every cross-identity pair once; an integer draws that many
    distinct pairs without replacement with ``numpy.random.default_rng(seed)`` (all of them
    when fewer exist). Pairs are addressed by a linear index over "p before q, q outside p's
    identity" in identity-sorted order, so no pair is ever rejected or looped over.
    """
    codes = np.asarray(codes, dtype=np.int64)
    order, _, group_end = _groups(codes)
    n = order.size
    counts = n - group_end  # partners of sorted position p: positions group_end[p]..n-1
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1]) if n else 0
    first_index = cumulative - counts
    if total == 0:
        return
    if wanted == "all" or int(wanted) >= total:
        for start in range(0, total, chunk):
            linear = np.arange(start, min(total, start + chunk), dtype=np.int64)
            yield _pairs_from_linear(linear, cumulative, first_index, group_end, order)
        return
    if int(wanted) <= 0:
        return
    rng = np.random.default_rng(seed)
    linear = np.sort(rng.choice(total, size=int(wanted), replace=False)).astype(np.int64)
    for start in range(0, linear.size, chunk):
        part = linear[start : start + chunk]
        yield _pairs_from_linear(part, cumulative, first_index, group_end, order)


def _pairs_from_linear(
    linear: IntArray,
    cumulative: IntArray,
    first_index: IntArray,
    group_end: IntArray,
    order: IntArray,
) -> tuple[IntArray, IntArray]:
    left_pos = np.searchsorted(cumulative, linear, side="right").astype(np.int64)
    right_pos = group_end[left_pos] + (linear - first_index[left_pos])
    return order[left_pos], order[right_pos]


def subset(dataset: Dataset, pairs: int) -> Dataset:
    """A smaller dataset: ``pairs`` listed pairs spread evenly over the list (quick runs).

    Only the images those pairs use are kept; identities carry over.
    """
    if pairs <= 0:
        raise InputError(f"a subset needs at least one pair, got {pairs}")
    if pairs >= dataset.pair_count:
        return dataset
    chosen = np.unique(np.linspace(0, dataset.pair_count - 1, pairs).round().astype(np.int64))
    left, right = dataset.left[chosen], dataset.right[chosen]
    used, inverse = np.unique(np.concatenate((left, right)), return_inverse=True)
    return Dataset(
        source=dataset.source,
        format=dataset.format,
        images=tuple(dataset.images[i] for i in used.tolist()),
        left=inverse[: left.size].astype(np.int64),
        right=inverse[left.size :].astype(np.int64),
        same=dataset.same[chosen],
        identity_codes=None if dataset.identity_codes is None else dataset.identity_codes[used],
        identity_note=dataset.identity_note,
    )
