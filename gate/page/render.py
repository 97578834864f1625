"""Render a document's data page (TD1, TD2 or TD3) from its MRZ and a portrait.

The page is printed like a real one: a guilloche background, a header, the printed portrait
and a faded ghost copy of it, the visual zone's labelled fields and the machine readable zone
in OCR-B at ten characters to the inch. ``DataPage.portrait_box`` says where the portrait was
printed, so a consumer can crop it back out of the page (or of a straight scan of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np
from PIL import Image, ImageDraw

from gate.errors import ImageError
from gate.icao.mrz import Mrz
from gate.page.background import background
from gate.page.fonts import SANS, SANS_BOLD, font, ocr_b_for_pitch
from gate.page.layout import LAYOUTS, MRZ_PITCH_MM, Layout, PageFormat
from gate.types import Box, ImageBGR

DEFAULT_PX_PER_MM = 8.0  # about 200 dpi: a TD3 page is 1000 x 704 pixels
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_TITLES = {
    "TD3": "PASSPORT / PASSEPORT",
    "TD2": "IDENTITY DOCUMENT / DOCUMENT D'IDENTITÉ",
    "TD1": "IDENTITY CARD / CARTE D'IDENTITÉ",
}
_INK = (20, 24, 40)
_LABEL = (70, 70, 90)


@dataclass(frozen=True)
class DataPage:
    """A rendered data page: the picture (BGR), where the portrait and the MRZ were printed
    (boxes in the picture's pixels) and the MRZ it carries."""

    image: ImageBGR
    portrait_box: Box
    mrz_box: Box
    kind: PageFormat
    mrz: Mrz


def _printed_date(yymmdd: str, future: bool) -> str:
    """``YYMMDD`` as printed in the visual zone (``14 MAR 1985``); the century is guessed like
    a reader does (a birth date is in the past, an expiry within the next 50 years)."""
    year, month, day = int(yymmdd[0:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    now = date.today().year % 100
    century = 2000 if (year <= now + 50 if future else year <= now) else 1900
    return f"{day:02d} {_MONTHS[month - 1]} {century + year}"


def _fields(mrz: Mrz, kind: PageFormat) -> list[list[tuple[str, str]]]:
    number = mrz.document_number
    birth = _printed_date(mrz.birth_date, future=False)
    expiry = _printed_date(mrz.expiry_date, future=True)
    if kind == "TD1":
        return [
            [("Surname / Nom", mrz.surname)],
            [("Given names / Prénoms", mrz.given_names)],
            [("Sex / Sexe", mrz.sex), ("Nationality / Nationalité", mrz.nationality)],
            [("Date of birth / Date de naissance", birth), ("Document No.", number)],
            [("Date of expiry / Date d'expiration", expiry)],
        ]
    return [
        [
            ("Type", mrz.document_type),
            ("Code", mrz.issuing_state),
            ("Document No. / No du document", number),
        ],
        [("Surname / Nom", mrz.surname)],
        [("Given names / Prénoms", mrz.given_names)],
        [("Nationality / Nationalité", mrz.nationality)],
        [("Date of birth / Date de naissance", birth), ("Sex / Sexe", mrz.sex)],
        [
            ("Authority / Autorité", mrz.issuing_state),
            ("Date of expiry / Date d'expiration", expiry),
        ],
    ]


def _portrait(portrait: ImageBGR, width: int, height: int) -> ImageBGR:
    """``portrait`` cut to the box's aspect around its centre and scaled to the box."""
    if portrait.ndim != 3 or portrait.shape[2] != 3 or portrait.dtype != np.uint8:
        raise ImageError("portrait: expected a uint8 BGR image (H, W, 3)")
    ph, pw = portrait.shape[:2]
    if ph < 8 or pw < 8:
        raise ImageError(f"portrait: {pw}x{ph} pixels is too small to print")
    aspect = width / height
    if pw / ph > aspect:
        cut = round(ph * aspect)
        crop = portrait[:, (pw - cut) // 2 : (pw - cut) // 2 + cut]
    else:
        cut = round(pw / aspect)
        crop = portrait[(ph - cut) // 2 : (ph - cut) // 2 + cut]
    return np.asarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def _paste(page: ImageBGR, layout: Layout, portrait: ImageBGR, scale: float) -> Box:
    left, top, width, height = (round(v * scale) for v in layout.portrait)
    page[top : top + height, left : left + width] = _portrait(portrait, width, height)
    cv2.rectangle(page, (left, top), (left + width - 1, top + height - 1), (90, 90, 90), 1)
    # the ghost image: a small faded grey copy, a common security feature
    gw, gh = width // 2, height // 2
    gx = round(layout.fields_right * scale) - gw
    gy = round((layout.mrz_top - 1.0) * scale) - gh
    ghost = cv2.cvtColor(_portrait(portrait, gw, gh), cv2.COLOR_BGR2GRAY)
    area = page[gy : gy + gh, gx : gx + gw].astype(np.float32)
    faded = 255 - (255 - ghost.astype(np.float32))[..., None] * 0.35
    page[gy : gy + gh, gx : gx + gw] = np.minimum(area, faded).astype(np.uint8)
    return Box(float(left), float(top), float(left + width), float(top + height))


def _draw_text(draw: ImageDraw.ImageDraw, layout: Layout, mrz: Mrz, scale: float) -> None:
    kind = layout.kind
    size = round(layout.header * 0.42 * scale)
    room = (layout.fields_right - layout.portrait[0] - 12.0) * scale  # the state code's room
    width = font(SANS_BOLD, size).getlength(_TITLES[kind])
    title = font(SANS_BOLD, size if width <= room else max(6, int(size * room / width)))
    draw.text((layout.portrait[0] * scale, layout.header * 0.3 * scale), _TITLES[kind], _INK, title)
    state = font(SANS_BOLD, round(layout.header * 0.36 * scale))
    draw.text(
        (layout.fields_right * scale, layout.header * 0.3 * scale),
        mrz.issuing_state,
        _INK,
        state,
        anchor="ra",
    )
    label_font = font(SANS, round(layout.row * 0.26 * scale))
    value_font = font(SANS_BOLD, round(layout.row * 0.38 * scale))
    span = layout.fields_right - layout.fields_left
    for index, row in enumerate(_fields(mrz, kind)):
        y = (layout.fields_top + index * layout.row) * scale
        column = span / len(row)
        for position, (label, value) in enumerate(row):
            x = (layout.fields_left + position * column) * scale
            draw.text((x, y), label, _LABEL, label_font)
            draw.text((x, y + layout.row * 0.32 * scale), value, _INK, value_font)


def _draw_mrz(draw: ImageDraw.ImageDraw, layout: Layout, mrz: Mrz, scale: float) -> Box:
    pitch = MRZ_PITCH_MM * scale
    ocr = ocr_b_for_pitch(pitch)
    left = layout.mrz_left * scale
    for index, line in enumerate(mrz.lines):
        centre = (layout.mrz_first_centre + index * layout.mrz_line_pitch) * scale
        for column, char in enumerate(line):  # one cell per character: exact pitch
            draw.text((left + column * pitch, centre), char, (0, 0, 0), ocr, anchor="lm")
    top = (layout.mrz_first_centre - layout.mrz_line_pitch / 2) * scale
    bottom = (layout.mrz_first_centre + (layout.lines - 0.5) * layout.mrz_line_pitch) * scale
    return Box(left, top, left + layout.chars * pitch, bottom)


def render_page(
    mrz: Mrz,
    portrait: ImageBGR,
    *,
    px_per_mm: float = DEFAULT_PX_PER_MM,
    background_seed: int = 0,
) -> DataPage:
    """The data page of the document whose MRZ is ``mrz`` (its format follows from the MRZ:
    3 x 30 TD1, 2 x 36 TD2, 2 x 44 TD3), showing ``portrait`` (any BGR picture, cut to the
    portrait zone around its centre)."""
    if not mrz.lines:
        raise ImageError("render_page: the MRZ has no printed lines (an access-only MRZ)")
    if not 2.0 <= px_per_mm <= 40.0:
        raise ImageError(f"render_page: px_per_mm {px_per_mm} is outside 2 to 40")
    kind: PageFormat = mrz.kind  # type: ignore[assignment]
    layout = LAYOUTS[kind]
    page = background(kind, px_per_mm, background_seed)
    portrait_box = _paste(page, layout, portrait, px_per_mm)
    canvas = Image.fromarray(page[..., ::-1])
    draw = ImageDraw.Draw(canvas)
    _draw_text(draw, layout, mrz, px_per_mm)
    mrz_box = _draw_mrz(draw, layout, mrz, px_per_mm)
    image = np.ascontiguousarray(np.asarray(canvas)[..., ::-1])
    return DataPage(image, portrait_box, mrz_box, kind, mrz)
