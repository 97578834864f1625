"""The MRZ alphabet and its glyphs as the reader sees them: OCR-B printed in a strip and cut
into cells by the same code that cuts a scanned line (``gate.page.segment``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from gate.page.fonts import ocr_b_for_pitch
from gate.page.locate import STRIP_HEIGHT
from gate.page.segment import Floats, cells, ink_of

ALPHABET = "<0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The model's last class: a cell with no character in it (beyond a line's end, under glare
# that left nothing). It is never a valid MRZ character, so a reading holding it is not valid.
BLANK = "?"
CLASSES = ALPHABET + BLANK
INDEX = {char: i for i, char in enumerate(CLASSES)}


def printed_strip(text: str, pitch: float = 24.0, offset: float = 0.0) -> np.ndarray:
    """``text`` printed in OCR-B at ``pitch`` pixels per character in a strip like the ones
    the locator cuts (print centred, half the strip high)."""
    font = ocr_b_for_pitch(pitch)
    width = round((len(text) + 2) * pitch)
    canvas = Image.new("L", (width, STRIP_HEIGHT), 235)
    draw = ImageDraw.Draw(canvas)
    for column, char in enumerate(text):
        draw.text((pitch + column * pitch + offset, STRIP_HEIGHT / 2), char, 10, font, anchor="lm")
    return np.asarray(canvas)


@lru_cache(maxsize=1)
def templates() -> Floats:
    """One clean cell per character of ``ALPHABET``, in its order."""
    # '8' first and last pins both ends of the fitted row (a thin '<' end blob is kept too)
    text = "8" + ALPHABET + "8"
    line = ink_of(printed_strip(text))
    if line is None:
        raise RuntimeError("OCR-B glyphs could not be cut from their own strip")
    return cells(line, len(text))[1:-1]
