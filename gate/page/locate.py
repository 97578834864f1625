"""Find the machine readable zone on a page image at any rotation and cut it into lines.

1. On a working copy (longest side ``WORK_SIDE``), dark print is lifted off the background
   with a black-hat filter and thresholded; closing it merges each printed line into one
   blob (tried at a few kernel sizes, since the page's scale is unknown).
2. The MRZ is the group of 2 or 3 long, parallel, equally long blobs stacked at a regular
   spacing: the longest such group wins.
3. Each line is cut from the full-resolution grey image along its own axis (so a page seen
   in perspective is followed line by line) into a horizontal strip. Which way is up is not
   known here: the reader tries both turns of the group (``MrzCandidate.strips(flipped)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

WORK_SIDE = 1000
FLOOR = 0.17
STRIP_HEIGHT = 48  # the height of a cut line; the print is scaled to fill about half of it

Grey = npt.NDArray[np.uint8]
Rect = tuple[tuple[float, float], tuple[float, float], float]  # OpenCV's rotated rectangle


@dataclass(frozen=True)
class LineBlob:
    centre: tuple[float, float]
    length: float
    thickness: float
    direction: tuple[float, float]  # unit vector along the line


@dataclass(frozen=True)
class MrzCandidate:
    """A group of 2 or 3 line blobs in full-resolution pixel coordinates, top to bottom for
    the direction ``lines[0].direction``."""

    lines: tuple[LineBlob, ...]

    @property
    def score(self) -> float:
        return sum(line.length for line in self.lines)

    def strips(self, grey: Grey, flipped: bool) -> list[Grey]:
        """Each line cut out into a horizontal strip; ``flipped`` turns the group by 180°.

        Every strip spans the same stretch along the lines (from the earliest start to the
        latest end of any line), so a position in one strip is the same column of print in
        the others: MRZ lines all start at the same margin, and a line whose first
        characters are lost (glare) is placed by the others."""
        ux, uy = self.lines[0].direction
        along = [line.centre[0] * ux + line.centre[1] * uy for line in self.lines]
        start = min(a - line.length / 2 for a, line in zip(along, self.lines, strict=True))
        end = max(a + line.length / 2 for a, line in zip(along, self.lines, strict=True))
        framed = [
            replace(
                line,
                centre=(
                    line.centre[0] + ((start + end) / 2 - a) * ux,
                    line.centre[1] + ((start + end) / 2 - a) * uy,
                ),
                length=end - start,
            )
            for a, line in zip(along, self.lines, strict=True)
        ]
        lines = list(reversed(framed)) if flipped else framed
        return [_cut(grey, line, flipped) for line in lines]


def _rect(contour: Any) -> Rect:
    (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
    return (float(cx), float(cy)), (float(w), float(h)), float(angle)


def _blob(rect: Rect) -> LineBlob:
    (cx, cy), (w, h), angle = rect
    theta = np.deg2rad(angle)
    if w < h:
        w, h = h, w
        theta += np.pi / 2
    direction = (float(np.cos(theta)), float(np.sin(theta)))
    if direction[0] < 0 or (abs(direction[0]) < 1e-9 and direction[1] < 0):
        direction = (-direction[0], -direction[1])
    return LineBlob((float(cx), float(cy)), float(w), float(h), direction)


def _line_blobs(mask: Grey) -> list[LineBlob]:
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    blobs = []
    for contour in contours:
        if len(contour) < 5:
            continue
        blob = _blob(_rect(contour))
        # a printed line fills its rectangle; a curve of the background does not
        if (
            blob.thickness >= 4
            and 12 <= blob.length / blob.thickness <= 90
            and cv2.contourArea(contour) >= 0.4 * blob.length * blob.thickness
        ):
            blobs.append(blob)
    return blobs


def _groups(blobs: list[LineBlob]) -> list[tuple[LineBlob, ...]]:
    """Stacks of 2-3 parallel blobs of similar length at a regular spacing."""
    found: list[tuple[LineBlob, ...]] = []
    for anchor in blobs:
        ux, uy = anchor.direction
        nx, ny = -uy, ux  # the normal: down the stack
        mates = []
        for other in blobs:
            if abs(ux * other.direction[0] + uy * other.direction[1]) < np.cos(np.deg2rad(6)):
                continue
            if not 0.85 <= other.length / anchor.length <= 1.18:
                continue
            dx = other.centre[0] - anchor.centre[0]
            dy = other.centre[1] - anchor.centre[1]
            along, across = dx * ux + dy * uy, dx * nx + dy * ny
            if abs(along) > 0.1 * anchor.length:
                continue
            if abs(across) > 3.2 * anchor.thickness * 2:
                continue
            mates.append((across, other))
        mates.sort(key=lambda pair: pair[0])
        stack = [blob for _, blob in mates]
        if 2 <= len(stack) <= 3:
            steps = np.diff([across for across, _ in mates])
            thick = np.median([blob.thickness for blob in stack])
            if all(1.2 * thick <= step <= 3.5 * thick for step in steps):
                found.append(tuple(stack))
    return found


def _text_angle(ink: Grey, side: int) -> float:
    """The dominant direction of the print in degrees (modulo 180): words merged into blobs,
    each elongated blob voting with its length."""
    size = max(3, side // 90)
    mask = cv2.morphologyEx(
        ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    )
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    votes = np.zeros(180)
    for contour in contours:
        if len(contour) < 5:
            continue
        blob = _blob(_rect(contour))
        if blob.length >= side / 40 and blob.length >= 3 * blob.thickness:
            angle = np.rad2deg(np.arctan2(blob.direction[1], blob.direction[0])) % 180
            votes[int(angle) % 180] += blob.length
    smooth = votes + np.roll(votes, 1) + np.roll(votes, -1)
    return float(np.argmax(smooth))


def _rotation(
    shape: tuple[int, int], angle: float
) -> tuple[npt.NDArray[np.float64], tuple[int, int]]:
    """The affine map that turns an image of ``shape`` by ``-angle`` degrees (print becomes
    horizontal) onto a canvas large enough to hold it, and that canvas's size."""
    height, width = shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    out_w, out_h = int(height * sin + width * cos) + 2, int(height * cos + width * sin) + 2
    matrix[0, 2] += out_w / 2 - width / 2
    matrix[1, 2] += out_h / 2 - height / 2
    return np.asarray(matrix, np.float64), (out_w, out_h)


def _flattened(hat: Grey, side: int) -> Grey:
    """``hat`` with its contrast evened out: a lamp's glare lifts the paper and the print
    alike and leaves the print only a fraction of its contrast under the spot, so each
    region is scaled by the strongest print around it (smoothed, and never by less than a
    sixth of the page's strongest, so bare paper is not stretched into print)."""
    values = hat.astype(np.float32)
    peak = float(np.percentile(values, 99.5))
    if peak <= 0:
        return hat
    size = max(9, side // 25) | 1
    local = cv2.dilate(values, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    local = cv2.GaussianBlur(local, (0, 0), size / 2)
    scaled = values / np.maximum(local, FLOOR * peak) * 255.0
    return np.asarray(np.clip(scaled, 0, 255), np.uint8)


def find_mrz(grey: Grey, *, flatten: bool = False) -> list[MrzCandidate]:
    """Candidate MRZ groups in ``grey``, the best first (empty when there is none).
    ``flatten`` evens out the print's contrast first (``_flattened``): the reader's second
    try, for a page under glare (it also lifts the background's pattern, so it comes second)."""
    height, width = grey.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    small = np.asarray(
        cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
    )
    side = max(small.shape)
    k = max(9, side // 45) | 1
    hat = np.asarray(
        cv2.morphologyEx(
            small, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
        ),
        np.uint8,
    )
    if flatten:
        hat = _flattened(hat, side)
    _, binary = cv2.threshold(hat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    ink = np.asarray(binary, np.uint8)
    angle = _text_angle(ink, side)
    matrix, size = _rotation(small.shape, angle)
    level = np.asarray(cv2.warpAffine(ink, matrix, size, flags=cv2.INTER_NEAREST), np.uint8)
    back = np.asarray(cv2.invertAffineTransform(matrix), np.float64)
    candidates: list[MrzCandidate] = []
    for width_k in (max(5, side // 60), max(7, side // 40)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (width_k, 1))
        mask = np.asarray(cv2.morphologyEx(level, cv2.MORPH_CLOSE, kernel), np.uint8)
        for group in _groups(_line_blobs(mask)):
            # MRZ lines print at one height: the thinnest blob is the least merged with
            # the background, and sets the height every line is cut at
            thin = min(b.thickness for b in group)
            lines = tuple(_unrotate(replace(b, thickness=thin), back, scale) for b in group)
            candidates.append(MrzCandidate(lines))
    candidates.sort(key=lambda c: -c.score)
    unique: list[MrzCandidate] = []
    for candidate in candidates:
        x, y = candidate.lines[0].centre
        if all(
            np.hypot(x - u.lines[0].centre[0], y - u.lines[0].centre[1]) > u.lines[0].thickness
            for u in unique
        ):
            unique.append(candidate)
    return unique


def _unrotate(blob: LineBlob, back: npt.NDArray[np.float64], scale: float) -> LineBlob:
    """``blob`` from the levelled working copy back in the full-resolution image."""
    cx, cy = blob.centre
    dx, dy = blob.direction
    points = np.array([[cx, cy, 1.0], [cx + dx, cy + dy, 1.0]]) @ back.T
    ux, uy = points[1] - points[0]
    norm = float(np.hypot(ux, uy))
    centre = (float(points[0, 0]) / scale, float(points[0, 1]) / scale)
    return LineBlob(centre, blob.length / scale, blob.thickness / scale, (ux / norm, uy / norm))


def _cut(grey: Grey, line: LineBlob, flipped: bool) -> Grey:
    """The line as a horizontal strip ``STRIP_HEIGHT`` high, with a margin at both ends."""
    ux, uy = line.direction
    if flipped:
        ux, uy = -ux, -uy
    nx, ny = -uy, ux
    factor = (STRIP_HEIGHT * 0.5) / line.thickness
    # the margin reaches well past the blob's ends: glare can hide a line's last characters
    # from the locator, never from the strip
    # (and may split it: a strip is never shorter than the longest MRZ line, 44 characters)
    margin = max(line.thickness, 0.4 * line.length, (48 * line.thickness - line.length) / 2)
    out_w = round((line.length + 2 * margin) * factor)
    cx, cy = line.centre
    # strip (u, v) -> image: centre + (u - out_w/2)/factor * dir + (v - H/2)/factor * normal
    matrix = np.array(
        [
            [ux / factor, nx / factor, cx - (ux * out_w / 2 + nx * STRIP_HEIGHT / 2) / factor],
            [uy / factor, ny / factor, cy - (uy * out_w / 2 + ny * STRIP_HEIGHT / 2) / factor],
        ]
    )
    cut = cv2.warpAffine(
        grey,
        matrix,
        (out_w, STRIP_HEIGHT),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float(np.median(grey[::8, ::8])),
    )
    return np.asarray(cut, np.uint8)
