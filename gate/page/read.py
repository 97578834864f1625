"""Read the MRZ of a page image: locate it, cut its lines into cells, classify each cell,
then fix look-alikes by field type and by the check digits (``gate.page.correct``).

``read_mrz`` returns an ``MrzReading`` whenever an MRZ-shaped zone was read; ``valid`` is
true only when every check digit passes and every character was read with a confidence of
at least ``MIN_CONFIDENCE`` (the names carry no check digit, so a doubtful letter there must
not pass unseen). When no MRZ is found it raises ``MrzNotFoundError`` (one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from gate.errors import DocumentError
from gate.icao.mrz import Mrz
from gate.page.classify import CellClassifier, OnnxClassifier
from gate.page.correct import correct, field_types
from gate.page.glyphs import BLANK, CLASSES
from gate.page.layout import CHARS, PageFormat
from gate.page.locate import MrzCandidate, find_mrz
from gate.page.segment import Line, coverage, cut_cells, fit_centres, ink_of
from gate.types import ImageBGR

MIN_CONFIDENCE = 0.5


class MrzNotFoundError(DocumentError):
    """No machine readable zone could be found or read on the image."""


@dataclass(frozen=True)
class MrzReading:
    """What was read: the lines (after corrections), the format, the parsed fields (``mrz``
    when every check digit passes; ``fields`` by position either way), ``valid``, the
    confidence of each character (line by line) and how many characters were corrected."""

    kind: PageFormat
    lines: tuple[str, ...]
    valid: bool
    confidence: tuple[tuple[float, ...], ...]
    corrections: int
    mrz: Mrz | None
    raw: tuple[str, ...] = ()  # the characters as classified, before any correction

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def fields(self) -> dict[str, str]:
        return positional_fields(self.kind, self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.kind,
            "lines": list(self.lines),
            "valid": self.valid,
            "fields": self.fields,
            "confidence": [[round(c, 4) for c in line] for line in self.confidence],
            "corrections": self.corrections,
        }


def positional_fields(kind: PageFormat, lines: tuple[str, ...]) -> dict[str, str]:
    """The fields cut at their positions (no check), fillers turned into spaces."""

    def clean(text: str) -> str:
        return text.replace("<", " ").strip()

    def names(text: str) -> tuple[str, str]:
        primary, _, secondary = text.partition("<<")
        return clean(primary), clean(secondary)

    if kind == "TD1":
        l1, l2, l3 = lines
        surname, given = names(l3)
        number, optional = l1[5:14], l1[15:30]
        birth, sex, expiry, nationality = l2[0:6], l2[7], l2[8:14], l2[15:18]
        optional = optional + l2[18:29]
    else:
        l1, l2 = lines
        width = len(l1)
        surname, given = names(l1[5:width])
        number, nationality, birth, sex, expiry = l2[0:9], l2[10:13], l2[13:19], l2[20], l2[21:27]
        optional = l2[28:42] if kind == "TD3" else l2[28:35]
    return {
        "document_type": clean(l1[0:2]),
        "issuing_state": clean(l1[2:5]),
        "surname": surname,
        "given_names": given,
        "document_number": clean(number),
        "nationality": clean(nationality),
        "birth_date": birth,
        "sex": sex,
        "expiry_date": expiry,
        "optional_data": clean(optional),
    }


_default: CellClassifier | None = None


def default_classifier() -> CellClassifier:
    global _default
    if _default is None:
        _default = OnnxClassifier()
    return _default


def _formats(lines: list[Line]) -> list[PageFormat]:
    if len(lines) == 3:
        return ["TD1"]
    count = float(np.median([line.count() for line in lines]))
    return ["TD2", "TD3"] if abs(count - 36) < abs(count - 44) else ["TD3", "TD2"]


def _placed(lines: list[Line], chars: int) -> list[np.ndarray]:
    """Each line's cell centres; a line whose first cell is not where the best-covered line's
    is (more than half a character off) is placed again from that line's first cell."""
    fits = [fit_centres(line, chars) for line in lines]
    scores = [coverage(line, fit) for line, fit in zip(lines, fits, strict=True)]
    reference = fits[int(np.argmax(scores))]
    pitch = float(np.median(np.diff(reference)))
    return [
        fit if abs(fit[0] - reference[0]) <= 0.5 * pitch else fit_centres(line, chars, reference[0])
        for line, fit in zip(lines, fits, strict=True)
    ]


def _classified(
    line: Line, centres: np.ndarray, classifier: CellClassifier
) -> tuple[np.ndarray, bool]:
    """The line's cells classified, and whether the line ends where the format says (the
    cells just before and after it hold no character: a 44-character line is not read as
    its first 36). When its first cells are blank (specks in the margin before the line
    were taken for its start), the row is placed again from its first non-blank cell."""
    probs = _with_ends(line, centres, classifier)
    for _ in range(2):
        blank = probs[1:-1].argmax(axis=1) == len(CLASSES) - 1
        lead = int(np.argmin(blank)) if not blank.all() else 0
        if not 0 < lead <= 10:
            break
        pitch = float(centres[-1] - centres[-2])
        centres = np.concatenate([centres[lead:], centres[-1] + pitch * np.arange(1, lead + 1)])
        probs = _with_ends(line, centres, classifier)
    ends = probs[[0, -1]].argmax(axis=1) == len(CLASSES) - 1
    return probs[1:-1], bool(ends.all())


def _with_ends(line: Line, centres: np.ndarray, classifier: CellClassifier) -> np.ndarray:
    """Probabilities of the cell before the line, its cells and the cell after it."""
    first, last = centres[1] - centres[0], centres[-1] - centres[-2]
    around = np.concatenate([[centres[0] - first], centres, [centres[-1] + last]])
    return classifier.probabilities(cut_cells(line, around))


def _read_group(
    grey: np.ndarray, candidate: MrzCandidate, flipped: bool, classifier: CellClassifier
) -> MrzReading | None:
    found = [ink_of(strip) for strip in candidate.strips(grey, flipped)]
    lines = [line for line in found if line is not None]
    if len(lines) != len(found):
        return None
    best: MrzReading | None = None
    for kind in _formats(lines):
        chars = CHARS[kind]
        read = [
            _classified(line, centres, classifier)
            for line, centres in zip(lines, _placed(lines, chars), strict=True)
        ]
        probs = np.concatenate([cells_probs for cells_probs, _ in read])
        bounded = all(ends for _, ends in read)
        picks = probs.argmax(axis=1)
        text = "".join(CLASSES[i] for i in picks)
        raw = [text[i * chars : (i + 1) * chars] for i in range(len(lines))]
        conf = probs.max(axis=1)
        confidence = tuple(
            tuple(float(c) for c in conf[i * chars : (i + 1) * chars]) for i in range(len(lines))
        )
        fixed, mrz, swaps = correct(raw, kind, confidence)
        mrz = mrz if bounded else None
        sure = min(min(line) for line in confidence) >= MIN_CONFIDENCE
        reading = MrzReading(
            kind, tuple(fixed), mrz is not None and sure, confidence, swaps, mrz, tuple(raw)
        )
        if best is None or _rank(reading) > _rank(best):
            best = reading
        if reading.mrz is not None:
            break
    return best


def _rank(reading: MrzReading) -> tuple[bool, float, float]:
    """Check digits passing first; then how many of the format's digit-only positions (dates,
    check digits) hold digits (an upside-down read, a wrongly guessed format) plus how many
    cells hold a character (a TD3 cut of a TD2 line ends in blanks); then the
    mean log-confidence (an upside-down or misplaced cut reads some characters with next to
    no confidence)."""
    digits = [
        char.isdigit()
        for line, types in zip(reading.raw, field_types(reading.kind), strict=True)
        for char, kind_at in zip(line, types, strict=True)
        if kind_at == "D"
    ]
    logs = np.log(np.maximum(np.concatenate([np.array(line) for line in reading.confidence]), 1e-6))
    present = float(np.mean([char != BLANK for line in reading.raw for char in line]))
    return reading.mrz is not None, float(np.mean(digits)) + present, float(logs.mean())


def read_mrz(image: ImageBGR, *, classifier: CellClassifier | None = None) -> MrzReading:
    """The MRZ of the page in ``image`` (BGR, any rotation), the best reading found."""
    if image.ndim == 3:
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    elif image.ndim == 2:
        grey = image
    else:
        raise MrzNotFoundError("MRZ: the image is not a picture (expected H x W x 3 BGR)")
    model = classifier if classifier is not None else default_classifier()
    best: MrzReading | None = None
    # the page as it is first; then, when nothing valid was read, with the print's contrast
    # evened out (glare can leave a line's ends too faint for the locator)
    for flatten in (False, True):
        for candidate in find_mrz(grey, flatten=flatten)[:3]:
            for flipped in (False, True):
                reading = _read_group(grey, candidate, flipped, model)
                if reading is not None and (best is None or _rank(reading) > _rank(best)):
                    best = reading
                if best is not None and best.valid:
                    return best  # check digits and confidence both pass: no other reading can
    if best is None:
        raise MrzNotFoundError("MRZ: no machine readable zone found on the image")
    return best
