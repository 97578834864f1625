"""An ISO/IEC 19795-2 style scenario test in simulation: travellers from identity-labelled data.

``egate simulate --dataset PATH`` reads any dataset ``egate bench accuracy`` knows and turns
its pairs into travellers:

- a genuine pair: the passport (chip) photo is one image, the face in the lane the other;
- an impostor pair: a zero-effort impostor (the holder's passport, the other person's face);
- with ``impostors="similar"``, each impostor traveller's face is instead the image, of any
  other identity, most similar to the passport photo by the gate's own pack (a lookalike).

``limit`` travellers are drawn (seeded), genuine and impostor in the dataset's proportion.
Beside the gate's outcomes the report states the matcher-only figures for the very same
pairs (the pack on the original images, at the gate's threshold), so what the gate loses in
capture, quality and liveness shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.accuracy import Embeddings, EmbedOptions, embed_images
from bench.datasets import Dataset, ImageRef
from gate.errors import InputError
from gate.outcome import Decision
from gate.simulate.scenario import Scenario, TravellerSpec

IMPOSTOR_CHOICES = ("listed", "similar")


@dataclass(frozen=True)
class DatasetTravellers:
    """The scenario and, per traveller, the dataset pair it came from."""

    scenario: Scenario
    left: npt.NDArray[np.int64]  # image index of each traveller's passport photo
    right: npt.NDArray[np.int64]  # image index of the face in the lane
    genuine: npt.NDArray[np.bool_]
    pairs: npt.NDArray[np.int64]  # the dataset's pair index (-1: a lookalike impostor)


def select_pairs(dataset: Dataset, limit: int | None, seed: int) -> npt.NDArray[np.int64]:
    """Pair indices: all, or ``limit`` drawn with genuine and impostor in proportion,
    shuffled so the kinds mix across lanes."""
    rng = np.random.default_rng(seed)
    everything = np.arange(dataset.pair_count, dtype=np.int64)
    if limit is None or limit >= dataset.pair_count:
        return rng.permutation(everything)
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    genuine = everything[dataset.same]
    impostor = everything[~dataset.same]
    wanted_genuine = min(genuine.size, round(limit * genuine.size / dataset.pair_count))
    wanted_impostor = min(impostor.size, limit - wanted_genuine)
    chosen = np.concatenate(
        (
            rng.choice(genuine, wanted_genuine, replace=False),
            rng.choice(impostor, wanted_impostor, replace=False),
        )
    )
    return rng.permutation(chosen).astype(np.int64)


def _path(ref: ImageRef, source: Path) -> str:
    if ref.path is None:
        raise InputError(
            f"{source}: simulate --dataset needs image files (a pairs CSV, an LFW pairs.txt "
            "or identity folders), not images packed in a .bin"
        )
    return str(ref.path)


def lookalikes(
    engine: Any, dataset: Dataset, emb: Embeddings, chips: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """For each chip image, the most similar acquired image of another identity (-1: none)."""
    codes = dataset.identity_codes
    if codes is None:
        raise InputError(
            f"{dataset.source}: --impostors similar needs identities: {dataset.identity_note}"
        )
    out = np.full(chips.size, -1, dtype=np.int64)
    candidates = np.flatnonzero(emb.acquired)
    for row, chip in enumerate(chips.tolist()):
        if not emb.acquired[chip]:
            continue
        others = candidates[codes[candidates] != codes[chip]]
        if others.size == 0:
            continue
        distances = np.asarray(
            engine.distance_matrix(emb.vectors[chip : chip + 1], emb.vectors[others])
        )
        out[row] = others[int(np.argmin(distances[0]))]
    return out


def travellers_from_dataset(
    dataset: Dataset,
    *,
    limit: int | None = None,
    seed: int = 0,
    impostors: str = "listed",
    engine: Any = None,
    embeddings: Embeddings | None = None,
) -> DatasetTravellers:
    """The scenario of the chosen pairs (``engine`` and ``embeddings`` for lookalikes)."""
    if impostors not in IMPOSTOR_CHOICES:
        raise InputError(f"--impostors must be one of {', '.join(IMPOSTOR_CHOICES)}")
    chosen = select_pairs(dataset, limit, seed)
    left = dataset.left[chosen].copy()
    right = dataset.right[chosen].copy()
    same = dataset.same[chosen].copy()
    pairs = chosen.copy()
    if impostors == "similar":
        if engine is None or embeddings is None:
            raise InputError("--impostors similar needs the pack's embeddings of the dataset")
        found = lookalikes(engine, dataset, embeddings, left[~same])
        keep = np.ones(chosen.size, dtype=np.bool_)
        keep[np.flatnonzero(~same)[found < 0]] = False  # a chip photo without a lookalike
        right[~same] = np.where(found >= 0, found, right[~same])
        pairs[~same] = -1
        left, right, same, pairs = left[keep], right[keep], same[keep], pairs[keep]
    people = []
    for number, (a, b, genuine, pair) in enumerate(
        zip(left.tolist(), right.tolist(), same.tolist(), pairs.tolist(), strict=True)
    ):
        kind = "genuine" if genuine else "impostor"
        label = f"{kind}-{number:04d}" + (f" (pair {pair})" if pair >= 0 else " (lookalike)")
        people.append(
            TravellerSpec(
                kind=kind,
                photo=_path(dataset.images[a], dataset.source),
                expect=Decision.ACCEPT if genuine else Decision.REJECT_MISMATCH,
                live_photo=_path(dataset.images[b], dataset.source),
                name=label,
            )
        )
    if not people:
        raise InputError(f"{dataset.source}: no travellers could be formed")
    name = f"{dataset.source.name} ({dataset.format}, {impostors} impostors, seed {seed})"
    scenario = Scenario(name, tuple(people), seed, f"travellers from {dataset.source}")
    return DatasetTravellers(scenario, left, right, same, pairs)


def used_images(dataset: Dataset, rows: npt.NDArray[np.int64]) -> Dataset:
    """The dataset cut to some images (no pairs needed): what the matcher embeds."""
    unique = np.unique(rows)
    images = tuple(dataset.images[i] for i in unique.tolist())
    codes = None if dataset.identity_codes is None else dataset.identity_codes[unique]
    zero = np.zeros(1, dtype=np.int64)
    return Dataset(dataset.source, dataset.format, images, zero, zero, np.ones(1, np.bool_), codes)


def matcher_figures(
    engine: Any,
    dataset: Dataset,
    people: DatasetTravellers,
    threshold: float,
    progress: bool = False,
    embeddings: Embeddings | None = None,
) -> dict[str, Any]:
    """The pack alone on the travellers' original image pairs, at the gate's threshold."""
    from bench.metrics import wilson_interval

    rows = np.concatenate((people.left, people.right))
    if embeddings is None:
        part = used_images(dataset, rows)
        emb = embed_images(engine, part, progress=progress, options=EmbedOptions())
        position = {int(v): i for i, v in enumerate(np.unique(rows).tolist())}
        index = np.array([position[int(r)] for r in rows.tolist()], dtype=np.int64)
    else:
        emb, index = embeddings, rows
    n = people.left.size
    a, b = index[:n], index[n:]
    acquired = emb.acquired[a] & emb.acquired[b]
    distances = np.full(n, np.inf)
    if acquired.any():
        found = engine.distances(emb.vectors[a[acquired]], emb.vectors[b[acquired]])
        distances[acquired] = np.asarray(found, dtype=np.float64)
    match = distances <= threshold
    gen, imp = people.genuine, ~people.genuine
    false_non = int(np.count_nonzero(gen & ~match))
    false_match = int(np.count_nonzero(imp & match))
    n_gen, n_imp = int(gen.sum()), int(imp.sum())
    return {
        "pack": engine.pack_id,
        "threshold": threshold,
        "pairs": n,
        "fta_pairs": int(np.count_nonzero(~acquired)),
        "genuine": n_gen,
        "impostor": n_imp,
        "fnmr": false_non / n_gen if n_gen else None,
        "fmr": false_match / n_imp if n_imp else None,
        "false_non_matches": false_non,
        "false_matches": false_match,
        "fnmr_ci95": wilson_interval(false_non, n_gen).as_dict(),
        "fmr_ci95": wilson_interval(false_match, n_imp).as_dict(),
        "distances": [None if not np.isfinite(d) else float(d) for d in distances],
        "note": "a pair with an image the pack finds no face in counts as a non-match",
    }
