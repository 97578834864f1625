"""Accuracy of one or more face packs on a verification dataset, and threshold calibration.

Each unique image is embedded once per pack (``bench.acquire``, whose names are re-exported
here). An image that fails to acquire (undecodable, no face, several faces) gets no
embedding; every listed pair that involves it counts as a non-match: a genuine pair becomes
a false non-match, an impostor pair a correct non-match. Impostors expanded across
identities are formed from acquired images only (an image that could not be enrolled cannot
be compared), so expansion never inflates the correct non-matches with failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import metrics, score_metrics
from bench.acquire import (
    DEFAULT_OPTIONS,
    FACE_CHOICES,
    Embeddings,
    EmbedOptions,
    Engine,
    check_options,
    embed_images,
    embed_picture,
    stack_embeddings,
    upsampled,
)
from bench.blocked_scoring import score_cross_identity
from bench.datasets import Dataset, count_cross_identity_pairs, cross_identity_pairs
from bench.score_histogram import ImpostorScores, from_array
from gate.errors import GateError, InputError

# The embedding side lives in ``bench.acquire``; its names stay importable from here.
__all__ = [
    "FACE_CHOICES",
    "FTA_POLICY",
    "EmbedOptions",
    "Embeddings",
    "Engine",
    "ImpostorScorer",
    "PackResult",
    "accuracy_report",
    "calibrate",
    "check_options",
    "embed_images",
    "embed_picture",
    "evaluate_pack",
    "impostor_scores",
    "open_engine",
    "parse_impostors",
    "score_pack",
    "stack_embeddings",
    "upsampled",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Impostors = str | int | None  # None: the listed pairs; "all" or N: expanded across identities

FTA_POLICY = (
    "A pair with an image that failed to acquire (unreadable, no face, more than one face) "
    "counts as a non-match: a genuine pair as a false non-match, an impostor pair as a "
    "correct non-match. Impostors expanded across identities use acquired images only."
)


@dataclass(frozen=True)
class PackResult:
    """Scores and summary for one pack (the scores feed the plots, the summary the JSON)."""

    pack_id: str
    genuine: FloatArray
    impostor: ImpostorScores
    summary: dict[str, Any] = field(default_factory=dict)


def parse_impostors(value: str | None) -> Impostors:
    """``--impostors``: absent (the listed pairs), ``all``, or a positive count."""
    if value is None:
        return None
    if value.strip().lower() == "all":
        return "all"
    try:
        count = int(value)
    except ValueError as exc:
        raise InputError(f"--impostors must be 'all' or a positive integer, got {value!r}") from exc
    if count <= 0:
        raise InputError(f"--impostors must be 'all' or a positive integer, got {value!r}")
    return count


def _distances(
    engine: Engine, emb: Embeddings, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> FloatArray:
    """Pair distances; a pair with an image that failed to acquire gets ``+inf``."""
    out = np.full(left.size, metrics.FTA_DISTANCE, dtype=np.float64)
    ok = emb.acquired[left] & emb.acquired[right]
    if ok.any():
        scores = engine.distances(emb.vectors[left[ok]], emb.vectors[right[ok]])
        out[ok] = np.asarray(scores, dtype=np.float64).reshape(-1)
    return out


def impostor_scores(
    engine: Engine,
    emb: Embeddings,
    dataset: Dataset,
    impostors: Impostors,
    seed: int,
    progress: bool = False,
    scorer: ImpostorScorer | None = None,
) -> tuple[ImpostorScores, str]:
    """Impostor distances: the listed pairs, or pairs expanded across identities.

    Every cross-identity pair ("all") is scored in blocks of the engine's distance matrix
    into an exact-tail histogram (``bench.blocked_scoring``): no n^2 memory. A drawn number
    of pairs is scored pair by pair and kept whole.
    """
    if impostors is None:
        listed = ~dataset.same
        scores = _distances(engine, emb, dataset.left[listed], dataset.right[listed])
        return from_array(scores), "the dataset's listed impostor pairs"
    if dataset.identity_codes is None:
        raise InputError(
            f"{dataset.source}: cannot expand impostors across identities: {dataset.identity_note}"
        )
    enrolled = np.flatnonzero(emb.acquired)
    codes = dataset.identity_codes[enrolled]
    available = count_cross_identity_pairs(codes)
    if impostors == "all" or int(impostors) >= available:
        if scorer is not None:
            blocked = scorer(engine, emb.vectors[enrolled], codes)
        else:
            blocked = score_cross_identity(
                engine.distance_matrix, emb.vectors[enrolled], codes, progress=progress
            )
        return blocked, f"all {available} cross-identity pairs of the acquired images"
    chunks = []
    for left, right in cross_identity_pairs(codes, impostors, seed):
        chunks.append(_distances(engine, emb, enrolled[left], enrolled[right]))
    drawn = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float64)
    how = f"{drawn.size} cross-identity pairs drawn from {available} (seed {seed})"
    return from_array(drawn), how


def default_threshold(engine: Engine) -> tuple[float | None, str]:
    """The threshold "accuracy at the default threshold" is read at, and where it comes from:
    the model author's published operating point (``manifest.nominal_threshold``, dlib's 0.6)
    when the pack names one, else the pack's calibrated FMR 1e-3 threshold."""
    nominal = getattr(getattr(engine, "manifest", None), "nominal_threshold", None)
    if isinstance(nominal, (int, float)) and not isinstance(nominal, bool):
        return float(nominal), "nominal (the model author's published threshold)"
    try:
        return float(engine.threshold()), "calibrated FMR 1e-3 threshold"
    except GateError as exc:
        log.warning("pack %s has no default threshold: %s", engine.pack_id, exc)
        return None, "none (the pack has no threshold)"


def evaluate_pack(
    engine: Engine,
    dataset: Dataset,
    impostors: Impostors = None,
    seed: int = 0,
    progress: bool = True,
    options: EmbedOptions = DEFAULT_OPTIONS,
) -> PackResult:
    """Embed, score and summarise one pack on one dataset."""
    emb = embed_images(engine, dataset, progress=progress, options=options)
    return score_pack(engine, dataset, emb, impostors, seed, progress, options)


ImpostorScorer = Callable[[Engine, npt.NDArray[np.float32], npt.NDArray[np.int64]], ImpostorScores]


def score_pack(
    engine: Engine,
    dataset: Dataset,
    emb: Embeddings,
    impostors: Impostors = None,
    seed: int = 0,
    progress: bool = False,
    options: EmbedOptions = DEFAULT_OPTIONS,
    scorer: ImpostorScorer | None = None,
) -> PackResult:
    """Score and summarise one pack's embeddings (whichever engine computed them).

    ``scorer`` scores every cross-identity pair of the acquired images (default: blocked
    scoring in this process; the Ray engine passes one that spreads the blocks).
    """
    listed = _distances(engine, emb, dataset.left, dataset.right)
    genuine = listed[dataset.same]
    listed_impostor = listed[~dataset.same]
    if impostors is None:
        impostor, how = from_array(listed_impostor), "the dataset's listed impostor pairs"
    else:
        impostor, how = impostor_scores(engine, emb, dataset, impostors, seed, progress, scorer)
    if genuine.size == 0 or impostor.size == 0:
        raise InputError(
            f"{dataset.source}: need genuine and impostor comparisons "
            f"(have {genuine.size} and {impostor.size})"
        )
    summary = score_metrics.score_summary(genuine, impostor)
    threshold, threshold_source = default_threshold(engine)
    fta_genuine = int(np.count_nonzero(~np.isfinite(genuine)))
    fta_impostor = int(np.count_nonzero(~np.isfinite(listed_impostor)))
    summary.update(
        pack=engine.pack_id,
        distance=engine.distance_name,
        pairs=dataset.pair_count,
        genuine=int(genuine.size),
        impostor=int(listed_impostor.size),
        impostor_source=how,
        fta_images=emb.fta_count,
        fta_rate=emb.fta_count / max(1, len(dataset.images)),
        fta_pairs={"genuine": fta_genuine, "impostor": fta_impostor},
        fta_reasons=emb.failure_reasons,
        fta_policy=FTA_POLICY,
        default_threshold=threshold,
        default_threshold_source=threshold_source,
        accuracy_at_default_threshold=(
            None if threshold is None else metrics.accuracy_at(genuine, listed_impostor, threshold)
        ),
        images_per_second=_rate(emb, len(dataset.images)),
        embedded_images=len(dataset.images) if emb.embedded is None else emb.embedded,
        embedding_seconds=emb.seconds,
        embedding_options=options.describe(),
        det=score_metrics.det_curve(genuine, impostor).as_dict(),
    )
    if threshold is not None:
        fmr, fnmr = score_metrics.error_rates(genuine, impostor, [threshold])
        summary["fmr_at_default_threshold"] = float(fmr[0])
        summary["fnmr_at_default_threshold"] = float(fnmr[0])
    return PackResult(engine.pack_id, genuine, impostor, summary)


def _rate(emb: Embeddings, images: int) -> float | None:
    embedded = images if emb.embedded is None else emb.embedded
    return embedded / emb.seconds if emb.seconds > 0 and embedded else None


# The keys of the first version of the JSON (issue 2), mirrored from the first pack.
HEADLINE_KEYS = (
    "pack",
    "pairs",
    "genuine",
    "impostor",
    "fta_images",
    "eer",
    "tar_at_fmr",
    "impostor_comparisons",
    "accuracy_at_default_threshold",
    "default_threshold",
    "default_threshold_source",
    "images_per_second",
)


def accuracy_report(
    dataset: Dataset,
    results: Sequence[PackResult],
    environment: dict[str, Any],
    impostors: Impostors,
    seed: int,
) -> dict[str, Any]:
    """The JSON document: the first pack's headline keys at the top, every pack in ``packs``."""
    if not results:
        raise InputError("no pack was evaluated")
    first = results[0].summary
    report: dict[str, Any] = {key: first[key] for key in HEADLINE_KEYS}
    report["tar_ci95"] = {
        key: point["tar_ci95"] for key, point in first["operating_points"].items()
    }
    report.update(
        dataset=dataset.describe(),
        impostors="listed" if impostors is None else impostors,
        seed=seed,
        fta_policy=FTA_POLICY,
        threshold_rule=(
            "a comparison matches when distance <= threshold; the threshold for a target FMR "
            "is the largest whose FMR does not exceed it; an FMR of f needs >= 3/f impostor "
            "comparisons to be supported (rule of three); intervals are 95 % Wilson"
        ),
        packs=[result.summary for result in results],
        environment=environment,
    )
    return report


def calibrate(
    engine: Engine,
    dataset: Dataset,
    impostors: Impostors = "all",
    seed: int = 0,
    progress: bool = True,
    options: EmbedOptions = DEFAULT_OPTIONS,
) -> tuple[dict[str, float], str, PackResult]:
    """Thresholds at FMR 1e-2, 1e-3, 1e-4 and the note that says how they were obtained."""
    result = evaluate_pack(
        engine, dataset, impostors=impostors, seed=seed, progress=progress, options=options
    )
    points = result.summary["operating_points"]
    thresholds: dict[str, float] = {}
    for key, point in points.items():
        if point["threshold"] is None:
            raise InputError(f"{dataset.source}: no finite threshold for FMR {key}")
        thresholds[key] = float(point["threshold"])
    unsupported = [key for key, point in points.items() if not point["supported"]]
    parts = [
        f"calibrated by egate bench calibrate on {dataset.source.name} ({dataset.format}): "
        f"{result.summary['impostor_comparisons']} impostor comparisons "
        f"({result.summary['impostor_source']}), {result.summary['genuine']} genuine pairs, "
        f"{result.summary['fta_images']} of {len(dataset.images)} images failed to acquire"
        + (f" (images upsampled x{2**options.upsample})" if options.upsample else "")
        + f"; face: {options.face}",
        "threshold = largest distance threshold whose FMR does not exceed the target "
        "(match when distance <= threshold)",
    ]
    for key, point in points.items():
        parts.append(f"FMR {key}: threshold {point['threshold']:.6f}, TAR {point['tar']:.4f}")
    if unsupported:
        parts.append("too few impostors for FMR " + ", ".join(unsupported))
    return thresholds, "; ".join(parts), result


def open_engine(pack: str | None, threads: int = 0) -> Engine:
    """Load a pack through the face engine's public API (the one the CLI and the gate use)."""
    from models.engine import load_engine

    engine: Engine = load_engine(pack, threads=threads)
    return engine
