"""What each MRZ position may hold, and the check-digit-proven correction of a read.

Positions whose field holds only digits (dates, check digits) or only letters (document
code, states, sex, names) have their look-alikes swapped for the right kind at once (an 'O'
in a date is a '0'). A mixed field (document number, optional data) can hold either, so there
a swap is made only when the check digits prove the read wrong and exactly one swap of one
character makes every check digit pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from gate.errors import DocumentError
from gate.icao.country import nationality_code, state_code
from gate.icao.mrz import Mrz, _char_value, parse_mrz
from gate.page.layout import PageFormat

# D: digits only, A: letters and '<' only, X: any (letters, digits, '<')
_TYPES: dict[PageFormat, tuple[str, ...]] = {
    "TD3": (
        "AAAAA" + "A" * 39,
        "XXXXXXXXXD" + "AAA" + "DDDDDDD" + "A" + "DDDDDDD" + "X" * 14 + "XD",
    ),
    "TD2": ("AAAAA" + "A" * 31, "XXXXXXXXXD" + "AAA" + "DDDDDDD" + "A" + "DDDDDDD" + "X" * 7 + "D"),
    "TD1": (
        "AAAAA" + "X" * 25,
        "DDDDDDD" + "A" + "DDDDDDD" + "AAA" + "X" * 11 + "D",
        "A" * 30,
    ),
}
TO_DIGIT = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "Z": "2",
    "S": "5",
    "G": "6",
    "B": "8",
    "A": "4",
    "T": "7",
}
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B", "4": "A", "7": "T"}
# A swap the check digits can prove: the two values differ by other than a multiple of 10
# (weights 7, 3, 1 modulo 10 cannot see G/6, L/1 or U/0, whose values differ by 10, 20, 30).
_SWAPS = {
    a: b
    for a, b in {**TO_DIGIT, **TO_LETTER}.items()
    if (_char_value(a) - _char_value(b)) % 10 != 0
}


def field_types(kind: PageFormat) -> tuple[str, ...]:
    return _TYPES[kind]


# where the names are: (line, first column); they fill their line to its end
_NAMES: dict[PageFormat, tuple[int, int]] = {"TD3": (0, 5), "TD2": (0, 5), "TD1": (2, 0)}


def name_tail(line: str, start: int) -> str:
    """The names from ``start`` with everything after their end made filler: a name's parts
    are parted by one or two fillers, so three in a row end the names and nothing but fillers
    may follow (a speck or a faint filler read as a letter there is no letter)."""
    end = line.find("<<<", start)
    if end < 0 or not any(c != "<" for c in line[start:end]):
        return line
    return line[:end] + "<" * (len(line) - end)


def by_type(lines: list[str], kind: PageFormat) -> list[str]:
    """Look-alikes swapped for the kind each position holds; the names' tail made filler."""
    row, start = _NAMES[kind]
    lines = [name_tail(line, start) if i == row else line for i, line in enumerate(lines)]
    fixed = []
    for line, types in zip(lines, _TYPES[kind], strict=True):
        chars = list(line)
        for i, (char, kind_at) in enumerate(zip(chars, types, strict=True)):
            if kind_at == "D" and not char.isdigit():
                chars[i] = TO_DIGIT.get(char, char)
            elif kind_at == "A" and char.isdigit():
                chars[i] = TO_LETTER.get(char, char)
        fixed.append("".join(chars))
    return fixed


def parse(lines: list[str]) -> Mrz | None:
    """The MRZ when every check digit, date, the sex and both country codes are right (the
    first line carries no check digit: a code that is no state's catches a shifted read of
    it), else None."""
    try:
        mrz = parse_mrz(lines)
        state_code(mrz.issuing_state, "issuing state")
        nationality_code(mrz.nationality)
    except DocumentError:
        return None
    return mrz


def _swaps(lines: list[str], kind: PageFormat) -> Iterator[tuple[int, int, list[str]]]:
    for row, (line, types) in enumerate(zip(lines, _TYPES[kind], strict=True)):
        for col, (char, kind_at) in enumerate(zip(line, types, strict=True)):
            if kind_at != "X" or char not in _SWAPS:
                continue
            changed = list(lines)
            changed[row] = line[:col] + _SWAPS[char] + line[col + 1 :]
            yield row, col, changed


# a swap the check digits cannot single out is made at the least sure cell only when that
# cell is this much less sure than the next; the read stays unproven (no parsed MRZ)
DOUBT_MARGIN = 0.3


def correct(
    lines: list[str], kind: PageFormat, confidence: Sequence[Sequence[float]] | None = None
) -> tuple[list[str], Mrz | None, int]:
    """The lines after type fixes and, when the check digits fail, the one swap that makes
    them pass (none when zero or several do); the parsed MRZ when valid; the swaps made.

    With the classifier's ``confidence`` per character, a tie of several passing swaps is
    broken by the least sure of their cells (``DOUBT_MARGIN``); the text is then the likelier
    one, but nothing proves it, so no MRZ is returned."""
    typed = by_type(lines, kind)
    swapped = sum(
        a != b for x, y in zip(lines, typed, strict=True) for a, b in zip(x, y, strict=True)
    )
    mrz = parse(typed)
    if mrz is not None:
        return typed, mrz, swapped
    passing = [
        (row, col, changed, parsed)
        for row, col, changed in _swaps(typed, kind)
        if (parsed := parse(changed))
    ]
    if len(passing) == 1:
        return passing[0][2], passing[0][3], swapped + 1
    if len(passing) > 1 and confidence is not None:
        doubts = sorted((confidence[row][col], i) for i, (row, col, _, _) in enumerate(passing))
        if doubts[1][0] - doubts[0][0] >= DOUBT_MARGIN:
            return passing[doubts[0][1]][2], None, swapped + 1
    return typed, None, swapped
