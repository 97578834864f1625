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
    # glare and shadow change the print's contrast along the line: each stretch is scaled by
    # its own strongest ink (over about three characters), never by less than a fifth of
    # the line's, so paper noise is not stretched into print
    local = cv2.dilate(hat, cv2.getStructuringElement(cv2.MORPH_RECT, (3 * height // 2, height)))
    ink = np.clip(hat / np.maximum(local, 0.2 * peak), 0.0, 1.0)
    binary = (ink > 0.45).astype(np.uint8)
    # the band is found in the strip's middle, where the locator saw the line (the ends
    # reach past it, over the page's margin and whatever lies beyond)
    width = binary.shape[1]
    rows = binary[:, width // 4 : 3 * width // 4].sum(axis=1).astype(np.float64)
    if rows.max() <= 0:
        return None
    # the print's band: around the strongest row of the strip's middle half
    smooth = np.convolve(rows, np.ones(3) / 3, mode="same")
    centre = height // 4 + int(np.argmax(smooth[height // 4 : 3 * height // 4]))
    on = rows > 0.25 * smooth[centre]
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
        if stats[i, cv2.CC_STAT_HEIGHT] >= 0.4 * band_h
        and stats[i, cv2.CC_STAT_AREA] >= max(6.0, 0.05 * band_h * band_h)
    ]
    if len(keep) < 8:
        return None
    order = sorted(keep, key=lambda i: centroids[i, 0])
    centres = np.array(
        [stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] / 2 for i in order]
    )
    widths = np.array([float(stats[i, cv2.CC_STAT_WIDTH]) for i in order])
    return Line(np.asarray(ink, np.float32), top, bottom, centres, widths)


def _chain(xs: npt.NDArray[np.float64], pitch: float) -> npt.NDArray[np.float64]:
    """Each blob's character index, counted from the first blob along steps of ``pitch``
    (pieces of one broken glyph share an index); a gap of more than three characters starts
    a new run, numbered on from 10_000 * run."""
    index = np.zeros(len(xs))
    run = 0
    for j in range(1, len(xs)):
        step = (xs[j] - xs[j - 1]) / pitch
        if step > 3.5:
            run += 1
            index[j] = 10_000 * run
        else:
            index[j] = index[j - 1] + round(step)
    return index


def _window(index: npt.NDArray[np.float64], chars: int) -> tuple[npt.NDArray[np.bool_], float]:
    """The blobs of the run that best holds ``chars`` characters, and the index of its
    first character."""
    best: tuple[int, float, npt.NDArray[np.bool_]] | None = None
    for run in np.unique(index // 10_000):
        member = index // 10_000 == run
        first = float(index[member].min())
        last = float(index[member].max())
        for start in np.arange(first, max(first, last - chars + 1) + 1):
            inside = member & (index >= start) & (index < start + chars)
            count = int(inside.sum())
            if best is None or count > best[0]:
                best = (count, float(start), inside)
    assert best is not None
    return best[2], best[1]


def fit_centres(line: Line, chars: int, anchor: float | None = None) -> npt.NDArray[np.float64]:
    """The centre of each of ``chars`` cells. ``anchor``, when given, is where the first
    character sits (taken from a better-printed line of the same MRZ)."""
    pitch = line.pitch
    single = line.widths < 1.3 * pitch
    xs = line.centres[single] if single.sum() >= 2 else line.centres
    index = _chain(xs, pitch)
    if anchor is None:
        inside, start = _window(index, chars)
    else:
        # each run's numbering is moved to where the anchor says its blobs sit
        for run in np.unique(index // 10_000):
            member = index // 10_000 == run
            offset = np.median(np.rint((xs[member] - anchor) / pitch) - index[member])
            index[member] += offset
        inside, start = (index >= 0) & (index < chars), 0.0
        if inside.sum() < 2:
            inside, start = _window(index, chars)
    xs, index = xs[inside], index[inside] - start
    coeffs = np.polyfit(index, xs, 1) if len(xs) >= 2 else np.array([pitch, xs[0]])
    for _ in range(2):
        keep = np.abs(np.polyval(coeffs, index) - xs) < 0.3 * pitch
        if keep.sum() >= 6:
            coeffs = np.polyfit(index[keep], xs[keep], 2 if keep.sum() >= 12 else 1)
    return np.asarray(np.polyval(coeffs, np.arange(chars, dtype=np.float64)), np.float64)


def coverage(line: Line, centres: npt.NDArray[np.float64]) -> int:
    """How many of the fitted cells have a blob of one character at their centre."""
    pitch = float(np.median(np.diff(centres)))
    single = line.centres[line.widths < 1.3 * pitch]
    if not len(single):
        return 0
    gaps = np.abs(centres[:, None] - single[None, :]).min(axis=1)
    return int((gaps < 0.3 * pitch).sum())


def cells(line: Line, chars: int, shifts: npt.NDArray[np.float64] | None = None) -> Floats:
    """``chars`` cells of ``CELL_H`` x ``CELL_W`` ink values, one per character; ``shifts``
    (n, 2), in pitches, moves each cut (the classifier's training uses it)."""
    return cut_cells(line, fit_centres(line, chars), shifts)


def cut_cells(
    line: Line, centres: npt.NDArray[np.float64], shifts: npt.NDArray[np.float64] | None = None
) -> Floats:
    """One cell around each of ``centres``."""
    chars = len(centres)
    pitch = float(np.median(np.diff(centres))) if chars > 1 else line.pitch
    height = line.bottom - line.top + 1
    pad = 0.12 * height
    top, bottom = line.top - pad, line.bottom + 1 + pad
    out = np.zeros((chars, CELL_H, CELL_W), np.float32)
    for index, centre in enumerate(centres):
        dx, dy = (0.0, 0.0) if shifts is None else shifts[index] * pitch
        left, right = centre + dx - 0.55 * pitch, centre + dx + 0.55 * pitch
        # an affine crop with sub-pixel placement
        sx, sy = (right - left) / CELL_W, (bottom - top) / CELL_H
        y0 = top + dy
        matrix = np.array([[sx, 0, left + sx / 2 - 0.5], [0, sy, y0 + sy / 2 - 0.5]], np.float64)
        out[index] = cv2.warpAffine(
            line.ink,
            matrix,
            (CELL_W, CELL_H),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
    return out
