"""``egate bench accuracy --engine ray``: embedding and impostor scoring on a Ray cluster.

- Ray Data reads the dataset's image list (paths, or the bytes of a ``.bin`` set); only the
  images of shards not yet in the cache are read.
- Embedding runs in a pool of actors (``workers``), each holding one engine (one ONNX
  session set) per pack for its whole life, fed in batches; each picture is decoded once
  for every pack.
- The driver writes each finished shard to the embedding cache keyed by the pack's hash
  (``bench.embedding_cache``), so a re-run, or a run killed half way, embeds only what is
  missing.
- All cross-identity impostors are scored by Ray tasks, each taking row ranges of the same
  blocks the local engine walks (``bench.blocked_scoring``) and returning its accumulator;
  the driver merges them. The figures are therefore the local engine's, to the bit.

Without ``address`` a private local Ray is started (``workers`` CPUs, no dashboard) and
stopped afterwards; ``address="auto"`` joins a running cluster, whose nodes must have egate
installed and see the dataset's files at the same paths.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import optional
from bench.accuracy import (
    Embeddings,
    EmbedOptions,
    Engine,
    ImpostorScorer,
    check_options,
    embed_picture,
    stack_embeddings,
)
from bench.blocked_scoring import ROWS, Plan, plan, row_blocks, score_rows
from bench.datasets import Dataset, ImageRef
from bench.embedding_cache import ShardData, ShardStore, pack_hash, shards
from bench.score_histogram import ImpostorScores, ScoreAccumulator
from gate.errors import GateError, ImageError

BATCH_IMAGES = 32
OBJECT_STORE_BYTES = 128 << 20  # a local Ray's shared memory: embeddings are small
REACH_TIMEOUT_S = 5.0  # a cluster's GCS port that does not answer in this long is not there


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise GateError("--engine ray needs Ray: pip install 'egate[ray]'") from exc
    return ray


def _check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Ray retries an unreachable cluster for a minute or more without a word; a
    ``HOST:PORT`` (or ``ray://HOST:PORT``) that does not accept a TCP connection is refused
    here in one line instead. ``auto`` is left to Ray, which fails fast when no local
    cluster is recorded."""
    target = address.removeprefix("ray://")
    host, sep, port_text = target.rpartition(":")
    if not sep or not host:
        return
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise GateError(f"--address {address!r}: the port must be a number from 1 to 65535")
    try:
        with socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise GateError(f"no Ray cluster answers at {address}: {reason}") from exc


@contextmanager
def ray_session(address: str | None, workers: int) -> Iterator[Any]:
    """A connected Ray: a private local one (started and stopped here) or ``address``'s."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    try:
        if address is None:
            ray.init(
                num_cpus=workers,
                object_store_memory=OBJECT_STORE_BYTES,
                include_dashboard=False,
                **common,
            )
        else:
            _check_reachable(address)
            ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "a local Ray" if address is None else f"the Ray cluster at {address}"
        raise GateError(f"cannot start {where}: {exc}") from exc
    try:
        # Ray's driver prints what its raylet reports (a worker that died and was restarted)
        # on stdout, log_to_driver or not: the command's own output there (``--json -``)
        # must stay the report, so anything printed during the session goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            yield ray
    finally:
        ray.shutdown()


@contextmanager
def ray_errors(ray: Any, what: str) -> Iterator[None]:
    """A failure inside Ray (a worker's exception, a lost node) as one line, not a traceback."""
    try:
        yield
    except ray.exceptions.RayError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(exc).__name__
        raise GateError(f"Ray {what} failed: {cause}") from exc


class EmbedActor:
    """Holds one engine per pack; embeds a batch of image-list rows (Ray Data ``map_batches``)."""

    def __init__(self, packs: Sequence[str | None], options: dict[str, Any], threads: int) -> None:
        from models.engine import load_engine

        self.engines = [load_engine(pack, threads=threads) for pack in packs]
        self.options = EmbedOptions(**options)

    def __call__(self, batch: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        rows = np.asarray(batch["row"], dtype=np.int64)
        out: dict[str, Any] = {"row": rows}
        results: list[list[tuple[npt.NDArray[np.float32] | None, str]]] = [[] for _ in self.engines]
        for key, path, data in zip(batch["key"], batch["path"], batch["data"], strict=True):
            ref = ImageRef(str(key), Path(str(path)) if path else None, bytes(data) or None)
            try:
                image = ref.load()
            except ImageError as exc:
                for column in results:
                    column.append((None, type(exc).__name__))
                continue
            for engine, column in zip(self.engines, results, strict=True):
                column.append(embed_picture(engine, image, self.options))
        for index, (engine, column) in enumerate(zip(self.engines, results, strict=True)):
            width = engine.manifest.embedding_size
            vectors = np.zeros((rows.size, width), dtype=np.float32)
            for row, (vector, _) in enumerate(column):
                if vector is not None:
                    vectors[row] = vector
            out[f"vectors_{index}"] = vectors
            out[f"acquired_{index}"] = np.array([v is not None for v, _ in column], np.bool_)
            out[f"reason_{index}"] = np.array([reason for _, reason in column], dtype=object)
        return out


def _image_items(dataset: Dataset, rows: Sequence[int]) -> list[dict[str, Any]]:
    items = []
    for row in rows:
        ref = dataset.images[row]
        path = "" if ref.path is None else str(ref.path.resolve())
        items.append({"row": row, "key": ref.key, "path": path, "data": ref.data or b""})
    return items


def embed_with_ray(
    ray: Any,
    packs: Sequence[str | None],
    engines: Sequence[Engine],
    dataset: Dataset,
    options: EmbedOptions,
    cache_root: Path,
    workers: int,
    progress: bool = False,
    batch_images: int = BATCH_IMAGES,
) -> list[Embeddings]:
    """Every pack's embeddings of every image, from the cache or from the actor pool."""
    check_options(options)
    keys = [ref.key for ref in dataset.images]
    plan_ = shards(keys, options.describe())
    stores = [
        ShardStore(cache_root, pack_hash(getattr(engine, "manifest", engine.pack_id)))
        for engine in engines
    ]
    found: list[dict[int, ShardData]] = [{} for _ in engines]
    for store, cached in zip(stores, found, strict=True):
        for number, shard in enumerate(plan_):
            data = store.load(shard)
            if data is not None:
                cached[number] = data
    pending = [n for n in range(len(plan_)) if any(n not in cached for cached in found)]
    rows = [row for n in pending for row in range(plan_[n].start, plan_[n].stop)]
    started = time.perf_counter()
    if rows:
        with ray_errors(ray, "embedding"):
            _embed_pending(ray, packs, dataset, options, rows, plan_, pending, stores, found,
                           workers, progress, batch_images)  # fmt: skip
    seconds = time.perf_counter() - started
    out = []
    for cached in found:
        vectors: list[npt.NDArray[np.float32] | None] = []
        reasons: list[str] = []
        for number in range(len(plan_)):
            data = cached[number]
            for row in range(data.vectors.shape[0]):
                vectors.append(data.vectors[row] if data.acquired[row] else None)
                reasons.append(data.reasons[row] or "no embedding")
        out.append(stack_embeddings(vectors, reasons, seconds, embedded=len(rows)))
    return out


def _embed_pending(
    ray: Any,
    packs: Sequence[str | None],
    dataset: Dataset,
    options: EmbedOptions,
    rows: list[int],
    plan_: Sequence[Any],
    pending: list[int],
    stores: Sequence[ShardStore],
    found: list[dict[int, ShardData]],
    workers: int,
    progress: bool,
    batch_images: int,
) -> None:
    """Run the actor pool over the pending rows; write each shard as soon as it is whole."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    context.print_on_execution_start = progress
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    items = ray.data.from_items(_image_items(dataset, rows))
    embedded = items.map_batches(
        EmbedActor,
        fn_constructor_kwargs={"packs": list(packs), "options": options.describe(), "threads": 1},
        batch_size=batch_images,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
    )
    shard_of = {row: n for n in pending for row in range(plan_[n].start, plan_[n].stop)}
    waiting: dict[int, dict[int, tuple[list[Any], ...]]] = {n: {} for n in pending}
    batches = embedded.iter_batches(batch_size=None, batch_format="numpy")
    bar = optional.progress(batches, desc="embed (ray)", unit="batch", enabled=progress)
    for batch in bar:
        for position, row in enumerate(np.asarray(batch["row"]).tolist()):
            number = shard_of[row]
            waiting[number][row] = tuple(
                [batch[f"{kind}_{i}"][position] for kind in ("vectors", "acquired", "reason")]
                for i in range(len(stores))
            )
            shard = plan_[number]
            if len(waiting[number]) == shard.stop - shard.start:
                _finish_shard(number, shard, waiting.pop(number), stores, found)


def _finish_shard(
    number: int,
    shard: Any,
    rows: dict[int, tuple[list[Any], ...]],
    stores: Sequence[ShardStore],
    found: list[dict[int, ShardData]],
) -> None:
    ordered = [rows[row] for row in range(shard.start, shard.stop)]
    for index, (store, cached) in enumerate(zip(stores, found, strict=True)):
        data = ShardData(
            vectors=np.stack([entry[index][0] for entry in ordered]).astype(np.float32),
            acquired=np.array([bool(entry[index][1]) for entry in ordered], np.bool_),
            reasons=tuple(str(entry[index][2]) for entry in ordered),
        )
        store.save(shard, data)
        cached[number] = data


def _score_ranges(pack: str | None, plan_: Plan, ranges: list[tuple[int, int]]) -> ScoreAccumulator:
    """One Ray task: the blocks of some row ranges, through the pack's own distance."""
    from models.engine import load_engine

    engine = load_engine(pack, threads=1, verify=False)
    accumulator = plan_.accumulator()
    for start, stop in ranges:
        score_rows(engine.distance_matrix, plan_, start, stop, accumulator)
    return accumulator


def ray_scorer(ray: Any, pack: str | None, tasks: int) -> ImpostorScorer:
    """A scorer for ``accuracy.score_pack`` that spreads the blocks over Ray tasks."""

    def score(
        engine: Engine, vectors: npt.NDArray[np.float32], codes: npt.NDArray[np.int64]
    ) -> ImpostorScores:
        shared = plan(engine.distance_matrix, vectors, codes)
        ranges = row_blocks(shared.rows, max(1, shared.rows // ROWS))  # the local engine's
        remote = ray.remote(num_cpus=1)(_score_ranges)
        plan_ref = ray.put(shared)
        futures = [
            remote.remote(pack, plan_ref, ranges[i :: max(1, tasks)])
            for i in range(min(max(1, tasks), len(ranges)))
        ]
        total = shared.accumulator()
        with ray_errors(ray, "impostor scoring"):
            while futures:
                done, futures = ray.wait(futures, num_returns=1)
                total.merge(ray.get(done[0]))
        return total.finish()

    return score
