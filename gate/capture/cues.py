"""Per-frame texture cues of the liveness check: moiré (a filmed screen's pixel grid) and a
frame-like border (a print's paper edge, a phone's bezel) close around the face."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from gate.types import Box, ImageBGR

F32 = npt.NDArray[np.float32]


def _grey_crop(image: ImageBGR, box: Box, scale: float) -> F32 | None:
    h, w = image.shape[:2]
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    hw, hh = box.width * scale / 2, box.height * scale / 2
    x0, x1 = max(0, int(cx - hw)), min(w, int(cx + hw))
    y0, y1 = max(0, int(cy - hh)), min(h, int(cy + hh))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None
    return np.asarray(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY), np.float32)


_MAX_PATCH = 128
_MIN_PATCH = 40


def moire_peak(image: ImageBGR, box: Box) -> float:
    """Highest spectral magnitude over the band's median, in the middle of the face (0.6 of
    the box), at the camera's own resolution: resampling would invent or hide the pattern.
    NaN when the face is too small to tell."""
    crop = _grey_crop(image, box, 0.6)
    if crop is None:
        return math.nan
    n = min(crop.shape[0], crop.shape[1], _MAX_PATCH)
    if n < _MIN_PATCH:
        return math.nan
    top, left = (crop.shape[0] - n) // 2, (crop.shape[1] - n) // 2
    patch = crop[top : top + n, left : left + n]
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    spectrum = np.abs(np.fft.fft2((patch - patch.mean()) * window))
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    band = spectrum[(freq > 0.12) & (freq < 0.5)]
    median = float(np.median(band))
    return float(band.max() / median) if median > 0 else 0.0


def border_sides(image: ImageBGR, box: Box, margin: float) -> int:
    """On how many sides of the face a long straight edge runs close by (0 to 4)."""
    h, w = image.shape[:2]
    fw = max(box.width, 1.0)
    pad = margin * fw
    x0, x1 = max(0, int(box.left - pad)), min(w, int(box.right + pad))
    y0, y1 = max(0, int(box.top - pad)), min(h, int(box.bottom + pad))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return 0
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 40, 120)
    lines = cv2.HoughLinesP(
        edges, 1, math.pi / 180, threshold=30, minLineLength=int(0.5 * fw), maxLineGap=6
    )
    if lines is None:
        return 0
    left, top = box.left - x0, box.top - y0
    right, bottom = box.right - x0, box.bottom - y0
    sides: set[str] = set()
    for lx0, ly0, lx1, ly1 in np.asarray(lines).reshape(-1, 4).astype(float):
        angle = abs(math.degrees(math.atan2(ly1 - ly0, lx1 - lx0))) % 180
        if angle < 20 or angle > 160:  # horizontal: must span much of the face's width
            overlap = min(max(lx0, lx1), right) - max(min(lx0, lx1), left)
            y = (ly0 + ly1) / 2
            if overlap >= 0.5 * fw:
                if y < top + 0.05 * fw:
                    sides.add("top")
                elif y > bottom - 0.05 * fw:
                    sides.add("bottom")
        elif 70 < angle < 110:  # vertical: must run along much of the face's height
            overlap = min(max(ly0, ly1), bottom) - max(min(ly0, ly1), top)
            x = (lx0 + lx1) / 2
            if overlap >= 0.5 * box.height:
                if x < left + 0.05 * fw:
                    sides.add("left")
                elif x > right - 0.05 * fw:
                    sides.add("right")
    return len(sides)
