"""The presentation attacks of the synthetic scenes: a flat picture of the face, printed on
paper or shown on a phone's screen, held up to the camera and warped rigidly into the frame
(``drivers.camera._render`` paints the rest of each frame).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from drivers.camera.scene import F64
from gate.types import ImageBGR

F32 = npt.NDArray[np.float32]


def planar_photo(
    canvas: F32,
    texture: F32,
    photo_points: F64,
    anchor: F64,
    centre: F64,
    scale: float,
    angles: tuple[float, float, float],
) -> tuple[F64, F32]:
    """Warp a flat picture (paper or screen) rigidly into the frame; return points, mask."""
    h, w = canvas.shape[:2]
    th, tw = texture.shape[:2]
    yaw, pitch, roll = angles
    corners = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], dtype=np.float64)

    def place(p: F64) -> F64:
        x = (p[:, 0] - anchor[0]) * scale
        y = (p[:, 1] - anchor[1]) * scale
        z = np.zeros_like(x)
        # rotate the plane in 3D (roll, then pitch, then yaw) and project
        x, y = x * math.cos(roll) - y * math.sin(roll), x * math.sin(roll) + y * math.cos(roll)
        y, z = y * math.cos(pitch) - z * math.sin(pitch), y * math.sin(pitch) + z * math.cos(pitch)
        x, z = x * math.cos(yaw) + z * math.sin(yaw), -x * math.sin(yaw) + z * math.cos(yaw)
        focal = 1.2 * w
        return np.stack(
            [focal * x / (focal + z) + centre[0], focal * y / (focal + z) + centre[1]], 1
        )

    homography = cv2.getPerspectiveTransform(
        corners.astype(np.float32), place(corners).astype(np.float32)
    )
    warped = cv2.warpPerspective(texture, homography, (w, h), flags=cv2.INTER_LINEAR)
    mask: F32 = np.asarray(
        cv2.warpPerspective(
            np.ones((th, tw), np.float32), homography, (w, h), flags=cv2.INTER_LINEAR
        ),
        dtype=np.float32,
    )[..., None]
    canvas[:] = canvas * (1 - mask) + warped * mask
    return place(photo_points), mask


def print_texture(photo: ImageBGR) -> tuple[F32, float]:
    h, w = photo.shape[:2]
    margin = round(0.12 * min(h, w))
    grey = photo.astype(np.float32).mean(axis=2, keepdims=True)
    ink = 0.8 * photo.astype(np.float32) + 0.2 * grey  # a printer's duller colours
    ink = ink * 0.72 + 38.0  # paper white and ink black squeeze the dynamic range
    paper = np.full((h + 2 * margin, w + 2 * margin, 3), 235.0, np.float32)
    paper[margin : margin + h, margin : margin + w] = ink
    return paper, float(margin)


def screen_texture(photo: ImageBGR) -> tuple[F32, float, int]:
    """The photo as a phone shows it: subpixel grid (3x), colour shift, black bezel."""
    zoom = 3
    shown = photo.astype(np.float32)
    shown = 255.0 * (shown / 255.0) ** 0.85 * np.array([1.1, 1.0, 0.9], np.float32)
    big: F32 = np.asarray(
        cv2.resize(shown, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST), np.float32
    )
    grid = np.ones((zoom, zoom), np.float32)
    grid[zoom - 1, :] = 0.55
    grid[:, zoom - 1] = 0.55
    hh, ww = big.shape[:2]
    big *= np.tile(grid, (hh // zoom, ww // zoom))[..., None]
    bezel = round(0.1 * min(hh, ww))
    texture = np.full((hh + 2 * bezel, ww + int(2 * bezel), 3), 18.0, np.float32)
    texture[bezel : bezel + hh, bezel : bezel + ww] = np.clip(big, 0, 255)
    return texture, float(bezel), zoom
