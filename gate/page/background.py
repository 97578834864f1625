"""The security background of a data page: a pale tint, guilloche waves and a rosette.

Drawn once per (format, scale, seed) and kept: every page of a format shares its background,
as every passport of a series does.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from gate.page.layout import LAYOUTS, PageFormat
from gate.types import ImageBGR

_TINTS = ((236, 244, 232), (238, 236, 246), (244, 238, 230), (232, 240, 246))


def _waves(canvas: ImageBGR, rng: np.random.Generator, colour: tuple[int, int, int]) -> None:
    height, width = canvas.shape[:2]
    xs = np.arange(0, width, 2, dtype=np.float64)
    spacing = max(3.0, height / 60.0)
    wavelength = width / rng.uniform(2.5, 4.0)
    amplitude = spacing * rng.uniform(2.0, 3.5)
    for k, y0 in enumerate(np.arange(-amplitude, height + amplitude, spacing)):
        phase = 0.35 * k
        ys = y0 + amplitude * np.sin(2 * np.pi * xs / wavelength + phase)
        ys += 0.3 * amplitude * np.sin(2 * np.pi * xs / (wavelength / 3.1) - phase)
        points = np.stack([xs, ys], axis=1).round().astype(np.int32)
        cv2.polylines(canvas, [points], False, colour, 1, cv2.LINE_AA)


def _rosette(
    canvas: ImageBGR,
    centre: tuple[float, float],
    radius: float,
    rng: np.random.Generator,
    colour: tuple[int, int, int],
) -> None:
    t = np.linspace(0, 2 * np.pi * 7, 4000)
    petals = int(rng.integers(9, 15))
    for ring in np.linspace(0.45, 1.0, 6):
        r_outer, r_inner = radius * ring, radius * ring / petals
        xs = (r_outer - r_inner) * np.cos(t) + 0.8 * radius * ring * np.cos(t * petals) / petals
        ys = (r_outer - r_inner) * np.sin(t) - 0.8 * radius * ring * np.sin(t * petals) / petals
        points = np.stack([xs + centre[0], ys + centre[1]], axis=1).round().astype(np.int32)
        cv2.polylines(canvas, [points], False, colour, 1, cv2.LINE_AA)


@lru_cache(maxsize=16)
def _cached(kind: PageFormat, px_per_mm: float, seed: int) -> ImageBGR:
    layout = LAYOUTS[kind]
    width, height = round(layout.width * px_per_mm), round(layout.height * px_per_mm)
    rng = np.random.default_rng(seed)
    tint = _TINTS[int(rng.integers(len(_TINTS)))]
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = tint
    line = tuple(int(c) - int(rng.integers(28, 44)) for c in tint)
    _waves(canvas, rng, (line[0], line[1], line[2]))
    rose = tuple(int(c) - int(rng.integers(30, 50)) for c in tint)
    centre = (width * rng.uniform(0.55, 0.75), height * rng.uniform(0.3, 0.5))
    _rosette(canvas, centre, height * 0.3, rng, (rose[0], rose[1], rose[2]))
    # The MRZ band is kept paler (9303-3: the clear area behind the MRZ has low reflectance
    # contrast), as printed documents do.
    top = round(layout.mrz_top * px_per_mm)
    band = canvas[top:].astype(np.int16)
    canvas[top:] = (255 - (255 - band) // 3).astype(np.uint8)
    canvas.setflags(write=False)
    return canvas


def background(kind: PageFormat, px_per_mm: float, seed: int = 0) -> ImageBGR:
    """A writable copy of the background of ``kind`` at ``px_per_mm`` pixels per millimetre."""
    return _cached(kind, px_per_mm, seed).copy()
