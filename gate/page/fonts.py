"""The fonts a data page is printed with: OCR-B (Debian's ``fonts-ocr-b``) for the MRZ and
DejaVu Sans (``fonts-dejavu-core``) for the visual zone's labels.

A missing font is one ``ConfigError`` line naming the Debian package that carries it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from gate.errors import ConfigError

OCR_B = Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf")
SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SANS_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
_PACKAGES = {OCR_B: "fonts-ocr-b", SANS: "fonts-dejavu-core", SANS_BOLD: "fonts-dejavu-core"}

Font = ImageFont.FreeTypeFont


def _check(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(f"font {path} not found: install Debian's {_PACKAGES[path]}")
    return path


@lru_cache(maxsize=64)
def font(path: Path, size_px: int) -> Font:
    """The font at ``path`` whose em is ``size_px`` pixels."""
    return ImageFont.truetype(str(_check(path)), max(1, size_px))


@lru_cache(maxsize=64)
def ocr_b_for_pitch(pitch_px: float) -> Font:
    """OCR-B sized so that one character advances ``pitch_px`` pixels (the MRZ prints ten
    characters to the inch, ICAO 9303-3 section 4.4)."""
    probe = font(OCR_B, 100)
    advance = probe.getlength("<")
    return font(OCR_B, round(100 * pitch_px / advance))
