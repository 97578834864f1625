"""``bench.metrics``'s figures when the impostor distances are an ``ImpostorScores``.

When every impostor distance was kept (``complete``) these are ``bench.metrics``'s functions
on the full array. Otherwise each figure is computed the same way from the exact tail wherever
its threshold lies below the tail's cut, so EER, thresholds and TARs at low FMR are the very
numbers the full array would give; only thresholds above the cut are read from the bins.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from bench import metrics
from bench.score_histogram import ImpostorScores

FloatArray = npt.NDArray[np.float64]


def error_rates(
    genuine: npt.ArrayLike, impostor: ImpostorScores, thresholds: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """FMR and FNMR at each threshold."""
    gen = np.sort(metrics.as_distances(genuine, "genuine"))
    t = np.asarray(thresholds, dtype=np.float64)
    fmr = impostor.count_at_most(t).reshape(t.shape) / max(impostor.total, 1)
    fnmr = 1.0 - np.searchsorted(gen, t, side="right") / max(gen.size, 1)
    return fmr.astype(np.float64), fnmr.astype(np.float64)


def threshold_at_fmr(impostor: ImpostorScores, target_fmr: float) -> float:
    """As ``metrics.threshold_at_fmr``: just below the (k+1)-th smallest distance."""
    if not 0.0 < target_fmr < 1.0:
        raise ValueError(f"target FMR must be in (0, 1), got {target_fmr}")
    if impostor.total == 0:
        raise ValueError("no impostor comparisons: cannot choose a threshold for an FMR")
    allowed = math.floor(target_fmr * impostor.total + 1e-9)
    first_refused = impostor.value_at_rank(allowed)
    if first_refused == -math.inf:
        return -math.inf
    return float(np.nextafter(first_refused, -np.inf))


def operating_point(
    genuine: npt.ArrayLike, impostor: ImpostorScores, target_fmr: float
) -> metrics.OperatingPoint:
    if impostor.complete:
        return metrics.operating_point(genuine, impostor.values(), target_fmr)
    gen = metrics.as_distances(genuine, "genuine")
    threshold = threshold_at_fmr(impostor, target_fmr)
    false_matches = int(impostor.count_at_most([threshold])[0])
    false_non_matches = int(np.count_nonzero(gen > threshold))
    return metrics.OperatingPoint(
        target_fmr=target_fmr,
        threshold=threshold,
        fmr=false_matches / impostor.total,
        fnmr=false_non_matches / gen.size if gen.size else math.nan,
        false_matches=false_matches,
        false_non_matches=false_non_matches,
        impostor_comparisons=impostor.total,
        genuine_comparisons=int(gen.size),
        tar_interval=metrics.wilson_interval(gen.size - false_non_matches, gen.size),
        fmr_interval=metrics.wilson_interval(false_matches, impostor.total),
        supported=impostor.total >= metrics.RULE_OF_THREE / target_fmr,
    )


def equal_error_rate(genuine: npt.ArrayLike, impostor: ImpostorScores) -> metrics.EqualErrorRate:
    """``metrics.equal_error_rate`` over the same threshold list: every distinct distance below
    the cut (identical to the full array's there), then the bin edges above it."""
    if impostor.complete:
        return metrics.equal_error_rate(genuine, impostor.values())
    gen = metrics.as_distances(genuine, "genuine")
    if gen.size == 0 or impostor.total == 0:
        raise ValueError("EER needs both genuine and impostor comparisons")
    below = np.unique(np.concatenate((gen[gen < impostor.cut], impostor.tail)))
    edges = impostor.low + np.arange(1, impostor.bins + 1) * impostor.width
    above = np.unique(np.concatenate((gen[gen >= impostor.cut], edges[edges >= impostor.cut])))
    thresholds = np.concatenate(([-np.inf], below, above, [np.inf]))
    fmr, fnmr = error_rates(gen, impostor, thresholds)
    return metrics.crossing_of(thresholds, fmr, fnmr)


def det_curve(
    genuine: npt.ArrayLike, impostor: ImpostorScores, max_points: int = 600
) -> metrics.DetCurve:
    """``metrics.det_curve``'s thresholds, impostor ranks read from the tail or the bins."""
    if impostor.complete:
        return metrics.det_curve(genuine, impostor.values(), max_points)
    gen = np.sort(metrics.as_distances(genuine, "genuine"))
    gen_finite = gen[np.isfinite(gen)]
    finite = impostor.total - impostor.infinite
    candidates: list[FloatArray] = []
    if gen_finite.size:
        stride = max(1, gen_finite.size // max_points)
        candidates.append(gen_finite[::stride])
    if finite:
        exponents = np.linspace(math.log10(1.0 / impostor.total), 0.0, max_points)
        ranks = np.unique(np.clip((10.0**exponents) * impostor.total, 1, finite).astype(int))
        candidates.append(np.array([impostor.value_at_rank(int(r) - 1) for r in ranks]))
    thresholds = np.unique(np.concatenate(candidates)) if candidates else np.zeros(0)
    fmr, fnmr = error_rates(gen, impostor, thresholds)
    return metrics.DetCurve(thresholds, fmr, fnmr)


def score_summary(
    genuine: npt.ArrayLike,
    impostor: ImpostorScores,
    targets: tuple[str, ...] = metrics.TARGET_FMRS,
) -> dict[str, Any]:
    """``metrics.score_summary`` for an ``ImpostorScores``, plus how it was scored."""
    if impostor.complete:
        summary = metrics.score_summary(genuine, impostor.values(), targets)
    else:
        gen = metrics.as_distances(genuine, "genuine")
        eer = equal_error_rate(gen, impostor)
        points = {key: operating_point(gen, impostor, float(key)) for key in targets}
        summary = {
            "genuine_comparisons": int(gen.size),
            "impostor_comparisons": impostor.total,
            "genuine_fta": int(np.count_nonzero(~np.isfinite(gen))),
            "impostor_fta": impostor.infinite,
            "eer": eer.eer,
            "eer_threshold": eer.threshold if math.isfinite(eer.threshold) else None,
            "tar_at_fmr": {key: point.tar for key, point in points.items()},
            "operating_points": {key: point.as_dict() for key, point in points.items()},
        }
    summary["impostor_scoring"] = impostor.describe()
    return summary
