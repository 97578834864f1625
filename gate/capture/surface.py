"""The surface cue: do the face's own texture points move as one plane?

The five landmarks of a face model are learnt from real heads: on a picture of a face
turned away from the camera, a model may put the nose where a turned head would have it,
and the picture then looks three-dimensional to a landmark test. Points tracked on the
face's texture (corners of the eyes, eyebrows, glasses, hair, skin marks: Shi-Tomasi
corners followed by pyramidal Lucas-Kanade optical flow, checked forward and backward)
have no such prior: on a flat picture they move by one homography, whatever the
perspective; on a head they do not (the nose, cheeks and forehead lie at different
depths), nor on a face that talks or blinks.

For every frame, against the frame where the points were found (the reference; points are
found again when too few are left):

* ``residual``: the root mean square distance between the points and where the best
  homography of the reference points puts them, in face widths;
* ``deformation``: the same for the best similarity (shift, zoom, roll): how much the points
  moved as a picture turned out of the image plane, or a head turning, moves them.

``solid`` when the residual (90th percentile over the frames) reaches ``solid_residual``;
``flat`` when the face deformed (``flat_deformation``) but one homography explains it
(residual below ``flat_ratio`` of the deformation); otherwise ``inconclusive`` (a still face,
or one that only shifted, zoomed or rolled). Only the middle of the face box is tracked, so
that a background behind a moving picture is not taken for depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gate.types import Box, ImageBGR

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SurfaceSettings:
    inner: float = 0.7  # the share of the face box (width and height) whose points count
    max_points: int = 80
    min_points: int = 10  # fewer left: find points again in the current frame
    fb_error_px: float = 1.0  # forward-backward tracking error above which a point is lost
    max_step: float = 0.05  # the face box grew, shrank or moved more in step_s (share of
    # its width): too fast to follow point by point; points are found again
    step_s: float = 1 / 30  # ... the time max_step is for (a frame at 30 fps); frames
    max_step_scale: float = 4.0  # further apart may move more, up to this many times
    max_frames: int = 300  # older frames are forgotten (a memory bound) ...
    max_seconds: float = 6.0  # ... and frames older than this, by their timestamps
    min_frames: int = 10  # frames followed point by point (a third of a second at 30 fps)
    solid_residual: float = 0.0075  # face widths
    flat_deformation: float = 0.008  # face widths
    flat_ratio: float = 0.3


@dataclass(frozen=True)
class SurfaceResult:
    verdict: str  # "solid", "flat", "inconclusive" or "unavailable"
    residual: float  # 90th percentile over frames, face widths
    deformation: float  # 90th percentile over frames, face widths
    frames: int  # frames measured


def _similarity_residual(ref: F64, cur: F64) -> float:
    """RMS residual of the least-squares similarity (x' = a x - b y + c, y' = b x + a y + d)."""
    n = len(ref)
    design = np.zeros((2 * n, 4))
    design[0::2] = np.column_stack([ref[:, 0], -ref[:, 1], np.ones(n), np.zeros(n)])
    design[1::2] = np.column_stack([ref[:, 1], ref[:, 0], np.zeros(n), np.ones(n)])
    target = cur.reshape(-1)
    params, *_ = np.linalg.lstsq(design, target, rcond=None)
    diff = (design @ params - target).reshape(-1, 2)
    return float(np.median(np.hypot(diff[:, 0], diff[:, 1])))


def _homography_residual(ref: F64, cur: F64) -> float | None:
    h, _ = cv2.findHomography(ref.astype(np.float32), cur.astype(np.float32), cv2.LMEDS)
    if h is None:
        return None
    ones = np.ones((len(ref), 1))
    mapped = np.hstack([ref, ones]) @ h.T
    if np.any(np.abs(mapped[:, 2]) < 1e-9):
        return None
    diff = mapped[:, :2] / mapped[:, 2:3] - cur
    return float(np.median(np.hypot(diff[:, 0], diff[:, 1])))


def _step(a: Box, b: Box) -> float:
    """How far the face box changed between two frames, in its widths."""
    width = max(a.width, 1.0)
    grown = abs(b.width - a.width) / width
    moved = np.hypot(
        (b.left + b.right - a.left - a.right) / 2, (b.top + b.bottom - a.top - a.bottom) / 2
    )
    return max(grown, float(moved) / width / 4)


class SurfaceTracker:
    """Feed it each frame and the face's box (``add``); ``result`` for the window so far."""

    def __init__(self, settings: SurfaceSettings | None = None) -> None:
        self.settings = settings or SurfaceSettings()
        self._grey: npt.NDArray[np.uint8] | None = None
        self._ref: F32 | None = None
        self._cur: F32 | None = None
        self._measures: list[tuple[float, float, float]] = []  # time, residual, deformation
        self._box: Box | None = None
        self._time: float | None = None

    def reset(self) -> None:
        self._grey = self._ref = self._cur = None
        self._box = None
        self._time = None
        self._measures.clear()

    def _seed(self, grey: npt.NDArray[np.uint8], box: Box) -> None:
        s = self.settings
        h, w = grey.shape
        mask = np.zeros((h, w), np.uint8)
        cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
        hw, hh = box.width * s.inner / 2, box.height * s.inner / 2
        x0, x1 = max(0, int(cx - hw)), min(w, int(cx + hw))
        y0, y1 = max(0, int(cy - hh)), min(h, int(cy + hh))
        if x1 - x0 < 8 or y1 - y0 < 8:
            self._ref = self._cur = None
            return
        mask[y0:y1, x0:x1] = 255
        found = cv2.goodFeaturesToTrack(
            grey, s.max_points, 0.01, max(2.0, box.width / 25), mask=mask, blockSize=5
        )
        if found is None or len(found) < s.min_points:
            self._ref = self._cur = None
            return
        self._ref = np.asarray(found, np.float32).reshape(-1, 2)
        self._cur = self._ref.copy()

    def add(self, image: ImageBGR, box: Box, time: float | None = None) -> None:
        """One frame and its face box; ``time``: its timestamp in seconds (without one,
        frames count as ``step_s`` apart)."""
        s = self.settings
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
        previous, self._grey = self._grey, grey
        last, self._box = self._box, box
        before = self._time
        now = time if time is not None else (before or 0.0) + s.step_s
        self._time = now
        apart = (now - before) / s.step_s if before is not None and s.step_s > 0 else 1.0
        allowed = s.max_step * min(max(apart, 1.0), s.max_step_scale)
        if (
            previous is None
            or self._cur is None
            or previous.shape != grey.shape
            or last is None
            or _step(last, box) > allowed
        ):
            self._seed(grey, box)
            return
        ref, cur = self._ref, self._cur
        assert ref is not None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            previous, grey, cur.reshape(-1, 1, 2), None, winSize=(15, 15), maxLevel=3
        )
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(
            grey, previous, moved, None, winSize=(15, 15), maxLevel=3
        )
        if moved is None or back is None:
            self._seed(grey, box)
            return
        error = np.hypot(*(back.reshape(-1, 2) - cur).T)
        ok = (status.reshape(-1) == 1) & (status_back.reshape(-1) == 1) & (error < s.fb_error_px)
        if np.count_nonzero(ok) < s.min_points:
            self._seed(grey, box)
            return
        self._ref, self._cur = ref[ok], moved.reshape(-1, 2)[ok]
        width = max(box.width, 1.0)
        r64, c64 = self._ref.astype(np.float64), self._cur.astype(np.float64)
        residual = _homography_residual(r64, c64)
        if residual is not None:
            self._measures.append((now, residual / width, _similarity_residual(r64, c64) / width))
            del self._measures[: -s.max_frames]
            while self._measures and self._measures[0][0] < now - s.max_seconds:
                del self._measures[0]

    def result(self) -> SurfaceResult:
        s = self.settings
        if len(self._measures) < s.min_frames:
            return SurfaceResult("unavailable", 0.0, 0.0, len(self._measures))
        values = np.array(self._measures)
        residual = float(np.percentile(values[:, 1], 90))
        deformation = float(np.percentile(values[:, 2], 90))
        verdict = "inconclusive"
        if residual >= s.solid_residual:
            verdict = "solid"
        elif deformation >= s.flat_deformation and residual < s.flat_ratio * deformation:
            verdict = "flat"
        return SurfaceResult(verdict, residual, deformation, len(values))
