"""Presentation attacks made in code from bona fide clips, for ``egate bench pad --videos``.

Each instrument is a function of the bona fide frames that returns the frames a camera
would see. They are simulations: they show whether a cue reacts to the geometry or the
texture of an attack, not how real paper or screens look.

* ``still``: one frame of the clip, shown without motion (a photo on a stand), with a
  little sensor noise in every frame.
* ``zoomed_still``: the same, cut around the middle at 1.6x and enlarged (a photo held
  close to the lens).
* ``turned_<deg>_<near|far>``: one frame as a flat picture turned about its vertical axis
  through the face, back and forth between -deg and +deg (one cycle in 2 s), by the
  homography a pinhole camera gives, at one picture width from the camera (``near``) or
  2.5 widths (``far``), with a slow hand drift; the picture is scaled so that it fills the
  same part of the frame unturned. Around it: the clip's first frame, blurred.
* ``screen``: the clip played on a screen: each frame enlarged 3x, multiplied by an RGB
  sub-pixel grid, turned by 2 degrees and shrunk back without anti-aliasing, which folds
  the grid into moiré, as a camera filming a screen does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from gate.types import ImageBGR

Instrument = Callable[[Sequence[ImageBGR], float, int], list[ImageBGR]]


def _noisy(image: ImageBGR, rng: np.random.Generator, sigma: float = 2.0) -> ImageBGR:
    noise = rng.normal(0.0, sigma, image.shape)
    return np.asarray(np.clip(image.astype(np.float64) + noise, 0, 255), dtype=np.uint8)


def still(frames: Sequence[ImageBGR], fps: float, seed: int) -> list[ImageBGR]:
    rng = np.random.default_rng(seed)
    base = frames[len(frames) // 2]
    return [_noisy(base, rng) for _ in frames]


def zoomed_still(frames: Sequence[ImageBGR], fps: float, seed: int) -> list[ImageBGR]:
    rng = np.random.default_rng(seed)
    base = frames[len(frames) // 2]
    h, w = base.shape[:2]
    ch, cw = int(h / 1.6), int(w / 1.6)
    top, left = (h - ch) // 2, (w - cw) // 2
    zoomed = cv2.resize(base[top : top + ch, left : left + cw], (w, h))
    return [_noisy(np.asarray(zoomed, np.uint8), rng) for _ in frames]


def plane_homography(
    angle_deg: float, distance: float, centre: tuple[float, float], shift: tuple[float, float]
) -> npt.NDArray[np.float64]:
    """The homography from a flat picture's pixels to the image of that picture turned by
    ``angle_deg`` about the vertical axis through ``centre``, seen by a pinhole camera whose
    focal length equals ``distance`` (pixels), so that the unturned picture maps onto itself."""
    cx, cy = centre
    a = math.radians(angle_deg)
    rot = np.array(
        [[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]]
    )
    camera = np.array([[distance, 0.0, cx + shift[0]], [0.0, distance, cy + shift[1]], [0, 0, 1]])
    plane = np.column_stack([rot[:, 0], rot[:, 1], [0.0, 0.0, distance]])
    to_plane = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    return np.asarray(camera @ plane @ to_plane, dtype=np.float64)


def turned(angle: float, widths: float) -> Instrument:
    def make(frames: Sequence[ImageBGR], fps: float, seed: int) -> list[ImageBGR]:
        rng = np.random.default_rng(seed)
        base = frames[len(frames) // 2]
        h, w = base.shape[:2]
        backdrop = cv2.GaussianBlur(frames[0], (0, 0), 12)
        phase = rng.uniform(0, 2 * math.pi)
        out = []
        for i in range(len(frames)):
            t = i / fps
            theta = angle * math.sin(math.pi * t + phase)  # one cycle every 2 s
            drift = (6.0 * math.sin(0.7 * t + phase), 4.0 * math.sin(0.5 * t))
            homography = plane_homography(theta, widths * w, (w / 2, h / 2), drift)
            image = cv2.warpPerspective(
                base, homography, (w, h), borderMode=cv2.BORDER_TRANSPARENT, dst=backdrop.copy()
            )
            out.append(_noisy(np.asarray(image, np.uint8), rng))
        return out

    return make


_GRID = np.array(
    [[[255, 40, 40], [40, 255, 40], [40, 40, 255]]], dtype=np.float64
)  # one pixel of B, G, R sub-pixels (BGR order), repeated


def screen(frames: Sequence[ImageBGR], fps: float, seed: int) -> list[ImageBGR]:
    rng = np.random.default_rng(seed)
    h, w = frames[0].shape[:2]
    big_w, big_h = 3 * w, 3 * h
    stripes = np.tile(_GRID, (1, w, 1))[:, :big_w]  # (1, big_w, 3)
    grid = np.repeat(stripes, big_h, axis=0) / 255.0
    grid[2::3] *= 0.55  # the dark gap between pixel rows
    turn = cv2.getRotationMatrix2D((big_w / 2, big_h / 2), 2.0, 1.0 / 3.0)
    turn[:, 2] -= [w, h]  # the big picture's centre onto the small one's
    out = []
    for frame in frames:
        big = cv2.resize(frame, (big_w, big_h), interpolation=cv2.INTER_NEAREST).astype(float)
        lit = np.clip(big * grid * 1.6, 0, 255).astype(np.uint8)
        small = cv2.warpAffine(lit, turn, (w, h), flags=cv2.INTER_NEAREST)
        out.append(_noisy(np.asarray(small, np.uint8), rng))
    return out


INSTRUMENTS: dict[str, Instrument] = {
    "still": still,
    "zoomed_still": zoomed_still,
    **{
        f"turned_{deg}_{name}": turned(float(deg), widths)
        for deg in (15, 20, 30)
        for name, widths in (("near", 1.0), ("far", 2.5))
    },
    "screen": screen,
}
