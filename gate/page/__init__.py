"""The document's data page: render it (the simulator's printed page and the scanner's view of
it) and read its machine readable zone by OCR.

- ``render_page(mrz, portrait)`` -> ``DataPage`` (the BGR image, ``portrait_box``,
  ``mrz_box``): a TD1, TD2 or TD3 page after ICAO 9303 parts 4-6, printed in OCR-B.
- ``degrade(image, rng, spec=None)``: skew and perspective, glare, blur, low light, noise and
  JPEG (``Degradation``; ``random_degradation(rng)`` draws a mix).
- ``read_mrz(image)`` -> ``MrzReading`` (lines, fields, ``valid``, per-character confidence,
  format); ``MrzNotFoundError`` (a ``DocumentError``) when there is no MRZ to read.
"""

from __future__ import annotations

from gate.page.degrade import Degradation, degrade, random_degradation
from gate.page.layout import FORMATS, PageFormat
from gate.page.read import MrzNotFoundError, MrzReading, read_mrz
from gate.page.render import DEFAULT_PX_PER_MM, DataPage, render_page

__all__ = [
    "DEFAULT_PX_PER_MM",
    "FORMATS",
    "DataPage",
    "Degradation",
    "MrzNotFoundError",
    "MrzReading",
    "PageFormat",
    "degrade",
    "random_degradation",
    "read_mrz",
    "render_page",
]
