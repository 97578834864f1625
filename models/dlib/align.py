"""Face chips cut like dlib's ``get_face_chip`` (150x150, padding 0.25) without dlib.

The dlib embedder was trained on chips made this way; cutting them differently (a plain
``cv2.warpAffine``) moves descriptors by 0.006-0.025 and skipping dlib's halving pyramid
by up to 0.095 (Euclidean, on a 0.6 threshold), so every step is reproduced:

1. a least-squares similarity (Umeyama) from the 5-point template to the landmarks gives an
   angle, a scale and a rectangle of ``size * scale - 1`` image pixels around the image of
   the chip centre;
2. while that rectangle is more than the chip's area after halving, the cropped image is
   halved with dlib's pyramid_down<2> (5x5 [1 4 6 4 1] filter, integer sum / 256,
   truncated; a point maps to p / 2 - (1.25, 0.75));
3. each chip pixel is sampled bilinearly in double precision and truncated to uint8;
   samples whose 2x2 neighbourhood leaves the image are 0.

Exactness: the chip-to-image mapping is solved in closed form where dlib uses a pseudo-
inverse, so a sample can differ by one grey level where a value lands exactly on an
integer; measured against dlib-bin the maximum difference is 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gate.errors import InputError
from gate.types import ImageBGR, Landmarks5

F64 = npt.NDArray[np.float64]

# dlib's mean 5-point face shape (get_face_chip_details), in units of the unpadded chip:
# outer/inner corner of the image-right eye, outer/inner corner of the image-left eye, nose.
DLIB_TEMPLATE_5 = np.array(
    [
        (0.8595674595992, 0.2134981538014),
        (0.6460604764104, 0.2289674387677),
        (0.1205750620789, 0.2137274526848),
        (0.3340850613712, 0.2290642403242),
        (0.4901123135679, 0.6277975316475),
    ],
    dtype=np.float64,
)


def similarity_transform(src: npt.ArrayLike, dst: npt.ArrayLike) -> F64:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst.

    Umeyama's method, as dlib's ``find_similarity_transform``: returns the (2, 3) matrix
    [A | t] with dst ~= A @ src + t. ``src`` and ``dst`` are (n, 2), n >= 2.
    """
    source = np.asarray(src, dtype=np.float64)
    target = np.asarray(dst, dtype=np.float64)
    if source.ndim != 2 or source.shape[1] != 2 or source.shape != target.shape:
        raise InputError(f"point sets must both be (n, 2), got {source.shape} and {target.shape}")
    if len(source) < 2:
        raise InputError("a similarity transform needs at least 2 point pairs")
    if not (np.isfinite(source).all() and np.isfinite(target).all()):
        raise InputError("a similarity transform needs finite points (found NaN or inf)")
    mean_src = source.mean(axis=0)
    mean_dst = target.mean(axis=0)
    centred_src = source - mean_src
    centred_dst = target - mean_dst
    sigma_src = float(np.sum(centred_src * centred_src)) / len(source)
    cov = centred_dst.T @ centred_src / len(source)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    det_cov = np.linalg.det(cov)
    if det_cov < 0 or (det_cov == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        if d[1] < d[0]:
            s[1, 1] = -1
        else:
            s[0, 0] = -1
    rotation = u @ s @ vt
    scale = float(np.trace(np.diag(d) @ s)) / sigma_src if sigma_src != 0 else 1.0
    translation = mean_dst - scale * rotation @ mean_src
    out = np.empty((2, 3), dtype=np.float64)
    out[:, :2] = scale * rotation
    out[:, 2] = translation
    return out


@dataclass(frozen=True)
class ChipDetails:
    """dlib's chip_details: a rotated rectangle (inclusive float corners) and the chip size."""

    left: float
    top: float
    right: float
    bottom: float
    angle: float
    rows: int
    cols: int


def face_chip_details(points: npt.ArrayLike, size: int = 150, padding: float = 0.25) -> ChipDetails:
    """Where dlib would cut a ``size`` x ``size`` chip for these 5 landmarks."""
    landmarks = np.asarray(points, dtype=np.float64)
    if landmarks.shape != (5, 2):
        raise InputError(f"dlib chips need 5 landmarks (5, 2), got {landmarks.shape}")
    if size < 1 or padding < 0:
        raise InputError(f"invalid chip size {size} or padding {padding}")
    template = (padding + DLIB_TEMPLATE_5) / (2 * padding + 1) * size
    tform = similarity_transform(template, landmarks)
    px, py = tform[0, 0], tform[1, 0]  # the image of the unit vector (1, 0)
    scale = math.hypot(px, py)
    centre = tform[:, :2] @ np.array([size / 2.0, size / 2.0]) + tform[:, 2]
    # dlib's centered_drect takes one pixel off the width and height.
    half = (size * scale - 1) / 2
    return ChipDetails(
        left=centre[0] - half,
        top=centre[1] - half,
        right=centre[0] + half,
        bottom=centre[1] + half,
        angle=math.atan2(py, px),
        rows=size,
        cols=size,
    )


# ------------------------------------------------------------------------ dlib's geometry
Rect = tuple[float, float, float, float]  # left, top, right, bottom (inclusive)


def _rect_down(rect: Rect) -> Rect:
    left, top, right, bottom = rect
    return (left / 2.0 - 1.25, top / 2.0 - 0.75, right / 2.0 - 1.25, bottom / 2.0 - 0.75)


def _area(rect: Rect) -> float:
    left, top, right, bottom = rect
    if top > bottom or left > right:
        return 0.0
    return (right - left + 1) * (bottom - top + 1)


def _lround(value: float) -> int:
    """C's lround: halves away from zero."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def _rotate(centre: tuple[float, float], x: float, y: float, angle: float) -> tuple[float, float]:
    sin_a, cos_a = math.sin(angle), math.cos(angle)
    dx, dy = x - centre[0], y - centre[1]
    return (cos_a * dx - sin_a * dy + centre[0], sin_a * dx + cos_a * dy + centre[1])


def pyramid_down_2(image: ImageBGR) -> ImageBGR:
    """dlib's pyramid_down<2> for 3-channel images: (H-3)//2 x (W-3)//2, filter [1 4 6 4 1]."""
    height, width = image.shape[:2]
    if height <= 8 or width <= 8:
        return np.zeros((0, 0, 3), dtype=np.uint8)
    out_h, out_w = (height - 3) // 2, (width - 3) // 2
    pixels = image.astype(np.uint16)  # the largest sum, 16 * 16 * 255, fits in uint16

    def taps(array: npt.NDArray[np.uint16], axis: int, count: int) -> npt.NDArray[np.uint16]:
        def tap(k: int) -> npt.NDArray[np.uint16]:
            index = [slice(None)] * 3
            index[axis] = slice(k, k + 2 * count - 1, 2)
            return array[tuple(index)]

        summed: npt.NDArray[np.uint16] = tap(0) + 4 * tap(1) + 6 * tap(2) + 4 * tap(3) + tap(4)
        return summed

    filtered = taps(taps(pixels, 1, out_w), 0, out_h)
    return (filtered // 256).astype(np.uint8)


def _bilinear(source: ImageBGR, x: F64, y: F64) -> ImageBGR:
    """dlib's interpolate_bilinear on every (x, y); 0 where the 2x2 block leaves the image."""
    height, width = source.shape[:2]
    left = np.floor(x)
    top = np.floor(y)
    valid = (left >= 0) & (top >= 0) & (left + 1 < width) & (top + 1 < height)
    li = np.where(valid, left, 0).astype(np.intp)
    ti = np.where(valid, top, 0).astype(np.intp)
    lr = (x - left)[..., None]
    tb = (y - top)[..., None]
    flat = source.reshape(-1, 3)
    index = ti * width + li
    tl = flat.take(index, axis=0).astype(np.float64)
    tr = flat.take(index + 1, axis=0).astype(np.float64)
    bl = flat.take(index + width, axis=0).astype(np.float64)
    br = flat.take(index + width + 1, axis=0).astype(np.float64)
    # Same operation order as dlib, in double precision; truncation like static_cast.
    value = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * br)
    out: ImageBGR = value.astype(np.uint8)
    out[~valid] = 0
    return out


def extract_chip(image: ImageBGR, details: ChipDetails) -> ImageBGR:
    """dlib's extract_image_chip with bilinear interpolation (its default)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    if details.rows < 2 or details.cols < 2:
        raise InputError(f"chip must be at least 2x2, got {details.rows}x{details.cols}")
    chip_size = details.rows * details.cols
    rect: Rect = (details.left, details.top, details.right, details.bottom)
    # How many halvings until the rectangle is no bigger than the chip, and how much border
    # each level needs (dlib grows the crop by 2, 6, 14, ... pixels).
    depth, grow = 0, 2.0
    down = _rect_down(rect)
    while _area(down) > chip_size:
        down = _rect_down(down)
        depth += 1
        grow = grow * 2 + 2
    centre = ((rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0)
    corners = [
        _rotate(centre, x, y, details.angle)
        for x, y in ((rect[0], rect[1]), (rect[2], rect[1]), (rect[0], rect[3]), (rect[2], rect[3]))
    ]
    height, width = image.shape[:2]
    crop_left = _lround(max(min(c[0] for c in corners) - grow, 0.0))
    crop_top = _lround(max(min(c[1] for c in corners) - grow, 0.0))
    crop_right = _lround(min(max(c[0] for c in corners) + grow, width - 1.0))
    crop_bottom = _lround(min(max(c[1] for c in corners) + grow, height - 1.0))
    if crop_left > crop_right or crop_top > crop_bottom:
        return np.zeros((details.rows, details.cols, 3), dtype=np.uint8)
    source = image[crop_top : crop_bottom + 1, crop_left : crop_right + 1]
    local: Rect = (rect[0] - crop_left, rect[1] - crop_top, rect[2] - crop_left, rect[3] - crop_top)
    while _area(_rect_down(local)) > chip_size:
        source = pyramid_down_2(source)
        local = _rect_down(local)
    local_centre = ((local[0] + local[2]) / 2.0, (local[1] + local[3]) / 2.0)
    tl = _rotate(local_centre, local[0], local[1], details.angle)
    tr = _rotate(local_centre, local[2], local[1], details.angle)
    bl = _rotate(local_centre, local[0], local[3], details.angle)
    # The affine map sending chip corners (0,0), (cols-1,0), (0,rows-1) to tl, tr, bl.
    ax = (tr[0] - tl[0]) / (details.cols - 1)
    ay = (tr[1] - tl[1]) / (details.cols - 1)
    bx = (bl[0] - tl[0]) / (details.rows - 1)
    by = (bl[1] - tl[1]) / (details.rows - 1)
    rows, cols = np.mgrid[0 : details.rows, 0 : details.cols].astype(np.float64)
    x = (ax * cols + bx * rows) + tl[0]
    y = (ay * cols + by * rows) + tl[1]
    return _bilinear(source, x, y)


def dlib_chip(
    image: ImageBGR, landmarks: Landmarks5, size: int = 150, padding: float = 0.25
) -> ImageBGR:
    """The aligned face chip dlib's embedder expects (same channel order as ``image``)."""
    if size < 2:
        raise InputError(f"chip size must be at least 2, got {size}")
    return extract_chip(image, face_chip_details(landmarks.as_array(), size, padding))
