"""The one image decoder: every picture the gate turns from bytes into pixels goes through here.

Files, camera frames that arrive encoded, the chip's DG2 portrait and dataset images all
come here, so one set of checks guards them all (docs/models.md):

- The size is read from the header BEFORE any pixel is decoded: our own parsers for JPEG
  (SOF), PNG (IHDR) and JPEG 2000 (SIZ, or the JP2 ``ihdr`` box), Pillow's header-only
  ``open`` for the other formats. A picture whose size cannot be read from its header is
  refused, so a decompression bomb never reaches a decoder.
- Pictures over ``ImageLimits.max_pixels`` or ``max_bytes`` are REFUSED, not downscaled: a
  real camera frame or passport photo is far below the limits, so a huge picture is almost
  certainly a mistake or an attack. Pictures with a side under ``min_side`` are refused: no
  face detector can work on them.
- A JPEG must end (EOI after its scan): a truncated one would otherwise decode grey-filled.
- The format is found from the content, never from a file name. OpenCV decodes first;
  Pillow is the fallback (chroma-subsampled JPEG 2000 from DG2, formats OpenCV lacks).
- The result is always uint8 BGR (H, W, 3): greyscale is expanded, 16-bit is scaled to
  8-bit, alpha is dropped, EXIF orientation is applied.
- Files are read through the hardened reader (``gate.files``): only a regular file, never a
  FIFO, a device or a folder, at most ``max_bytes``.

Every refusal is one ``GateError`` line (``ImageError`` unless the caller names another
class, as the chip reader does with ``DocumentError``) that starts with the source's name.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gate.errors import GateError, ImageError
from gate.files import read_regular_file
from gate.types import ImageBGR

__all__ = [
    "FILE_LIMITS",
    "JPEG",
    "JPEG2000",
    "PNG",
    "PORTRAIT_LIMITS",
    "ImageLimits",
    "check_declared_size",
    "declared_size",
    "decode_image",
    "image_format",
    "load_image",
]

log = logging.getLogger(__name__)

JPEG = "JPEG"
PNG = "PNG"
JPEG2000 = "JPEG 2000"


@dataclass(frozen=True)
class ImageLimits:
    """What a picture may be: its encoded size, its declared pixels, its shortest side, and
    (when not None) the formats accepted."""

    max_bytes: int
    max_pixels: int
    min_side: int = 32
    formats: frozenset[str] | None = None

    def with_bytes(self, max_bytes: int) -> ImageLimits:
        return replace(self, max_bytes=max_bytes)


# An uncompressed 50-megapixel 16-bit RGB TIFF is 300 MB; no picture worth decoding is larger.
FILE_LIMITS = ImageLimits(max_bytes=512 * 1024 * 1024, max_pixels=50_000_000)
# The chip's portrait (9303-10, ISO 19794-5): JPEG or JPEG 2000 only, at most the 512 KiB the
# reader accepts for a data group, and at most 16 megapixels (4000x4000, some fifty times a
# typical passport portrait): decoding it costs under 50 MB.
PORTRAIT_LIMITS = ImageLimits(
    max_bytes=0x80000, max_pixels=16_000_000, formats=frozenset({JPEG, JPEG2000})
)

# JPEG start-of-frame markers (every SOFn but DHT C4, JPG C8 and DAC CC).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_SIGNATURE = b"\xff\x4f\xff\x51"


def load_image(
    path: Path | str, *, limits: ImageLimits = FILE_LIMITS, error: type[GateError] = ImageError
) -> ImageBGR:
    """Read and decode one picture file; ``error`` names the file and the problem.

    Only a regular file is opened (``gate.files``): a FIFO would block for ever, a device
    (``/dev/zero``) would never end, a directory cannot be read. A file name that is not
    UTF-8 is read as bytes by the OS (never handed to OpenCV as text)."""
    file = Path(path)
    data = read_regular_file(file, "image", max_bytes=limits.max_bytes, error=error)
    return decode_image(data, str(file), limits=limits, error=error)


def decode_image(
    data: bytes,
    source: str,
    *,
    limits: ImageLimits = FILE_LIMITS,
    error: type[GateError] = ImageError,
) -> ImageBGR:
    """Decode picture bytes (``source`` names them in error messages)."""
    kind = image_format(data)
    size = check_declared_size(data, source, limits=limits, error=error)
    if limits.formats is not None and kind not in limits.formats:
        wanted = " or ".join(sorted(limits.formats))
        raise error(f"{source}: not a {wanted} image ({_describe_content(data)})")
    if size is None and kind is not None:
        raise error(f"{source}: the {kind} image cannot be decoded (its header gives no size)")
    if size is None:
        raise error(f"{source}: not a readable image ({_describe_content(data)})")
    _check_min_side(source, *size, limits=limits, error=error)
    if kind == JPEG:
        _check_jpeg_complete(data, source, error)
    image = _decode_opencv(data)
    if image is None:
        image = _decode_pillow(data, source, error)
    if image is None:
        raise error(f"{source}: not a readable image ({_describe_content(data)})")
    height, width = image.shape[:2]
    _check_pixels(source, width, height, limits=limits, error=error, declared=False)
    _check_min_side(source, width, height, limits=limits, error=error)
    return image


def check_declared_size(
    data: bytes,
    source: str,
    *,
    limits: ImageLimits = FILE_LIMITS,
    error: type[GateError] = ImageError,
) -> tuple[int, int] | None:
    """(width, height) declared by the header, refused with ``error`` when the bytes or the
    pixels are over ``limits`` (a decompression bomb is refused here, before any decoding);
    None when the header does not say (then the data is not a picture we can decode)."""
    if len(data) == 0:
        raise error(f"{source}: empty file (0 bytes)")
    if len(data) > limits.max_bytes:
        raise error(f"{source}: {len(data)} bytes, over the {limits.max_bytes}-byte limit")
    size = declared_size(data, source, error=error)
    if size is not None:
        _check_pixels(source, *size, limits=limits, error=error, declared=True)
    return size


def image_format(data: bytes) -> str | None:
    """JPEG, PNG or JPEG 2000 from the first bytes; None for anything else."""
    if data[:2] == b"\xff\xd8":
        return JPEG
    if data[:8] == _PNG_SIGNATURE:
        return PNG
    if data[:12] == _JP2_SIGNATURE or data[:4] == _J2K_SIGNATURE:
        return JPEG2000
    return None


def declared_size(
    data: bytes, source: str, *, error: type[GateError] = ImageError
) -> tuple[int, int] | None:
    """(width, height) from the header alone, without decoding pixels; None if unknown."""
    kind = image_format(data)
    try:
        if kind == JPEG:
            return _jpeg_size(data)
        if kind == PNG:
            return _png_size(data)
        if kind == JPEG2000:
            return _jp2_size(data) if data[:4] != _J2K_SIGNATURE else _siz_size(data, 2)
    except (struct.error, IndexError):
        return None  # the header itself is cut short
    return _pillow_size(data, source, error)


def _check_pixels(
    source: str,
    width: int,
    height: int,
    *,
    limits: ImageLimits,
    error: type[GateError],
    declared: bool,
) -> None:
    says = "declares" if declared else "is"
    if width <= 0 or height <= 0:
        raise error(f"{source}: image {says} {width}x{height} pixels, an empty picture")
    if width * height > limits.max_pixels:
        raise error(
            f"{source}: image {says} {width}x{height} ({width * height / 1e6:.1f} megapixels), "
            f"over the {limits.max_pixels / 1e6:.0f}-megapixel limit; refused before decoding"
            if declared
            else f"{source}: image is {width}x{height} ({width * height / 1e6:.1f} megapixels), "
            f"over the {limits.max_pixels / 1e6:.0f}-megapixel limit; downscale it first"
        )


def _check_min_side(
    source: str, width: int, height: int, *, limits: ImageLimits, error: type[GateError]
) -> None:
    if min(width, height) < limits.min_side:
        raise error(
            f"{source}: image is {width}x{height} pixels, too small for face analysis "
            f"(at least {limits.min_side}x{limits.min_side} needed)"
        )


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """The frame size from the first SOFn marker before the scan (None without one)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header seen
            return None
        (length,) = struct.unpack_from(">H", data, at + 2)
        if marker in _SOF:
            height, width = struct.unpack_from(">HH", data, at + 5)
            return int(width), int(height)
        if length < 2:
            return None
        at += 2 + length
    return None


def _check_jpeg_complete(data: bytes, source: str, error: type[GateError]) -> None:
    # In entropy-coded data every 0xFF is followed by 0x00 or a restart marker, so an EOI
    # (FFD9) after the first scan marks the end; without one the file was cut short.
    scan = data.find(b"\xff\xda")
    if scan < 0 or data.find(b"\xff\xd9", scan) < 0:
        raise error(
            f"{source}: the JPEG image cannot be decoded (truncated: no end-of-image marker "
            "after the scan)"
        )


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return int(width), int(height)


def _siz_size(data: bytes, at: int) -> tuple[int, int] | None:
    """Image area from a JPEG 2000 codestream's SIZ segment (marker FF51 at ``at``)."""
    if data[at : at + 2] != b"\xff\x51":
        return None
    xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">IIII", data, at + 6)
    return int(xsiz) - int(xosiz), int(ysiz) - int(yosiz)


def _jp2_size(data: bytes) -> tuple[int, int] | None:
    """The JP2 header's ``ihdr`` box (inside ``jp2h``), else the codestream's SIZ."""
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind == b"jp2h":
            for inner, body, _ in _boxes(data, start, end):
                if inner == b"ihdr":
                    height, width = struct.unpack_from(">II", data, body)
                    return int(width), int(height)
        if kind == b"jp2c":
            return _siz_size(data, start + 2) if data[start : start + 2] == b"\xff\x4f" else None
    return None


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, body start, body end) of the JP2 boxes between ``start`` and ``end``."""
    found: list[tuple[bytes, int, int]] = []
    at = start
    while at + 8 <= end and len(found) < 64:
        (length,) = struct.unpack_from(">I", data, at)
        kind = data[at + 4 : at + 8]
        body = at + 8
        if length == 1:
            (length,) = struct.unpack_from(">Q", data, at + 8)
            body = at + 16
        elif length == 0:
            length = end - at
        if length < body - at or at + length > end:
            found.append((kind, body, end))  # a box running past the end: read what is there
            break
        found.append((kind, body, at + length))
        at += length
    return found


def _pillow_size(data: bytes, source: str, error: type[GateError]) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Our own limit is stricter than Pillow's bomb warning; no need for its noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                width, height = probe.size
    except Image.DecompressionBombError as exc:
        raise error(f"{source}: refused as a decompression bomb ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error):
        return None
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


def _decode_pillow(data: bytes, source: str, error: type[GateError]) -> ImageBGR | None:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                picture = ImageOps.exif_transpose(opened)
                picture.load()
    except (UnidentifiedImageError, SyntaxError):
        return None
    except Image.DecompressionBombError as exc:
        raise error(f"{source}: refused as a decompression bomb ({exc})") from exc
    except (OSError, ValueError, struct.error) as exc:
        raise error(f"{source}: the image cannot be decoded (damaged data: {exc})") from exc
    log.debug("decoded %s with Pillow (mode %s)", source, picture.mode)
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
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return "the content is text"
    return f"unknown format, first bytes {head[:8].hex(' ')}"
