"""Calibrating a fusion pack: each component's impostor mean and sd, measured on a data set.

``egate bench calibrate --pack fusion`` runs this first: it embeds the data set, scores every
component on the impostor comparisons (all, or a sample, across identities), and returns the
pack's ``FusionSpec`` with the new normalisation and the weights unchanged (weights are a
choice recorded in the pack, not fitted here). The thresholds are then calibrated on the
fused distance as for any pack.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from bench.accuracy import EmbedOptions, Impostors, embed_images
from bench.datasets import Dataset, count_cross_identity_pairs, cross_identity_pairs
from gate.errors import InputError
from models import fusion
from models.manifest import FusionSpec


def measure_normalisation(
    engine: Any,
    dataset: Dataset,
    impostors: Impostors = "all",
    seed: int = 0,
    progress: bool = True,
    options: EmbedOptions | None = None,
) -> FusionSpec:
    """The engine's fusion spec with each component's impostor mean and sd from ``dataset``."""
    spec: FusionSpec | None = getattr(engine.manifest, "fusion", None)
    if spec is None:
        raise InputError(f"pack {engine.pack_id} is not a fusion pack")
    if impostors is None or dataset.identity_codes is None:
        raise InputError(f"{dataset.source}: fusion needs impostors across identities")
    emb = embed_images(engine, dataset, progress=progress, options=options or EmbedOptions())
    enrolled = np.flatnonzero(emb.acquired)
    codes = dataset.identity_codes[enrolled]
    vectors = emb.vectors.astype(np.float64)
    sums = {c.name: np.zeros(3) for c in spec.components}  # count, sum, sum of squares
    for left, right in cross_identity_pairs(codes, impostors, seed):
        parts = fusion.component_distances(spec, vectors[enrolled[left]], vectors[enrolled[right]])
        for name, values in parts.items():
            sums[name] += (values.size, values.sum(), np.square(values).sum())
    components = []
    for c in spec.components:
        count, total, squares = sums[c.name]
        if count < 2:
            raise InputError(f"{dataset.source}: too few impostor comparisons to normalise")
        mean = total / count
        sd = float(np.sqrt(max(squares / count - mean * mean, 0.0)))
        if sd <= 0:
            raise InputError(f"{dataset.source}: component {c.name} has no impostor spread")
        components.append(replace(c, impostor_mean=round(mean, 4), impostor_sd=round(sd, 4)))
    available = count_cross_identity_pairs(codes)
    how = "every" if impostors == "all" else f"{impostors} (seed {seed}) of the"
    source = (
        f"impostor mean/sd: {dataset.source.name} ({dataset.format}), {how} "
        f"{available} cross-identity comparisons of {int(emb.acquired.sum())} acquired images; "
        f"weights {'/'.join(f'{c.weight:g}' for c in spec.components)} as the pack sets them"
    )
    return FusionSpec(tuple(components), source)
