"""What a gate camera does to the light it receives: exposure, motion blur, noise, JPEG.

Each effect follows the physics of a small CMOS camera, with its parameters in physical
units (``drivers.camera.conditions``):

* exposure: the scene's illumination times the gain the camera's auto-exposure chose. The
  auto-exposure brings a dim scene back to the design level with analogue gain, up to
  ``MAX_GAIN``; below that the picture stays dark. The gain also amplifies the noise.
* motion blur: while the shutter is open the face moves in the picture. A traveller walking
  towards the camera makes the face grow (a zoom about its centre, the growth rate being
  the approach speed over the distance), and the body sways sideways; the blur is the
  average of the picture over the shutter time along both motions.
* sensor noise: shot noise (Poisson: its variance grows with the signal) plus read noise
  (Gaussian), both scaled by the gain, then clipped to 8 bits.
* JPEG: the camera's encoder at its quality setting (the MJPEG stream adds its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gate.types import ImageBGR

F32 = npt.NDArray[np.float32]

MAX_GAIN = 4.0  # the auto-exposure's highest analogue gain
SHOT_NOISE = 0.04  # variance of the shot noise per grey level of signal at gain 1
ZOOM_STEPS = 5  # samples of the picture over the shutter time
AE_RESPONSE = 0.85  # how much of an illumination change the auto-exposure takes back


@dataclass(frozen=True)
class Exposure:
    """What one frame's exposure did: the gain, and the picture's brightness factor."""

    gain: float
    brightness: float


def auto_exposure(light_level: float) -> Exposure:
    """The gain the auto-exposure picks for ``light_level`` (1 = the design level), and what
    brightness results: it takes back most of a change (``AE_RESPONSE``), within its gain."""
    wanted = light_level ** (-AE_RESPONSE)
    gain = min(MAX_GAIN, max(1.0 / MAX_GAIN, wanted))
    return Exposure(gain=gain, brightness=light_level * gain)


@dataclass(frozen=True)
class Motion:
    """How the face moved in the picture while the shutter was open."""

    centre: tuple[float, float]  # the zoom's centre, pixels (the face)
    zoom: float  # relative growth of the face over the shutter time (0.01 = 1 %)
    shift: tuple[float, float]  # sideways travel over the shutter time, pixels


def motion_over_shutter(
    centre: tuple[float, float],
    eye_distance_px: float,
    distance_m: float,
    approach_mps: float,
    sway_px_per_s: tuple[float, float],
    shutter_s: float,
) -> Motion:
    """The picture's motion while the shutter is open. A face at distance Z approaching at
    v grows at v / Z per second (its size is proportional to 1 / Z)."""
    zoom = shutter_s * approach_mps / max(distance_m, 1e-3)
    shift = (sway_px_per_s[0] * shutter_s, sway_px_per_s[1] * shutter_s)
    del eye_distance_px  # the zoom is relative: it does not depend on the face's size
    return Motion(centre=centre, zoom=zoom, shift=shift)


def motion_blur(image: F32, motion: Motion) -> F32:
    """Average the picture over the shutter time: a zoom about the face's centre plus a
    straight shift. Less than half a pixel of motion anywhere on the face leaves it as is."""
    h, w = image.shape[:2]
    reach = 0.5 * max(h, w)  # the largest radius that matters
    zoom_px = motion.zoom * reach
    shift_px = math.hypot(*motion.shift)
    if zoom_px < 0.5 and shift_px < 0.5:
        return image
    steps = max(2, min(ZOOM_STEPS, round(max(zoom_px, shift_px)) + 1))
    total = np.zeros_like(image)
    cx, cy = motion.centre
    for k in range(steps):
        u = k / (steps - 1) - 0.5  # the shutter's midpoint is the rendered moment
        scale = 1.0 + u * motion.zoom
        dx, dy = u * motion.shift[0], u * motion.shift[1]
        matrix = np.array(
            [[scale, 0.0, cx - scale * cx + dx], [0.0, scale, cy - scale * cy + dy]],
            dtype=np.float64,
        )
        total += cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(total / steps, dtype=np.float32)


class NoiseField:
    """Unit Gaussian noise for a run of frames: one field a little larger than a frame,
    drawn once, read at a random offset and sign each frame (drawing 900,000 fresh
    Gaussian numbers per frame would cost more than the rest of the camera)."""

    MARGIN = 48

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
        h, w = shape[:2]
        big = (h + self.MARGIN, w + self.MARGIN, *shape[2:])
        self._field = rng.standard_normal(size=big, dtype=np.float32)
        self._rng = rng
        self._shape = shape

    def next(self) -> F32:
        h, w = self._shape[:2]
        y, x = (int(v) for v in self._rng.integers(0, self.MARGIN, size=2))
        part = self._field[y : y + h, x : x + w]
        return part if self._rng.uniform() < 0.5 else -part


def sensor_noise(image: F32, noise: F32, read_noise: float, gain: float) -> F32:
    """Shot noise (variance ``SHOT_NOISE * gain * signal``) plus read noise (deviation
    ``read_noise * gain``); ``noise`` is unit Gaussian noise of the image's shape."""
    signal = np.clip(image, 0.0, None)
    variance = signal * np.float32(SHOT_NOISE * gain) + np.float32((read_noise * gain) ** 2)
    return np.asarray(image + noise * np.sqrt(variance), dtype=np.float32)


def encode_jpeg(image: F32, quality: int) -> ImageBGR:
    """8 bits, then the camera's JPEG encoder at ``quality`` (decoded back)."""
    pixels: ImageBGR = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return pixels
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), dtype=np.uint8)


def expose(
    radiance: F32,
    noise: NoiseField,
    *,
    light_level: float,
    motion: Motion,
    read_noise: float,
    jpeg_quality: int,
) -> ImageBGR:
    """The whole camera: exposure, motion blur, noise and JPEG, in that order."""
    exposure = auto_exposure(light_level)
    image = np.asarray(radiance * np.float32(exposure.brightness), dtype=np.float32)
    image = motion_blur(image, motion)
    image = sensor_noise(image, noise.next(), read_noise, exposure.gain)
    return encode_jpeg(image, jpeg_quality)
