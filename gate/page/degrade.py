"""The scanner's view of a page: the page laid on a surface at any angle, seen in perspective,
out of focus, under a lamp's glare or in low light, with sensor noise and JPEG compression.

``random_degradation(rng)`` draws a mix; ``degrade(image, rng, spec)`` applies one (drawn
when ``spec`` is None). Everything comes from ``rng``, so a seeded run is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gate.types import FloatArray as Floats
from gate.types import ImageBGR


@dataclass(frozen=True)
class Degradation:
    """One view of a page. ``rotation`` is in degrees (any angle); ``perspective`` is how far
    each corner moves, as a fraction of the page's shorter side; ``scale`` resizes the page;
    ``blur`` is a Gaussian sigma in output pixels; ``glare`` (0-1) is the strength of a bright
    spot; ``light`` (0-1] multiplies the brightness; ``noise`` is a sigma in grey levels;
    ``jpeg_quality`` is None for no compression."""

    rotation: float = 0.0
    perspective: float = 0.0
    scale: float = 1.0
    blur: float = 0.0
    glare: float = 0.0
    light: float = 1.0
    noise: float = 0.0
    jpeg_quality: int | None = None


def random_degradation(rng: np.random.Generator) -> Degradation:
    """A mix of degradations: a quarter turn or none plus a skew, usually some perspective,
    and each of blur, glare, low light, noise and JPEG with its own chance."""
    rotation = float(rng.choice([0.0, 90.0, 180.0, 270.0]) + rng.normal(0.0, 6.0))
    if rng.random() < 0.15:
        rotation = float(rng.uniform(0.0, 360.0))
    return Degradation(
        rotation=rotation,
        perspective=float(rng.uniform(0.0, 0.06)) if rng.random() < 0.7 else 0.0,
        scale=float(rng.uniform(0.75, 1.15)),
        blur=float(rng.uniform(0.4, 1.4)) if rng.random() < 0.5 else 0.0,
        glare=float(rng.uniform(0.3, 0.8)) if rng.random() < 0.3 else 0.0,
        light=float(rng.uniform(0.35, 0.8)) if rng.random() < 0.3 else 1.0,
        noise=float(rng.uniform(2.0, 8.0)) if rng.random() < 0.5 else 0.0,
        jpeg_quality=int(rng.integers(35, 90)) if rng.random() < 0.6 else None,
    )


def _warp(image: ImageBGR, spec: Degradation, rng: np.random.Generator) -> ImageBGR:
    height, width = image.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    jitter = rng.uniform(-1.0, 1.0, (4, 2)) * spec.perspective * min(width, height)
    moved = (corners + jitter) * spec.scale
    angle = np.deg2rad(spec.rotation)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = moved @ turn.T
    margin = 0.06 * max(width, height) * spec.scale
    moved -= moved.min(axis=0) - margin
    out_w, out_h = (moved.max(axis=0) + margin).round().astype(int)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), moved.astype(np.float32))
    surface = tuple(int(v) for v in rng.integers(30, 90, 3))
    warped = cv2.warpPerspective(
        image,
        matrix,
        (int(out_w), int(out_h)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=surface,
    )
    return np.asarray(warped, np.uint8)


def _glare(image: Floats, strength: float, rng: np.random.Generator) -> Floats:
    height, width = image.shape[:2]
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    radius = rng.uniform(0.12, 0.3) * max(width, height)
    ys, xs = np.ogrid[:height, :width]
    spot = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2)).astype(np.float32)
    return np.asarray(image + (255.0 - image) * (strength * spot)[..., None], np.float32)


def degrade(image: ImageBGR, rng: np.random.Generator, spec: Degradation | None = None) -> ImageBGR:
    """``image`` as a scanner or camera would see it under ``spec`` (drawn from ``rng`` when
    None). The result is a new uint8 BGR image, larger than the page when it is turned."""
    if spec is None:
        spec = random_degradation(rng)
    out = _warp(image, spec, rng)
    if spec.blur > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), spec.blur), np.uint8)
    pixels = out.astype(np.float32)
    if spec.glare > 0:
        pixels = _glare(pixels, spec.glare, rng)
    if spec.light < 1.0:
        pixels *= spec.light
    if spec.noise > 0:
        pixels += rng.normal(0.0, spec.noise, pixels.shape[:2])[..., None].astype(np.float32)
    out = np.clip(pixels, 0, 255).astype(np.uint8)
    if spec.jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
        if ok:
            out = np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), np.uint8)
    return out
