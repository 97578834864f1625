"""1:N search of a gallery of templates with the pack's own distance.

The exact distance is the one the 1:1 matcher uses: ``models.fusion`` (the fusion's weighted
sum of z-normalised component distances; plain Euclidean or 1 - cos for a single-model pack),
so a gallery entry is a hit exactly when ``FaceEngine.distance`` would call the pair a match.

A small gallery (under ``ANN_MIN`` templates) is searched exactly: one matrix product. A large
one has a faiss index over ``ann_space`` vectors, whose squared L2 distance follows the pack's
distance (exactly for cosine parts, by the tangent at a stranger's nearest distance for
Euclidean parts); the index only proposes candidate rows per probe, which are then re-ranked
with the exact distance. The index can therefore only miss an entry, never invent one or move
a distance, and the candidate count is set far above the number that can lie under the
operating threshold (tests compare the two searches at the threshold).

The default index (``pq``) scans every entry's 4-bit product-quantizer code (two dimensions a
code, faiss's SIMD "fast scan": 128 bytes an entry for the 256-value fusion) and proposes
``PQ_CANDIDATES`` rows. Measured on synthetic galleries up to a million
(``python -m bench.scale identify``, docs/watchlist.md), this finds the exact nearest entry of
mated *and* non-mated probes where HNSW (recall 0.74 for strangers at 100,000) and IVF (a
mated probe missed once in twenty at 32 lists probed) did not: the replicated templates fill
the space too evenly for IVF's lists, and HNSW's greedy walk loses a stranger's nearest entry
among thousands at nearly the same distance. A scan has no such failure; it is kept cheap by
the code size. ``hnsw`` and ``ivf`` remain for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import ConfigError, InputError
from models import fusion
from models.manifest import PackManifest
from models.pack import load_manifest

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

ANN_MIN = 20_000  # smaller galleries are searched exactly (a few ms)
CANDIDATES = 256  # rows an HNSW or IVF index proposes per probe for the exact re-rank
PQ_CANDIDATES = 1024  # rows the PQ scan proposes (its codes are coarse; the re-rank is exact)
INDEX_KINDS = ("pq", "hnsw", "ivf")
DEFAULT_INDEX = "pq"
CHUNK = 65_536  # rows turned into ``ann_space`` vectors at a time while an index is built
PQ_MIN_ROWS = 1_000  # a smaller "pq" index is a flat scan of the float vectors
TRAIN_ROWS = 65_536  # a PQ's or IVF's training sample
HNSW_LINKS = 32
EF_CONSTRUCTION = 80
IVF_PROBES = 32
FAISS_MISSING = "1:N search of a large gallery needs faiss-cpu (pip install 'egate[watch]')"


_threads: list[int] = []  # the faiss thread count once set


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ConfigError(FAISS_MISSING) from exc
    if not _threads:
        faiss.omp_set_num_threads(1)
        _threads[:] = [1]
    return faiss


def set_threads(count: int) -> None:
    """faiss's OpenMP threads for builds and searches (default 1: a lane searches one probe
    at a time, and on a small busy machine more threads only spin against each other)."""
    _faiss().omp_set_num_threads(max(1, count))
    _threads[:] = [count]


def manifest_of(pack: str | PackManifest) -> PackManifest:
    return pack if isinstance(pack, PackManifest) else load_manifest(pack)


def exact_distances(pack: str | PackManifest, probes: npt.ArrayLike, gallery: npt.ArrayLike) -> F64:
    """All (probes, gallery) distances with the pack's 1:1 distance."""
    manifest = manifest_of(pack)
    left = np.atleast_2d(np.asarray(probes, dtype=np.float64))
    right = np.atleast_2d(np.asarray(gallery, dtype=np.float64))
    size = manifest.embedding_size
    if left.shape[-1] != size or right.shape[-1] != size:
        raise InputError(f"templates of {left.shape[-1]} values; pack {manifest.id} has {size}")
    if manifest.fusion is not None:
        exact = fusion.fused_distances(manifest.fusion, left, right, all_pairs=True)
    else:
        exact = fusion.pairwise(manifest.distance, left, right)
    # rounded once to float32, as ``FaceEngine.distances`` rounds what it compares
    rounded: F64 = exact.astype(np.float32).astype(np.float64)
    return rounded


def _unit(x: F64) -> F64:
    norms: F64 = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x / norms


def ann_space(pack: str | PackManifest, templates: npt.ArrayLike) -> F32:
    """Vectors whose squared L2 distance orders pairs like the pack's distance (for the
    index's candidate step only)."""
    manifest = manifest_of(pack)
    x = np.atleast_2d(np.asarray(templates, dtype=np.float64))
    spec = manifest.fusion
    if spec is None:
        out = _unit(x) if manifest.distance == "cosine" else x
        return np.ascontiguousarray(out, dtype=np.float32)
    parts, start = [], 0
    for c in spec.components:
        part = x[:, start : start + c.size]
        start += c.size
        if c.distance == "cosine":  # |u - v|^2 / 2 = 1 - cos: exact
            parts.append(_unit(part) * np.sqrt(c.weight / (2.0 * c.impostor_sd)))
        else:  # d ~ d^2 / (2 d0) + d0 / 2 near d0, a typical distance of a close pair
            d0 = 0.85 * c.impostor_mean
            parts.append(part * np.sqrt(c.weight / (2.0 * d0 * c.impostor_sd)))
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def build_index(vectors: F32, *, kind: str = DEFAULT_INDEX,
                ef_construction: int = EF_CONSTRUCTION) -> Any:  # fmt: skip
    """An index over ``ann_space`` vectors: a 4-bit PQ scanned whole (``pq``, the default),
    HNSW, or IVF-Flat (``ivf``: about 4 sqrt(N) lists, trained on a sample)."""
    index = empty_index(kind, int(np.shape(vectors)[1]), len(vectors), ef_construction)
    if not index.is_trained:
        index.train(_sample(np.ascontiguousarray(vectors, dtype=np.float32), index))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_gallery(pack: str | PackManifest, templates: npt.ArrayLike, *,
                  kind: str = DEFAULT_INDEX) -> Any:  # fmt: skip
    """An index of a gallery's templates, their ``ann_space`` vectors made ``CHUNK`` rows at
    a time (a million 256-value templates never have a second float copy in memory)."""
    manifest = manifest_of(pack)
    rows = np.asarray(templates, dtype=np.float32)
    index = empty_index(kind, manifest.embedding_size, len(rows))
    if not index.is_trained:
        index.train(ann_space(manifest, _sample(rows, index)))
    for start in range(0, len(rows), CHUNK):
        index.add(ann_space(manifest, rows[start : start + CHUNK]))
    return index


def empty_index(kind: str, dim: int, rows: int, ef_construction: int = EF_CONSTRUCTION) -> Any:
    faiss = _faiss()
    if kind == "pq" and rows < PQ_MIN_ROWS:  # too few to train on: a flat scan (exact)
        return faiss.IndexFlatL2(dim)
    if kind == "pq":  # two dimensions a 4-bit code: 16 centroids each
        return faiss.IndexPQFastScan(dim, dim // 2 if dim % 2 == 0 else dim, 4)
    if kind == "ivf":
        lists = max(1, int(4 * np.sqrt(rows)))
        return faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, lists)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_LINKS)
        index.hnsw.efConstruction = ef_construction
        return index
    raise InputError(f"unknown index kind {kind!r} ({', '.join(INDEX_KINDS)})")


def _sample(rows: F32, index: Any) -> F32:
    """A sorted random sample of ``rows`` to train ``index`` on (64 rows a list for IVF)."""
    wanted = 64 * int(index.nlist) if hasattr(index, "nlist") else TRAIN_ROWS
    if len(rows) <= wanted:
        return rows
    pick = np.random.default_rng(0).permutation(len(rows))[:wanted]
    return np.ascontiguousarray(rows[np.sort(pick)])


def kind_of(index: Any) -> str:
    """``pq``, ``flat`` (a small ``pq``), ``hnsw`` or ``ivf``: what ``empty_index`` made."""
    if hasattr(index, "hnsw"):
        return "hnsw"
    if hasattr(index, "nprobe"):
        return "ivf"
    return "pq" if hasattr(index, "pq") else "flat"


def index_to_bytes(index: Any) -> bytes:
    return bytes(_faiss().serialize_index(index).tobytes())


def index_from_bytes(data: bytes) -> Any:
    faiss = _faiss()
    try:
        return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8).copy())
    except RuntimeError as exc:
        raise InputError("watch index: not a faiss index") from exc


@dataclass(frozen=True)
class Hit:
    row: int
    distance: float


class Gallery:
    """Templates of one pack, searchable 1:N (exactly, or through ``index``)."""

    def __init__(
        self,
        pack: str | PackManifest,
        templates: npt.ArrayLike,
        index: Any = None,
        *,
        candidates: int | None = None,
    ) -> None:
        self.manifest = manifest_of(pack)
        self.templates = np.atleast_2d(np.asarray(templates, dtype=np.float32))
        if self.templates.size == 0:
            self.templates = np.zeros((0, self.manifest.embedding_size), dtype=np.float32)
        if self.templates.shape[1] != self.manifest.embedding_size:
            raise InputError(
                f"gallery templates of {self.templates.shape[1]} values; pack "
                f"{self.manifest.id} has {self.manifest.embedding_size}"
            )
        if index is not None and int(index.ntotal) != len(self.templates):
            raise InputError(f"watch index of {index.ntotal} rows for {len(self)} templates")
        self.index = index
        if candidates is None:
            scan = index is not None and kind_of(index) in ("pq", "flat")
            candidates = PQ_CANDIDATES if scan else CANDIDATES
        self.candidates = candidates

    def __len__(self) -> int:
        return int(self.templates.shape[0])

    def with_index(self, kind: str = DEFAULT_INDEX) -> Gallery:
        """The same gallery with an index built now."""
        return Gallery(
            self.manifest, self.templates, index_gallery(self.manifest, self.templates, kind=kind)
        )

    def _rerank(self, probe: F64, rows: npt.NDArray[np.int64], k: int) -> list[Hit]:
        rows = rows[rows >= 0]
        if rows.size == 0:
            return []
        distances = exact_distances(self.manifest, probe, self.templates[rows])[0]
        order = np.lexsort((rows, distances))[:k]
        return [Hit(int(rows[i]), float(distances[i])) for i in order]

    def search(self, probes: npt.ArrayLike, k: int = 1) -> list[list[Hit]]:
        """The ``k`` nearest entries of each probe, nearest first (ties by row)."""
        queries = np.atleast_2d(np.asarray(probes, dtype=np.float64))
        if len(self) == 0:
            return [[] for _ in queries]
        k = min(k, len(self))
        if self.index is None:
            matrix = exact_distances(self.manifest, queries, self.templates)
            out = []
            for row in matrix:
                near = np.argpartition(row, k - 1)[:k] if k < row.size else np.arange(row.size)
                order = np.lexsort((near, row[near]))
                out.append([Hit(int(near[i]), float(row[near[i]])) for i in order])
            return out
        wanted = min(len(self), max(self.candidates, k))
        kind = kind_of(self.index)
        if kind == "hnsw":
            self.index.hnsw.efSearch = max(wanted, 64)
        elif kind == "ivf":  # the probed share of the lists
            self.index.nprobe = min(int(self.index.nlist), IVF_PROBES)
        _, rows = self.index.search(ann_space(self.manifest, queries), wanted)
        return [
            self._rerank(q[None, :], r.astype(np.int64), k)
            for q, r in zip(queries, rows, strict=True)
        ]

    def within(self, probes: npt.ArrayLike, threshold: float) -> Hit | None:
        """The nearest entry to any probe when it is at or under ``threshold``."""
        best = [hits[0] for hits in self.search(probes, 1) if hits]
        nearest = min(best, key=lambda h: (h.distance, h.row), default=None)
        return nearest if nearest is not None and nearest.distance <= threshold else None
