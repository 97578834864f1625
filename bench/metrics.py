"""Verification error rates in the terms of ISO/IEC 19795-1, from comparison DISTANCES.

Conventions used throughout (and stated in every report):

- Scores are distances: LOWER means more similar. A comparison is a *match* when
  ``distance <= threshold``.
- FMR(t) = share of impostor comparisons with distance <= t; FNMR(t) = share of genuine
  comparisons with distance > t; TAR = 1 - FNMR.
- Failure to acquire: a comparison involving an image that failed to acquire has distance
  ``+inf``. It never matches, so a genuine one counts as a false non-match and an impostor
  one as a correct non-match (``FTA_DISTANCE``).
- The threshold for a target FMR is the largest threshold whose FMR does not exceed the
  target (the most permissive one the target allows); TAR is read there.
- "Too few impostors": a claimed FMR of ``f`` needs at least ``3 / f`` impostor comparisons
  (the rule of three: with zero false matches among ``n`` comparisons the 95 % upper bound
  on the true FMR is about ``3 / n``). Below that the operating point is marked unsupported.
- Intervals are 95 % Wilson score intervals. Impostors expanded across identities reuse each
  image many times, so comparisons are not independent and the intervals are optimistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

FTA_DISTANCE = math.inf
TARGET_FMRS: tuple[str, ...] = ("1e-2", "1e-3", "1e-4")
RULE_OF_THREE = 3.0
Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class Interval:
    """A confidence interval on a proportion."""

    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class OperatingPoint:
    """The error rates at the threshold chosen for one target FMR."""

    target_fmr: float
    threshold: float
    fmr: float
    fnmr: float
    false_matches: int
    false_non_matches: int
    impostor_comparisons: int
    genuine_comparisons: int
    tar_interval: Interval
    fmr_interval: Interval
    supported: bool  # enough impostors for the target (rule of three)

    @property
    def tar(self) -> float:
        return 1.0 - self.fnmr

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_fmr": self.target_fmr,
            "threshold": _finite_or_none(self.threshold),
            "tar": self.tar,
            "fnmr": self.fnmr,
            "fmr": self.fmr,
            "false_matches": self.false_matches,
            "false_non_matches": self.false_non_matches,
            "impostor_comparisons": self.impostor_comparisons,
            "genuine_comparisons": self.genuine_comparisons,
            "tar_ci95": self.tar_interval.as_dict(),
            "fmr_ci95": self.fmr_interval.as_dict(),
            "supported": self.supported,
            "note": None if self.supported else too_few_impostors_note(self.target_fmr),
        }


@dataclass(frozen=True)
class EqualErrorRate:
    eer: float
    threshold: float


@dataclass(frozen=True)
class DetCurve:
    """Error trade-off: FMR and FNMR at increasing thresholds (FMR rises, FNMR falls)."""

    thresholds: FloatArray
    fmr: FloatArray
    fnmr: FloatArray

    def as_dict(self) -> dict[str, list[float | None]]:
        return {
            "threshold": [_finite_or_none(float(t)) for t in self.thresholds],
            "fmr": [float(v) for v in self.fmr],
            "fnmr": [float(v) for v in self.fnmr],
        }


def _finite_or_none(value: float) -> float | None:
    """JSON has no infinity: an unbounded threshold is written as null."""
    return value if math.isfinite(value) else None


def too_few_impostors_note(target_fmr: float) -> str:
    needed = math.ceil(RULE_OF_THREE / target_fmr)
    return f"too few impostors: FMR {target_fmr:g} needs at least {needed} impostor comparisons"


def as_distances(values: npt.ArrayLike, what: str) -> FloatArray:
    """A 1-D float64 copy; NaN is refused (say which score set held it)."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.isnan(array).any():
        raise ValueError(f"{what} distances contain NaN")
    return array


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval:
    """Wilson score interval for a binomial proportion (closed form, fine near 0 and 1)."""
    if trials <= 0:
        return Interval(0.0, 1.0)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    # The bounds at 0 and at ``trials`` successes are exactly 0 and 1 (rounding aside).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high)


def error_rates(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, thresholds: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """FMR and FNMR at each threshold (vectorised with binary search over sorted scores)."""
    gen = np.sort(as_distances(genuine, "genuine"))
    imp = np.sort(as_distances(impostor, "impostor"))
    t = np.asarray(thresholds, dtype=np.float64)
    fmr = np.searchsorted(imp, t, side="right") / max(imp.size, 1)
    fnmr = 1.0 - np.searchsorted(gen, t, side="right") / max(gen.size, 1)
    return fmr.astype(np.float64), fnmr.astype(np.float64)


def accuracy_at(genuine: npt.ArrayLike, impostor: npt.ArrayLike, threshold: float) -> float:
    """Share of comparisons decided correctly at ``threshold`` (LFW-style accuracy)."""
    gen = as_distances(genuine, "genuine")
    imp = as_distances(impostor, "impostor")
    total = gen.size + imp.size
    if total == 0:
        raise ValueError("no comparisons to compute an accuracy from")
    correct = int(np.count_nonzero(gen <= threshold)) + int(np.count_nonzero(imp > threshold))
    return correct / total


def threshold_at_fmr(impostor: npt.ArrayLike, target_fmr: float) -> float:
    """The largest threshold whose FMR does not exceed ``target_fmr``.

    With ``k = floor(target * n)`` false matches allowed, the threshold must stay below the
    (k+1)-th smallest impostor distance ``v``; the largest float below ``v`` is returned, so
    the accepted set is ``{distance < v}`` whether a caller compares with ``<`` or ``<=``.
    """
    if not 0.0 < target_fmr < 1.0:
        raise ValueError(f"target FMR must be in (0, 1), got {target_fmr}")
    imp = np.sort(as_distances(impostor, "impostor"))
    if imp.size == 0:
        raise ValueError("no impostor comparisons: cannot choose a threshold for an FMR")
    allowed = math.floor(target_fmr * imp.size + 1e-9)
    first_refused = float(imp[allowed])
    if first_refused == -math.inf:
        return -math.inf
    return float(np.nextafter(first_refused, -np.inf))


def operating_point(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, target_fmr: float
) -> OperatingPoint:
    """Threshold, FMR, FNMR/TAR with intervals and counts at one target FMR."""
    gen = as_distances(genuine, "genuine")
    imp = as_distances(impostor, "impostor")
    threshold = threshold_at_fmr(imp, target_fmr)
    false_matches = int(np.count_nonzero(imp <= threshold))
    false_non_matches = int(np.count_nonzero(gen > threshold))
    fnmr = false_non_matches / gen.size if gen.size else math.nan
    tar_interval = wilson_interval(gen.size - false_non_matches, gen.size)
    return OperatingPoint(
        target_fmr=target_fmr,
        threshold=threshold,
        fmr=false_matches / imp.size,
        fnmr=fnmr,
        false_matches=false_matches,
        false_non_matches=false_non_matches,
        impostor_comparisons=int(imp.size),
        genuine_comparisons=int(gen.size),
        tar_interval=tar_interval,
        fmr_interval=wilson_interval(false_matches, int(imp.size)),
        supported=imp.size >= RULE_OF_THREE / target_fmr,
    )


def equal_error_rate(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> EqualErrorRate:
    """EER: where FMR and FNMR cross, linearly interpolated between adjacent operating points."""
    gen = as_distances(genuine, "genuine")
    imp = as_distances(impostor, "impostor")
    if gen.size == 0 or imp.size == 0:
        raise ValueError("EER needs both genuine and impostor comparisons")
    thresholds = np.concatenate(([-np.inf], np.unique(np.concatenate((gen, imp)))))
    fmr, fnmr = error_rates(gen, imp, thresholds)
    return crossing_of(thresholds, fmr, fnmr)


def crossing_of(thresholds: FloatArray, fmr: FloatArray, fnmr: FloatArray) -> EqualErrorRate:
    """Where FNMR falls to FMR over increasing thresholds, interpolated linearly between the
    two operating points around the crossing."""
    gap = fnmr - fmr  # starts at 1 (threshold -inf), ends <= 0 (everything accepted)
    crossing = int(np.argmax(gap <= 0.0))
    if crossing == 0:
        return EqualErrorRate(0.0, float(thresholds[0]))
    before, after = crossing - 1, crossing
    d0, d1 = float(gap[before]), float(gap[after])
    alpha = d0 / (d0 - d1)
    eer = float(fmr[before] + alpha * (fmr[after] - fmr[before]))
    t0, t1 = float(thresholds[before]), float(thresholds[after])
    threshold = t1 if not math.isfinite(t0) else t0 + alpha * (t1 - t0)
    return EqualErrorRate(eer, threshold)


def det_curve(genuine: npt.ArrayLike, impostor: npt.ArrayLike, max_points: int = 600) -> DetCurve:
    """DET points at thresholds that resolve both tails.

    Every genuine score is a threshold while there are few; impostor scores are sampled at
    log-spaced FMRs down to 1/n, so the low-FMR end stays sharp even with millions of them.
    """
    gen = np.sort(as_distances(genuine, "genuine"))
    imp = np.sort(as_distances(impostor, "impostor"))
    gen_finite = gen[np.isfinite(gen)]
    imp_finite = imp[np.isfinite(imp)]
    candidates: list[FloatArray] = []
    if gen_finite.size:
        stride = max(1, gen_finite.size // max_points)
        candidates.append(gen_finite[::stride])
    if imp_finite.size:
        exponents = np.linspace(math.log10(1.0 / imp.size), 0.0, max_points)
        ranks = np.unique(np.clip((10.0**exponents) * imp.size, 1, imp_finite.size).astype(int))
        candidates.append(imp_finite[ranks - 1])
    if not candidates:
        empty = np.zeros(0, dtype=np.float64)
        return DetCurve(empty, empty, empty)
    thresholds = np.unique(np.concatenate(candidates))
    fmr, fnmr = error_rates(gen, imp, thresholds)
    return DetCurve(thresholds, fmr, fnmr)


def score_summary(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, targets: tuple[str, ...] = TARGET_FMRS
) -> dict[str, Any]:
    """Everything a report states about one score set, as JSON-ready values."""
    gen = as_distances(genuine, "genuine")
    imp = as_distances(impostor, "impostor")
    eer = equal_error_rate(gen, imp)
    points = {key: operating_point(gen, imp, float(key)) for key in targets}
    return {
        "genuine_comparisons": int(gen.size),
        "impostor_comparisons": int(imp.size),
        "genuine_fta": int(np.count_nonzero(~np.isfinite(gen))),
        "impostor_fta": int(np.count_nonzero(~np.isfinite(imp))),
        "eer": eer.eer,
        "eer_threshold": _finite_or_none(eer.threshold),
        "tar_at_fmr": {key: point.tar for key, point in points.items()},
        "operating_points": {key: point.as_dict() for key, point in points.items()},
    }
