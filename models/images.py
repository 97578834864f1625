"""Robust image loading: every picture the gate or the CLI reads goes through here.

Policy (documented in docs/models.md):
- The format is found from the content, never from the file name (a WebP named ``.jpg`` is
  a WebP). OpenCV decodes first; Pillow is the fallback (chroma-subsampled JPEG 2000 from
  ePassport DG2, formats OpenCV lacks).
- The result is always uint8 BGR (H, W, 3): greyscale is expanded, 16-bit is scaled to
  8-bit, alpha is dropped, EXIF orientation is applied.
- Pictures over ``MAX_PIXELS`` are REFUSED, not downscaled: the size is read from the header
  before decoding, so a decompression bomb costs nothing; a real camera frame or passport
  photo is far below the limit, so a huge picture is almost certainly a mistake or an attack.
- Pictures with a side under ``MIN_SIDE`` are refused: no face detector can work on them.
- Only regular files are read (never a FIFO, a device or a directory), at most
  ``MAX_FILE_BYTES``.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np

from gate.errors import ImageError
from gate.files import read_regular_file
from gate.types import ImageBGR

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000
# An uncompressed 50-megapixel 16-bit RGB TIFF is 300 MB; no picture worth decoding is larger.
MAX_FILE_BYTES = 512 * 1024 * 1024
MIN_SIDE = 32


def load_image(path: Path | str) -> ImageBGR:
    """Read and decode one picture file; ``ImageError`` names the file and the problem.

    Only a regular file is opened: a FIFO would block for ever, a device (``/dev/zero``)
    would never end, a directory cannot be read."""
    file = Path(path)
    data = read_regular_file(file, "image", max_bytes=MAX_FILE_BYTES, error=ImageError)
    return decode_image(data, str(file))


def decode_image(data: bytes, name: str) -> ImageBGR:
    """Decode picture bytes (``name`` only labels error messages)."""
    if len(data) == 0:
        raise ImageError(f"{name}: empty file (0 bytes)")
    header_size = _header_size(data, name)
    if header_size is not None:
        _check_size(name, *header_size)
    image = _decode_opencv(data)
    if image is None:
        image = _decode_pillow(data, name)
    if image is None:
        raise ImageError(f"{name}: not a readable image ({_describe_content(data)})")
    height, width = image.shape[:2]
    _check_size(name, width, height)
    return image


def _check_size(name: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name}: image is {width}x{height} ({width * height / 1e6:.1f} megapixels), "
            f"over the {MAX_PIXELS / 1e6:.0f}-megapixel limit; downscale it first"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"{name}: image is {width}x{height} pixels, too small for face analysis "
            f"(at least {MIN_SIDE}x{MIN_SIDE} needed)"
        )


def _header_size(data: bytes, name: str) -> tuple[int, int] | None:
    """(width, height) from the header alone, without decoding pixels; None if unknown."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Our own limit is stricter than Pillow's bomb warning; no need for its noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None  # Pillow cannot tell; OpenCV may still know the format
    return int(width), int(height)


def _decode_opencv(data: bytes) -> ImageBGR | None:
    import cv2

    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        # IMREAD_COLOR: grey -> BGR, 16-bit -> 8-bit, alpha dropped, EXIF orientation applied.
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        return None
    return np.ascontiguousarray(image)


def _decode_pillow(data: bytes, name: str) -> ImageBGR | None:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                picture = ImageOps.exif_transpose(opened)
                picture.load()
    except (UnidentifiedImageError, SyntaxError):
        return None
    except (OSError, ValueError) as exc:
        raise ImageError(f"{name}: damaged image data ({exc})") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from exc
    log.debug("decoded %s with Pillow (mode %s)", name, picture.mode)
    if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = np.asarray(picture, dtype=np.float64)
        peak = 65535.0 if picture.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey8 = np.clip(grey * (255.0 / peak), 0, 255).astype(np.uint8)
        rgb = np.repeat(grey8[:, :, None], 3, axis=2)
    else:
        rgb = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _describe_content(data: bytes) -> str:
    head = data[:64]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"unknown format, first bytes {head[:8].hex(' ')}"
    if text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text):
        return "the content is text"
    return f"unknown format, first bytes {head[:8].hex(' ')}"
