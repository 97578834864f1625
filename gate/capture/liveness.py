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
* ``pulse`` (``gate.capture.rppg``) and ``blink`` (``gate.capture.blink``): signs of life
  with their own confidence, where the frame rate and the window allow them.

Evidence of an attack (texture, border, a flat surface) lowers the score below the gate's
threshold; evidence of life (surface, else motion; a pulse; a blink) lifts it, but never
above an attack cue; with neither, the face is ``inconclusive`` (0.4): stillness is not
evidence of an attack, but not of life either, and the lane then asks for one action
(``gate.lane.liveness_step``: a challenge) before it refers the traveller.

What it does NOT defend against is in docs/liveness.md: this is a screening heuristic tuned
on the synthetic attacks of ``drivers.camera.synthetic``, not an evaluated PAD subsystem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gate.capture.blink import BlinkResult, BlinkSettings, EyePatches, blinks, eye_patches
from gate.capture.cues import border_sides, moire_peak
from gate.capture.planarity import PlanarityResult, PlanaritySettings, planarity
from gate.capture.quality import LAYOUTS, LandmarkLayout, face_points, layout_for
from gate.capture.rppg import RppgResult, RppgSettings, rppg, skin_colour
from gate.capture.surface import SurfaceSettings, SurfaceTracker
from gate.types import Face, ImageBGR

__all__ = [
    "LivenessChecker",
    "LivenessResult",
    "LivenessSettings",
    "border_sides",
    "moire_peak",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


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
    max_frames: int = 300  # older frames are forgotten (a memory bound) ...
    max_seconds: float = 6.0  # ... and frames older than this, by their timestamps
    nominal_fps: float = 30.0  # frames given without a timestamp count as 1/nominal_fps s
    unknown_motion: float = 0.4  # the motion cue with fewer than min_frames faces
    inconclusive: float = 0.4  # the score when no cue shows an attack and none shows life
    parallax_low: float = 0.05  # planarity parallax (eye distances) at or below which no
    parallax_high: float = 0.08  # 3-D is shown / at or above which a head is certain
    planarity: PlanaritySettings = field(default_factory=PlanaritySettings)
    surface: SurfaceSettings = field(default_factory=SurfaceSettings)
    surface_low: float = 0.006  # surface residual (face widths) at or below which no 3-D
    surface_high: float = 0.009  # is shown / at or above which the face is surely not flat
    rppg: RppgSettings = field(default_factory=RppgSettings)
    blink: BlinkSettings = field(default_factory=BlinkSettings)
    pulse_life: bool = True  # a pulse (rPPG) counts as a sign of life
    blink_life: bool = True  # a blink counts as a sign of life


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
    pulse: float = 0.0  # rPPG confidence, 0..1 (0 where unavailable)
    pulse_snr_db: float = math.nan  # the pulse band's SNR, dB (NaN: unavailable)
    pulse_chance_db: float = math.nan  # the SNR noise alone gives in this window, dB
    pulse_bpm: float = math.nan  # the pulse's frequency, beats per minute
    pulse_verdict: str = "unavailable"  # pulse, none or unavailable
    blink: float = 0.0  # 1: a blink seen, 0: none or unavailable
    blink_count: int = 0
    blink_strength: float = 0.0  # the strongest blink's eye change over its threshold
    blink_verdict: str = "unavailable"  # blink, none or unavailable
    alive: float = 0.0  # the strongest sign of life (surface or motion, pulse, blink)
    attack: float = 1.0  # the weakest attack cue (texture, border, flat surface); < 0.5: attack
    seconds: float = 0.0  # the window's length by the frames' timestamps
    fps: float = 0.0  # frames per second in the window, by the timestamps

    @property
    def cues(self) -> dict[str, float]:
        """Each cue's value in [0, 1] (1 = looks live), by name: for audit and console."""
        return {
            "surface": self.surface,
            "planarity": self.planarity,
            "motion": self.motion,
            "texture": self.texture,
            "border": self.border,
            "pulse": self.pulse,
            "blink": self.blink,
        }


@dataclass(frozen=True)
class _FrameCues:
    time: float  # seconds (the frame's timestamp)
    nose_along: float
    nose_across: float
    moire_peak: float
    border_sides: int
    points: F32 | None  # eye, eye, nose tip, mouth corners (planarity); None: not given
    skin: F64 | None  # mean (R, G, B) of the skin patches (rPPG)
    eyes: EyePatches  # the eyes' patches (blinks)


def _ramp(value: float, low: float, high: float) -> float:
    """0 at ``low`` or below, 1 at ``high`` or above, linear between."""
    if high == low:
        return 1.0 if value >= high else 0.0
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def _smooth(values: F64) -> F64:
    """A running median of 3: one frame's landmark jitter is not head motion."""
    if len(values) < 3:
        return values
    padded = np.concatenate([values[:1], values, values[-1:]])
    stacked = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    return np.asarray(np.median(stacked, axis=0), dtype=np.float64)


def _motion_spread(values: F64, times: F64, jitter_span_s: float = 0.35) -> float:
    """Spread (10th to 90th percentile) of the smoothed series, less 2.5 times the landmark
    jitter, so that a model that jitters on a turned or blurred face does not make a rigid
    picture look alive. The jitter comes from second differences, which a slow head turn
    hardly moves: for white noise of deviation s they have deviation s * sqrt(6). A turn
    moves them by the square of the frames' spacing, so only triples of frames at most
    ``jitter_span_s`` apart (by their timestamps) count; on a lane that gets few frames a
    second (a loaded machine), the three closest triples."""
    smooth = _smooth(values)
    spread = float(np.percentile(smooth, 90) - np.percentile(smooth, 10))
    if len(values) < 4:
        return spread
    second = np.abs(values[2:] - 2 * values[1:-1] + values[:-2])
    span = times[2:] - times[:-2]
    close = span <= jitter_span_s
    if np.count_nonzero(close) < 3:
        close = span <= np.sort(span)[min(2, len(span) - 1)]
    jitter = 1.4826 * float(np.median(second[close])) / math.sqrt(6.0)
    return max(0.0, spread - 2.5 * jitter)


def _rate(cues: list[_FrameCues]) -> float:
    span = cues[-1].time - cues[0].time
    return (len(cues) - 1) / span if span > 0 else 0.0


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

    def add(self, image: ImageBGR, face: Face, timestamp: float | None = None) -> None:
        """One frame's face. ``timestamp``: when the frame was taken (seconds, any origin;
        the camera's ``Frame.timestamp``); without it, frames count as 1/nominal_fps s apart.
        The pulse and blink cues, and the window's length, go by these times, so a lane
        that gets fewer frames (a loaded machine) measures the same seconds."""
        s = self.settings
        if timestamp is None:
            last = self._cues[-1].time if self._cues else 0.0
            timestamp = last + 1.0 / s.nominal_fps if self._cues else 0.0
        points = face_points(face.landmarks, self.layout)
        along, across = points.nose_offsets()
        box = face.detection.box
        self._cues.append(
            _FrameCues(
                time=float(timestamp),
                nose_along=along,
                nose_across=across,
                moire_peak=moire_peak(image, box),
                border_sides=border_sides(image, box, s.border_margin),
                points=_planar_points(face, self.layout),
                skin=skin_colour(image, points),
                eyes=eye_patches(image, points),
            )
        )
        self._surface.add(image, box, float(timestamp))
        oldest = float(timestamp) - s.max_seconds
        while self._cues and (len(self._cues) > s.max_frames or self._cues[0].time < oldest):
            del self._cues[0]

    def result(self) -> LivenessResult:
        s = self.settings
        n = len(self._cues)
        if n == 0:
            return LivenessResult(0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0)
        times = self._times()
        spread = max(
            _motion_spread(np.array([c.nose_along for c in self._cues]), times),
            0.5 * _motion_spread(np.array([c.nose_across for c in self._cues]), times),
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
        pulse, blink = self._pulse(), self._blinks()
        # A pulse or a blink is life on a still face; neither outweighs an attack cue.
        if s.pulse_life:
            alive = max(alive, pulse.confidence)
        if s.blink_life and blink.verdict == "blink":
            alive = max(alive, 1.0)
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
            pulse=pulse.confidence,
            pulse_snr_db=pulse.snr_db,
            pulse_chance_db=pulse.chance_db,
            pulse_bpm=pulse.bpm,
            pulse_verdict=pulse.verdict,
            blink=1.0 if blink.verdict == "blink" else 0.0,
            blink_count=blink.blinks,
            blink_strength=blink.strength,
            blink_verdict=blink.verdict,
            alive=alive,
            attack=attack,
            seconds=self._cues[-1].time - self._cues[0].time,
            fps=pulse.fps if pulse.fps else _rate(self._cues),
        )

    def _times(self) -> F64:
        return np.array([c.time for c in self._cues], dtype=np.float64)

    def _pulse(self) -> RppgResult:
        kept = [c for c in self._cues if c.skin is not None]
        if not kept:
            return RppgResult("unavailable", 0.0, math.nan, math.nan, math.nan, 0.0, 0.0)
        times = np.array([c.time for c in kept], dtype=np.float64)
        colours = np.stack([c.skin for c in kept if c.skin is not None])
        return rppg(times, colours, self.settings.rppg)

    def _blinks(self) -> BlinkResult:
        return blinks(self._times(), [c.eyes for c in self._cues], self.settings.blink)

    def _planarity(self) -> PlanarityResult:
        points = [c.points for c in self._cues if c.points is not None]
        if len(points) < max(3, len(self._cues) // 2):
            return PlanarityResult("unavailable", 0.0, 0.0, math.nan, 0)
        return planarity(np.stack(points).astype(np.float64), self.settings.planarity)

    def score(self) -> float:
        return self.result().score
