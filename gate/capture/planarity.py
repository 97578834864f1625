"""The planarity cue: is the face a flat picture, seen from changing angles?

A flat object moves, in the picture, by one homography whatever the perspective: four of
its points fix the homography and every other point of it follows. A real head's five
points (eye centres, nose tip, mouth corners) are not coplanar: the nose tip stands about
half an eye distance in front of the eyes and mouth. So between two frames where the face
turned, the homography of the eyes and mouth corners predicts the nose of a picture, not
of a head: a head leaves a residual (parallax) a homography cannot explain.

For every pair of frames of the window this measures

* ``shift``: how far the nose moved relative to the eyes (along and across the eye line, in
  eye distances): what a turning head shows, and what a flat picture turned near the
  camera shows too, by perspective (and by a landmark model that expects a nose in 3-D);
* ``parallax``: the distance between the nose where the homography of the eyes and mouth
  corners puts it and where it is, in eye distances. Talking moves points too: also not
  one homography, also not a picture.

The nose moved but the homography explains it (parallax below ``flat_ratio`` of the shift,
over the pairs that moved): ``flat``. Parallax well above the landmark jitter: ``solid`` (a
head, or a face that moves as a picture cannot). Neither (a still face, or a face that only
shifts, zooms or rolls): ``inconclusive``; stillness is no evidence of an attack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlanaritySettings:
    min_frames: int = 6
    pair_stride: int = 1  # compare every frame with every later one (at most max_pairs)
    max_pairs: int = 600
    min_shift: float = 0.05  # pairs whose nose moved less (eye distances) say nothing
    min_moved: int = 3  # pairs that moved needed for a "flat" verdict
    flat_ratio: float = 0.25  # parallax below this share of the nose's shift: flat
    flat_shift: float = 0.08  # ... and the nose moved at least this much (90th percentile)
    solid_parallax: float = 0.06  # parallax (90th percentile, eye distances) that shows 3-D


@dataclass(frozen=True)
class PlanarityResult:
    verdict: str  # "flat", "solid", "inconclusive" or "unavailable"
    parallax: float  # 90th percentile over pairs, eye distances, less the jitter
    shift: float  # 90th percentile over pairs, eye distances
    flat_ratio: float  # median parallax / shift over the pairs that moved; NaN: none moved
    pairs: int


def _smooth(points: F64) -> F64:
    """A running median of 3 frames per coordinate: one frame's jitter is not motion."""
    if len(points) < 3:
        return points
    padded = np.concatenate([points[:1], points, points[-1:]])
    stacked = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    return np.asarray(np.median(stacked, axis=0), dtype=np.float64)


def _pair(a: F64, b: F64) -> tuple[float, float] | None:
    """(shift, parallax) from frame a's five points to frame b's."""
    quad_a = a[[0, 1, 4, 3]].astype(np.float32)
    quad_b = b[[0, 1, 4, 3]].astype(np.float32)
    try:
        h = cv2.getPerspectiveTransform(quad_a, quad_b).astype(np.float64)
    except cv2.error:
        return None
    nose = np.array([a[2, 0], a[2, 1], 1.0])
    mapped = h @ nose
    if abs(mapped[2]) < 1e-9:
        return None
    predicted = mapped[:2] / mapped[2]
    eye_b = float(np.hypot(*(b[1] - b[0])))
    if eye_b <= 1e-6:
        return None
    parallax = float(np.hypot(*(b[2] - predicted))) / eye_b
    return float(np.hypot(*(_nose_offset(b) - _nose_offset(a)))), parallax


def _nose_offset(p: F64) -> F64:
    """The nose relative to the eyes' midpoint, in the eye line's frame, in eye distances:
    unchanged by shifting, zooming and rolling the picture."""
    ex, ey = p[1] - p[0]
    d2 = max(float(ex * ex + ey * ey), 1e-12)
    nx, ny = p[2] - (p[0] + p[1]) / 2
    return np.array([(nx * ex + ny * ey) / d2, (-nx * ey + ny * ex) / d2])


def _jitter(points: F64) -> float:
    """The landmarks' frame-to-frame noise, in eye distances: the robust deviation of the
    second differences of the nose relative to the eyes' midpoint (a slow turn hardly moves
    them; white noise of deviation s gives s * sqrt(6))."""
    if len(points) < 4:
        return 0.0
    eye = np.hypot(*(points[:, 1] - points[:, 0]).T)
    rel = (points[:, 2] - (points[:, 0] + points[:, 1]) / 2) / np.maximum(eye, 1e-6)[:, None]
    second = rel[2:] - 2 * rel[1:-1] + rel[:-2]
    return float(1.4826 * np.median(np.hypot(*second.T)) / math.sqrt(6.0))


def _pairs(a: F64, b: F64) -> tuple[F64, F64]:
    """``_pair`` for many pairs at once: (shifts, parallaxes) from frames ``a`` (m, 5, 2) to
    frames ``b``; NaN where the homography is degenerate."""
    qa, qb = a[:, [0, 1, 4, 3]], b[:, [0, 1, 4, 3]]
    m = len(a)
    system = np.zeros((m, 8, 8))
    rhs = np.zeros((m, 8))
    x, y, u, v = qa[..., 0], qa[..., 1], qb[..., 0], qb[..., 1]
    system[:, 0::2, 0], system[:, 0::2, 1], system[:, 0::2, 2] = x, y, 1.0
    system[:, 1::2, 3], system[:, 1::2, 4], system[:, 1::2, 5] = x, y, 1.0
    system[:, 0::2, 6], system[:, 0::2, 7] = -u * x, -u * y
    system[:, 1::2, 6], system[:, 1::2, 7] = -v * x, -v * y
    rhs[:, 0::2], rhs[:, 1::2] = u, v
    singular = np.linalg.svd(system, compute_uv=False)
    ok = singular[:, -1] > 1e-12 * singular[:, 0]
    system[~ok] = np.eye(8)
    h = np.concatenate([np.linalg.solve(system, rhs[..., None])[..., 0], np.ones((m, 1))], 1)
    h = h.reshape(m, 3, 3)
    nose = np.concatenate([a[:, 2], np.ones((m, 1))], axis=1)
    mapped = np.einsum("kij,kj->ki", h, nose)
    ok &= np.abs(mapped[:, 2]) >= 1e-9
    predicted = mapped[:, :2] / np.where(ok, mapped[:, 2], 1.0)[:, None]
    eye_b = np.hypot(*(b[:, 1] - b[:, 0]).T)
    ok &= eye_b > 1e-6
    parallax = np.hypot(*(b[:, 2] - predicted).T) / np.where(ok, eye_b, 1.0)
    shift = np.hypot(*(_nose_offsets(b) - _nose_offsets(a)).T)
    return np.where(ok, shift, np.nan), np.where(ok, parallax, np.nan)


def _nose_offsets(p: F64) -> F64:
    """``_nose_offset`` of many frames (m, 5, 2) at once: (m, 2)."""
    ex, ey = (p[:, 1] - p[:, 0]).T
    d2 = np.maximum(ex * ex + ey * ey, 1e-12)
    nx, ny = (p[:, 2] - (p[:, 0] + p[:, 1]) / 2).T
    return np.stack([(nx * ex + ny * ey) / d2, (-nx * ey + ny * ex) / d2], axis=1)


def planarity(points: F64, settings: PlanaritySettings | None = None) -> PlanarityResult:
    """``points``: (frames, 5, 2), in the order eye, eye, nose tip, mouth corner, mouth
    corner (the right eye and right mouth corner on the same side)."""
    s = settings or PlanaritySettings()
    n = len(points)
    if n < s.min_frames:
        return PlanarityResult("inconclusive", 0.0, 0.0, math.nan, 0)
    raw = np.asarray(points, dtype=np.float64)
    smooth = _smooth(raw)
    pairs = [(i, j) for i in range(n) for j in range(i + s.pair_stride, n, s.pair_stride)]
    if len(pairs) > s.max_pairs:
        step = len(pairs) / s.max_pairs
        pairs = [pairs[int(k * step)] for k in range(s.max_pairs)]
    first = np.array([i for i, _ in pairs], dtype=np.intp)
    second = np.array([j for _, j in pairs], dtype=np.intp)
    shifts, parallaxes = _pairs(smooth[first], smooth[second])
    valid = ~np.isnan(shifts)
    shifts, parallaxes = shifts[valid], parallaxes[valid]
    if not len(shifts):
        return PlanarityResult("inconclusive", 0.0, 0.0, math.nan, 0)
    noise = 2.5 * _jitter(raw)
    parallax = max(0.0, float(np.percentile(parallaxes, 90)) - noise)
    shift = float(np.percentile(shifts, 90))
    moved = shifts >= max(s.min_shift, noise)
    ratio = math.nan
    if np.count_nonzero(moved) >= s.min_moved:
        ratio = float(np.median(parallaxes[moved] / shifts[moved]))
    verdict = "inconclusive"
    if parallax >= s.solid_parallax and not ratio < s.flat_ratio:
        verdict = "solid"
    elif ratio < s.flat_ratio and shift >= s.flat_shift:
        verdict = "flat"
    return PlanarityResult(verdict, parallax, shift, ratio, len(shifts))
