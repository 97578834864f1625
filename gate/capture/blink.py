"""The blink cue: the eyes close and open again, briefly, both at once.

No dense-landmark model ships with egate (the dlib pack's shape predictor has five points;
dlib's 68-point model was trained on iBUG 300-W, whose terms restrict its use), so there is
no eye aspect ratio. Instead the eyes' appearance is followed: each eye's patch is cut from
the frame in the eye line's own frame (centre, angle and scale from the eye centres, so a
head that shifts, zooms or rolls gives the same patch), and compared with the window's
median patch of that eye (normalised cross-correlation; ``1 - ncc`` is the change). A
control patch on the nose bridge and cheeks below the eyes is compared the same way.

A blink is a run of frames, between ``min_blink_s`` and ``max_blink_s`` long by the
timestamps, where both eyes changed well beyond their own usual change (median plus
``k`` times the deviation, and at least ``min_change``) while the control patch did not,
with unchanged eyes before and after. A head turn or a picture turned by hand changes the
eyes and the control together, and slowly; landmark jitter moves one eye for one frame;
a still picture never changes. A video of a live person replayed on a screen does blink:
only the texture and border cues can tell a replay.

Needs at least ``min_fps`` frames per second (a blink lasts 0.1-0.4 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gate.capture.quality import FacePoints
from gate.types import ImageBGR

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

PATCH = (24, 14)  # width, height of an eye patch in pixels
_CONTROL = (32, 16)


@dataclass(frozen=True)
class BlinkSettings:
    min_fps: float = 10.0
    min_frames: int = 8
    min_blink_s: float = 0.05
    max_blink_s: float = 0.5
    k: float = 4.0  # how many robust deviations beyond its median an eye must change
    min_change: float = 0.15  # ... and at least this much (1 - ncc)
    control_share: float = 0.5  # the control changed less than this share of the eyes


@dataclass(frozen=True)
class BlinkResult:
    verdict: str  # "blink", "none" or "unavailable"
    blinks: int  # blinks seen in the window
    strength: float  # the strongest blink's eye change over its threshold (0: none)
    fps: float


@dataclass(frozen=True)
class EyePatches:
    left: F32
    right: F32
    control: F32


def _warp(
    image: ImageBGR, centre: tuple[float, float], angle: float, width: float, size: tuple[int, int]
) -> F32:
    """A patch ``width`` pixels wide around ``centre``, turned by ``angle``, as ``size``."""
    scale = size[0] / max(width, 1.0)
    ca, sa = math.cos(angle) * scale, math.sin(angle) * scale
    cx, cy = centre
    tx = size[0] / 2 - (ca * cx + sa * cy)
    ty = size[1] / 2 - (-sa * cx + ca * cy)
    matrix = np.array([[ca, sa, tx], [-sa, ca, ty]], dtype=np.float64)
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    patch = cv2.warpAffine(grey, matrix, size, flags=cv2.INTER_AREA | cv2.WARP_FILL_OUTLIERS)
    return np.asarray(patch, dtype=np.float32)


def eye_patches(image: ImageBGR, points: FacePoints) -> EyePatches:
    """Both eyes' patches and the control patch, in the eye line's frame."""
    (lx, ly), (rx, ry) = points.eye_left, points.eye_right
    d = max(points.eye_distance, 1.0)
    angle = math.atan2(ry - ly, rx - lx)
    down = (-math.sin(angle), math.cos(angle))
    mx, my = (lx + rx) / 2, (ly + ry) / 2
    control_centre = (mx + 0.4 * d * down[0], my + 0.4 * d * down[1])
    return EyePatches(
        _warp(image, (lx, ly), angle, 0.6 * d, PATCH),
        _warp(image, (rx, ry), angle, 0.6 * d, PATCH),
        _warp(image, control_centre, angle, 1.0 * d, _CONTROL),
    )


def _change(patches: list[F32]) -> F64:
    """1 - normalised cross-correlation of each patch with the median patch."""
    stack = np.stack(patches).astype(np.float64).reshape(len(patches), -1)
    reference = np.median(stack, axis=0)
    reference = reference - reference.mean()
    centred = stack - stack.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(reference)
    ncc = np.where(norms > 0, centred @ reference / np.maximum(norms, 1e-12), 1.0)
    return np.asarray(1.0 - ncc, dtype=np.float64)


def _limit(values: F64, settings: BlinkSettings) -> float:
    median = float(np.median(values))
    deviation = 1.4826 * float(np.median(np.abs(values - median)))
    return max(median + settings.k * deviation, settings.min_change)


def blinks(
    times: F64, patches: list[EyePatches], settings: BlinkSettings | None = None
) -> BlinkResult:
    """The blink cue over frames at ``times`` (seconds) with their eye patches."""
    s = settings or BlinkSettings()
    n = len(patches)
    seconds = float(times[-1] - times[0]) if n > 1 else 0.0
    fps = (n - 1) / seconds if seconds > 0 else 0.0
    if n < s.min_frames or fps < s.min_fps:
        return BlinkResult("unavailable", 0, 0.0, fps)
    left = _change([p.left for p in patches])
    right = _change([p.right for p in patches])
    control = _change([p.control for p in patches])
    limit_l, limit_r = _limit(left, s), _limit(right, s)
    closed = (left > limit_l) & (right > limit_r)
    closed &= control < s.control_share * np.minimum(left, right)
    count, strength = 0, 0.0
    i = 0
    while i < n:
        if not closed[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and closed[j + 1]:
            j += 1
        # both eyes open (unchanged) just before and just after the run: a blink, not a
        # window cut mid-closure, nor one eye's landmarks wandering
        opened = (left <= limit_l) & (right <= limit_r)
        if i > 0 and j < n - 1 and opened[i - 1] and opened[j + 1]:
            start = 0.5 * (times[i - 1] + times[i])
            end = 0.5 * (times[j] + times[j + 1])
            if s.min_blink_s <= end - start <= s.max_blink_s:
                count += 1
                peak = min(
                    float(left[i : j + 1].max()) / limit_l, float(right[i : j + 1].max()) / limit_r
                )
                strength = max(strength, peak)
        i = j + 1
    return BlinkResult("blink" if count else "none", count, strength, fps)
