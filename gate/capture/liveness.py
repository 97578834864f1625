"""A passive, multi-frame liveness (presentation attack detection) check.

Cues, each mapped to [0, 1] (1 = looks live), fused as docs/liveness.md explains:

* ``surface`` (``gate.capture.surface``): texture points tracked on the face move by one
  homography on a flat picture, whatever the perspective, and not on a head (or a face that
  talks). Flat after a turn: an attack; off the homography: a sign of life.
* ``planarity`` (``gate.capture.planarity``): the same test with the five landmarks (the
  nose against the homography of the eyes and mouth corners); kept for explanation, and
  the veto where the surface cue has too few frames.
* ``motion``: the nose's offset along the eye line, in eye distances, changes when a head
  turns (spread over the window less 2.5 times the landmark jitter). The sign of life only
  where the surface cue cannot speak: a landmark model moves a turned picture's nose too.
* ``texture``: a screen filmed by a camera shows its pixel grid as moiré (upper quartile
  over frames of the face spectrum's highest peak over the band's median).
* ``border``: a print's paper edge or a phone's bezel gives straight lines close around the
  face on at least three sides (share of frames where that is seen).

Evidence of an attack (texture, border, a flat surface) lowers the score below the gate's
threshold; evidence of life (surface, else motion) lifts it; with neither, the face is
``inconclusive`` (0.4): stillness is not evidence of an attack, but not of life either, and
the gate refers it (a challenge would be asked, were there one).

What it does NOT defend against is in docs/liveness.md: this is a screening heuristic tuned
on the synthetic attacks of ``drivers.camera.synthetic``, not an evaluated PAD subsystem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from gate.capture.planarity import PlanarityResult, PlanaritySettings, planarity
from gate.capture.quality import LAYOUTS, LandmarkLayout, face_points, layout_for
from gate.capture.surface import SurfaceSettings, SurfaceTracker
from gate.types import Box, Face, ImageBGR

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LivenessSettings:
    min_frames: int = 6
    motion_low: float = 0.03  # nose-offset spread (less jitter) at or below which the face
    motion_high: float = 0.10  # looks rigid / at or above which it looks live
    moire_low: float = 35.0  # spectral peak ratio (75th percentile of the frames) at or
    moire_high: float = 60.0  # below which no screen is seen / above which one is certain
    moire_solid: float = 90.0  # ... certain when the face shows 3-D parallax (planarity)
    border_margin: float = 0.7  # how far around the face box to look for edges, face widths
    border_share: float = 0.4  # share of frames with a frame-like border that means an attack
    max_frames: int = 60  # older frames are forgotten
    unknown_motion: float = 0.4  # the motion cue with fewer than min_frames faces
    inconclusive: float = 0.4  # the score when no cue shows an attack and none shows life
    parallax_low: float = 0.05  # planarity parallax (eye distances) at or below which no
    parallax_high: float = 0.08  # 3-D is shown / at or above which a head is certain
    planarity: PlanaritySettings = field(default_factory=PlanaritySettings)
    surface: SurfaceSettings = field(default_factory=SurfaceSettings)
    surface_low: float = 0.006  # surface residual (face widths) at or below which no 3-D
    surface_high: float = 0.009  # is shown / at or above which the face is surely not flat


@dataclass(frozen=True)
class LivenessResult:
    score: float  # in [0, 1], 1 = live
    motion: float
    texture: float
    border: float
    frames: int
    nose_spread: float
    moire_peak: float
    border_frames: float  # share of frames with a border around the face
    planarity: float = 0.5  # 1: solid (3-D), 0: flat picture, 0.5: inconclusive/unavailable
    parallax: float = 0.0  # nose parallax beyond one homography, eye distances
    nose_shift: float = 0.0  # how far the nose moved relative to the eyes, eye distances
    planarity_verdict: str = "unavailable"  # solid, flat, inconclusive or unavailable
    verdict: str = "inconclusive"  # live, attack or inconclusive (would need a challenge)
    surface: float = 0.5  # 1: solid, 0: flat, 0.5: inconclusive/unavailable (texture points)
    surface_residual: float = 0.0  # texture points off one homography, face widths
    surface_deformation: float = 0.0  # texture points off one similarity, face widths
    surface_verdict: str = "unavailable"


@dataclass(frozen=True)
class _FrameCues:
    nose_along: float
    nose_across: float
    moire_peak: float
    border_sides: int
    points: F32 | None  # eye, eye, nose tip, mouth corners (planarity); None: not given


def _ramp(value: float, low: float, high: float) -> float:
    """0 at ``low`` or below, 1 at ``high`` or above, linear between."""
    if high == low:
        return 1.0 if value >= high else 0.0
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def _smooth(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A running median of 3: one frame's landmark jitter is not head motion."""
    if len(values) < 3:
        return values
    padded = np.concatenate([values[:1], values, values[-1:]])
    stacked = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    return np.asarray(np.median(stacked, axis=0), dtype=np.float64)


def _motion_spread(values: npt.NDArray[np.float64]) -> float:
    """Spread (10th to 90th percentile) of the smoothed series, less 2.5 times the landmark
    jitter, so that a model that jitters on a turned or blurred face does not make a rigid
    picture look alive. The jitter comes from second differences, which a slow head turn
    hardly moves: for white noise of deviation s they have deviation s * sqrt(6)."""
    smooth = _smooth(values)
    spread = float(np.percentile(smooth, 90) - np.percentile(smooth, 10))
    if len(values) < 4:
        return spread
    second = values[2:] - 2 * values[1:-1] + values[:-2]
    jitter = 1.4826 * float(np.median(np.abs(second))) / math.sqrt(6.0)
    return max(0.0, spread - 2.5 * jitter)


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


def _planar_points(face: Face, layout: LandmarkLayout) -> F32 | None:
    """Eye centres, nose tip and mouth corners: the detector's own five points (YuNet gives
    them), or the pack's when they follow that convention; None for dlib's five (eye corners
    and the bottom of the nose: four nearly collinear points fix no homography)."""
    detected = face.detection.landmarks
    if detected is not None and len(detected) == 5:
        return np.asarray(detected, dtype=np.float32)
    if layout == LAYOUTS["insightface"]:
        return np.asarray(face.landmarks.as_array(), dtype=np.float32)
    return None


class LivenessChecker:
    """Feed it the tracked face of each frame (``add``), then ask for the ``result``."""

    def __init__(
        self,
        layout: LandmarkLayout | str = "dlib-cc0",
        settings: LivenessSettings | None = None,
    ) -> None:
        self.layout = layout_for(layout) if isinstance(layout, str) else layout
        self.settings = settings or LivenessSettings()
        self._cues: list[_FrameCues] = []
        self._surface = SurfaceTracker(self.settings.surface)

    def reset(self) -> None:
        self._cues.clear()
        self._surface.reset()

    @property
    def frames(self) -> int:
        return len(self._cues)

    def add(self, image: ImageBGR, face: Face) -> None:
        points = face_points(face.landmarks, self.layout)
        along, across = points.nose_offsets()
        box = face.detection.box
        self._cues.append(
            _FrameCues(
                nose_along=along,
                nose_across=across,
                moire_peak=moire_peak(image, box),
                border_sides=border_sides(image, box, self.settings.border_margin),
                points=_planar_points(face, self.layout),
            )
        )
        self._surface.add(image, box)
        if len(self._cues) > self.settings.max_frames:
            del self._cues[0]

    def result(self) -> LivenessResult:
        s = self.settings
        n = len(self._cues)
        if n == 0:
            return LivenessResult(0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0)
        spread = max(
            _motion_spread(np.array([c.nose_along for c in self._cues])),
            0.5 * _motion_spread(np.array([c.nose_across for c in self._cues])),
        )
        motion = s.unknown_motion
        if n >= s.min_frames:
            motion = _ramp(spread, s.motion_low, s.motion_high)
        # moiré comes and goes with the screen's scale in the picture: the upper quartile
        peaks = [c.moire_peak for c in self._cues if not math.isnan(c.moire_peak)]
        peak = float(np.percentile(peaks, 75)) if peaks else 0.0
        texture = 1.0 - _ramp(peak, s.moire_low, s.moire_high)
        share = sum(c.border_sides >= 3 for c in self._cues) / n
        border = 1.0 - _ramp(share, 0.5 * s.border_share, s.border_share)
        plane = self._planarity()
        planar = {"solid": 1.0, "flat": 0.0}.get(plane.verdict, 0.5)
        surface = self._surface.result()
        if surface.verdict == "solid":
            # A face in 3-D: fine regular texture (glasses, hair, compression) up to
            # moire_high is not taken for a screen; a strong pattern still is.
            texture = 1.0 - _ramp(peak, s.moire_high, s.moire_solid)
        attack = min(texture, border, 0.0 if surface.verdict == "flat" else 1.0)
        if surface.verdict == "unavailable":
            # too few texture points: the nose-offset motion cue (five points) is the sign
            # of life, unless the five points move as one plane
            alive = 0.0 if plane.verdict == "flat" else motion
        else:
            # The motion cue is not used: a landmark model can move a picture's nose as a
            # head's would. Texture points have no such prior.
            alive = _ramp(surface.residual, s.surface_low, s.surface_high)
        score = min(attack, max(alive, s.inconclusive))
        if attack < 0.5:
            verdict = "attack"
        elif alive >= 0.5:
            verdict = "live"
        else:
            verdict = "inconclusive"
        return LivenessResult(
            score=score,
            motion=motion,
            texture=texture,
            border=border,
            frames=n,
            nose_spread=spread,
            moire_peak=peak,
            border_frames=share,
            planarity=planar,
            parallax=plane.parallax,
            nose_shift=plane.shift,
            planarity_verdict=plane.verdict,
            verdict=verdict,
            surface={"solid": 1.0, "flat": 0.0}.get(surface.verdict, 0.5),
            surface_residual=surface.residual,
            surface_deformation=surface.deformation,
            surface_verdict=surface.verdict,
        )

    def _planarity(self) -> PlanarityResult:
        points = [c.points for c in self._cues if c.points is not None]
        if len(points) < max(3, len(self._cues) // 2):
            return PlanarityResult("unavailable", 0.0, 0.0, math.nan, 0)
        return planarity(np.stack(points).astype(np.float64), self.settings.planarity)

    def score(self) -> float:
        return self.result().score
