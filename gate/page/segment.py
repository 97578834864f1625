"""Cut one MRZ line strip (``gate.page.locate``) into its character cells.

OCR-B prints every character in the same advance, and every MRZ glyph (A-Z, 0-9, '<') is one
piece of ink, so the line is a row of equally spaced blobs: their centres are fitted with a
smooth (quadratic, to follow perspective) position-by-index curve, and each cell is cut around
its fitted centre whether or not its own blob was found (a blob merged with its neighbour or
broken by glare does not shift the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

CELL_W = 16
CELL_H = 20
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Line:
    """The ink of one strip (0 = paper, 1 = ink), the band the print occupies and the centres
    of its blobs, before the number of characters is known."""

    ink: Floats
    top: int
    bottom: int
    centres: npt.NDArray[np.float64]
    widths: npt.NDArray[np.float64]

    @property
    def pitch(self) -> float:
        """The median distance between neighbouring blobs (one character's advance)."""
        if len(self.centres) < 2:
            return float(self.bottom - self.top)
        steps = np.diff(self.centres)
        first = float(np.median(steps))
        return float(np.median(steps[steps < 1.6 * first]))

    def count(self) -> float:
        """How many characters the line spans, by its pitch."""
        if len(self.centres) < 2:
            return 0.0
        return float((self.centres[-1] - self.centres[0]) / self.pitch + 1)


def ink_of(strip: npt.NDArray[np.uint8]) -> Line | None:
    """The strip's ink and blobs, or None when it holds no printed line."""
    height = strip.shape[0]
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (height // 2 + 1, height // 2 + 1))
    hat = cv2.morphologyEx(strip, cv2.MORPH_BLACKHAT, kernel).astype(np.float32)
    peak = float(np.percentile(hat, 99.5))
    if peak < 8:
        return None
    ink = np.clip(hat / peak, 0.0, 1.0)
    binary = (ink > 0.45).astype(np.uint8)
    rows = binary.sum(axis=1).astype(np.float64)
    centre = height // 2
    if rows.max() <= 0:
        return None
    on = rows > 0.25 * rows[max(0, centre - 4) : centre + 5].max()
    top = centre
    while top > 0 and on[top - 1]:
        top -= 1
    bottom = centre
    while bottom < height - 1 and on[bottom + 1]:
        bottom += 1
    band = binary[top : bottom + 1]
    count, _, stats, centroids = cv2.connectedComponentsWithStats(band, connectivity=8)
    band_h = bottom - top + 1
    keep = [
        i
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_HEIGHT] >= 0.35 * band_h and stats[i, cv2.CC_STAT_AREA] >= 6
    ]
    if len(keep) < 8:
        return None
    order = sorted(keep, key=lambda i: centroids[i, 0])
    centres = np.array(
        [stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] / 2 for i in order]
    )
    widths = np.array([float(stats[i, cv2.CC_STAT_WIDTH]) for i in order])
    return Line(ink, top, bottom, centres, widths)


def _fit(line: Line, chars: int) -> npt.NDArray[np.float64]:
    """The centre of each of ``chars`` cells."""
    pitch = line.pitch
    single = line.widths < 1.25 * pitch
    xs = line.centres[single] if single.sum() >= 2 else line.centres
    start = xs[0]
    step = (xs[-1] - xs[0]) / max(1, chars - 1)
    coeffs = np.array([0.0, step, start])
    for _ in range(3):
        index = np.rint((xs - start) / step).clip(0, chars - 1)
        predicted = np.polyval(coeffs, index)
        close = np.abs(predicted - xs) < 0.4 * step
        if close.sum() >= 6:
            degree = 2 if close.sum() >= 12 else 1
            fitted = np.polyfit(index[close], xs[close], degree)
            coeffs = np.concatenate([np.zeros(3 - len(fitted)), fitted])
    return np.polyval(coeffs, np.arange(chars))


def cells(line: Line, chars: int) -> Floats:
    """``chars`` cells of ``CELL_H`` x ``CELL_W`` ink values, one per character."""
    centres = _fit(line, chars)
    pitch = float(np.median(np.diff(centres))) if chars > 1 else line.pitch
    height = line.bottom - line.top + 1
    pad = 0.12 * height
    top, bottom = line.top - pad, line.bottom + 1 + pad
    out = np.zeros((chars, CELL_H, CELL_W), np.float32)
    for index, centre in enumerate(centres):
        left, right = centre - 0.55 * pitch, centre + 0.55 * pitch
        # an affine crop with sub-pixel placement
        sx, sy = (right - left) / CELL_W, (bottom - top) / CELL_H
        matrix = np.array([[sx, 0, left + sx / 2 - 0.5], [0, sy, top + sy / 2 - 0.5]], np.float64)
        out[index] = cv2.warpAffine(
            line.ink,
            matrix,
            (CELL_W, CELL_H),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
    return out
