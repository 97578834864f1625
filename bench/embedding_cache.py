"""Embeddings of a dataset as shards on disk, keyed by the pack's hash (benchmarks only).

A dataset's image list is cut into shards of ``SHARD_IMAGES`` images in list order. Each
shard is one ``.npz`` (float32 vectors, acquired flags, failure reasons) under
``<cache>/<pack hash>/``, named by a hash of its image keys and the embedding options, so a
re-run (or another dataset sharing the same images in the same shard) skips finished shards,
and a changed pack file or option never reuses stale vectors. Recalibrating thresholds does
not change the hash: thresholds do not change embeddings.

Templates on disk: this is a benchmark cache on the evaluator's own data, never written by
the gate at run time. Folders are created 0700 and files 0600, written to a temporary name
and renamed, so a killed run leaves no half shard. An unreadable shard is embedded again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import InputError

log = logging.getLogger(__name__)

SHARD_IMAGES = 256
MAX_SHARD_BYTES = 64 << 20


def pack_hash(manifest: Any) -> str:
    """What decides a pack's embeddings: its files' hashes, input spec and embedding size."""
    files = getattr(manifest, "files", {})
    described = {
        "id": getattr(manifest, "id", str(manifest)),
        "kind": getattr(manifest, "kind", ""),
        "embedding_size": getattr(manifest, "embedding_size", 0),
        "input": repr(getattr(manifest, "input", "")),
        "files": sorted(
            (role, getattr(entry, "sha256", str(entry))) for role, entry in dict(files).items()
        ),
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "egate" / "embeddings"


@dataclass(frozen=True)
class Shard:
    """One shard of a dataset's image list: rows ``start:stop`` and its file name."""

    start: int
    stop: int
    name: str


def shards(keys: Sequence[str], options: dict[str, Any], size: int = SHARD_IMAGES) -> list[Shard]:
    out = []
    for start in range(0, len(keys), size):
        stop = min(len(keys), start + size)
        digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
        for key in keys[start:stop]:
            digest.update(key.encode("utf-8", "surrogateescape") + b"\0")
        out.append(Shard(start, stop, f"shard-{digest.hexdigest()[:24]}.npz"))
    return out


@dataclass(frozen=True)
class ShardData:
    vectors: npt.NDArray[np.float32]
    acquired: npt.NDArray[np.bool_]
    reasons: tuple[str, ...]  # "" where acquired


class ShardStore:
    """The shards of one pack under ``<root>/<pack hash>/``."""

    def __init__(self, root: Path, pack_key: str) -> None:
        self.folder = root / pack_key

    def path(self, shard: Shard) -> Path:
        return self.folder / shard.name

    def load(self, shard: Shard) -> ShardData | None:
        """The shard's data, or None when missing or unusable (it is then embedded again)."""
        path = self.path(shard)
        if not path.is_file():
            return None
        try:
            if path.stat().st_size > MAX_SHARD_BYTES:
                raise ValueError("too large")
            with np.load(path, allow_pickle=False) as data:
                vectors = np.asarray(data["vectors"], dtype=np.float32)
                acquired = np.asarray(data["acquired"], dtype=np.bool_)
                reasons = tuple(str(r) for r in data["reasons"].tolist())
        except (OSError, ValueError, KeyError) as exc:
            log.warning("embedding shard %s unusable (%s); embedding it again", path.name, exc)
            return None
        rows = shard.stop - shard.start
        if vectors.ndim != 2 or vectors.shape[0] != rows or acquired.shape != (rows,):
            log.warning("embedding shard %s has the wrong shape; embedding it again", path.name)
            return None
        return ShardData(vectors, acquired, reasons if len(reasons) == rows else ("",) * rows)

    def save(self, shard: Shard, data: ShardData) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            buffer = io.BytesIO()
            np.savez(
                buffer,
                vectors=data.vectors.astype(np.float32),
                acquired=data.acquired.astype(np.bool_),
                reasons=np.asarray(data.reasons, dtype=str),
            )
            final = self.path(shard)
            temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as stream:
                stream.write(buffer.getvalue())
            os.replace(temporary, final)
        except OSError as exc:
            raise InputError(
                f"{self.folder}: cannot write an embedding shard ({exc.strerror or exc})"
            ) from exc


def embed_cached(
    engine: Any, dataset: Any, options: Any, cache_root: Path, progress: bool = False
) -> Any:
    """``accuracy.embed_images`` in this process, shard by shard through the cache."""
    import time
    from dataclasses import replace

    from bench.accuracy import embed_images, stack_embeddings

    store = ShardStore(cache_root, pack_hash(getattr(engine, "manifest", engine.pack_id)))
    keys = [ref.key for ref in dataset.images]
    vectors: list[npt.NDArray[np.float32] | None] = []
    reasons: list[str] = []
    embedded = 0
    started = time.perf_counter()
    for shard in shards(keys, options.describe()):
        data = store.load(shard)
        if data is None:
            part = replace(dataset, images=dataset.images[shard.start : shard.stop])
            emb = embed_images(engine, part, progress=progress, options=options)
            embedded += shard.stop - shard.start
            data = ShardData(emb.vectors, emb.acquired, emb.row_reasons)
            store.save(shard, data)
        for row in range(shard.stop - shard.start):
            vectors.append(data.vectors[row] if data.acquired[row] else None)
            reasons.append(data.reasons[row] or "no embedding")
    return stack_embeddings(vectors, reasons, time.perf_counter() - started, embedded)
