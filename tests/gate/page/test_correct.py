"""Corrections of a read MRZ: look-alikes by field type, and a check-digit-proven swap only
when exactly one swap makes every check digit pass."""

from __future__ import annotations

import numpy as np

from gate.icao.mrz import Mrz
from gate.icao.mrz_format import FORMATS
from gate.page.correct import TO_DIGIT, TO_LETTER, by_type, correct, field_types, name_tail, parse


def _mrz(kind: str, number: str = "L898902C3") -> Mrz:
    return FORMATS[kind](
        surname="ERIKSSON",
        given_names="ANNA MARIA",
        document_number=number,
        issuing_state="UTO",
        nationality="UTO",
        birth_date="740812",
        sex="F",
        expiry_date="120415",
    )


def _put(lines: tuple[str, ...], row: int, col: int, char: str) -> list[str]:
    out = list(lines)
    out[row] = out[row][:col] + char + out[row][col + 1 :]
    return out


def test_a_letter_in_a_date_is_its_digit() -> None:
    mrz = _mrz("td3")
    assert mrz.lines[1][13:19] == "740812"
    misread = _put(mrz.lines, 1, 15, "O")  # the birth month's '0' read as 'O' ...
    misread = _put(tuple(misread), 1, 16, "B")  # ... and its '8' as 'B'
    assert parse(misread) is None
    lines, parsed, swaps = correct(misread, "TD3")
    assert lines == list(mrz.lines)
    assert parsed == mrz and swaps == 2


def test_a_digit_in_a_name_is_its_letter() -> None:
    mrz = _mrz("td1")
    misread = _put(mrz.lines, 2, 2, "1")  # ERIKSSON -> ER1KSSON
    lines, parsed, _ = correct(misread, "TD1")
    assert lines[2].startswith("ERIKSSON") and parsed is not None


def value(char: str) -> int:
    """The character's value in ICAO 9303-3 4.9 (0-9, A=10 ... Z=35, '<'=0)."""
    return int(char) if char.isdigit() else (ord(char) - 55 if char.isalpha() else 0)


def _passing_swaps(lines: list[str], kind: str) -> list[list[str]]:
    """Every single look-alike swap in a mixed field that makes the MRZ valid (brute force,
    independent of the corrector's own enumeration)."""
    swaps = {**TO_DIGIT, **TO_LETTER}
    found: list[list[str]] = []
    for row, types in enumerate(field_types(kind)):  # type: ignore[arg-type]
        for col, kind_at in enumerate(types):
            char = lines[row][col]
            if kind_at == "X" and char in swaps and (value(char) - value(swaps[char])) % 10:
                changed = _put(tuple(lines), row, col, swaps[char])
                if parse(changed) is not None:
                    found.append(changed)
    return found


def test_a_proven_swap_is_made_only_when_it_is_the_only_one() -> None:
    rng = np.random.default_rng(11)
    alphabet = "0O1I8B5S2Z6G"
    made = refused = 0
    for _ in range(300):
        number = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 9))
        mrz = _mrz(("td1", "td2", "td3")[int(rng.integers(3))], number)
        kind = mrz.kind
        row, start = (0, 5) if kind == "TD1" else (1, 0)
        col = start + int(rng.integers(9))
        char = mrz.lines[row][col]
        misread = _put(mrz.lines, row, col, {**TO_DIGIT, **TO_LETTER}[char])
        if parse(misread) is not None:  # G/6, L/1, U/0: invisible to every check digit
            assert correct(misread, kind)[0] == misread  # type: ignore[arg-type]
            continue
        passing = _passing_swaps(misread, kind)
        lines, parsed, _ = correct(misread, kind)  # type: ignore[arg-type]
        if len(passing) == 1:
            assert parsed is not None and lines == passing[0]
            made += 1
        else:
            assert parsed is None and lines == misread
            refused += 1
    assert made and refused  # both branches were exercised


def test_a_letter_after_the_names_end_is_filler() -> None:
    assert name_tail("ZHANG<<ERIKA<<<<<<<<<<<G<<<<<<", 0) == "ZHANG<<ERIKA" + "<" * 18
    assert name_tail("P<UTOERIKSSON<<ANNA<MARIA<<<<K<", 5) == "P<UTOERIKSSON<<ANNA<MARIA" + "<" * 6
    # one or two fillers part a name's pieces: those stay as read
    assert name_tail("P<UTOA<B<<C<<<", 5) == "P<UTOA<B<<C<<<"
    # fillers before the names (an empty field) end nothing
    assert name_tail("<<<<<ERIKA<", 0) == "<<<<<ERIKA<"
    lines = [
        "IDSWEFSYOQXP<<7EESACST<<<<<<<<",
        "1509278<2510262SWE<<<<<<<<<<<7",
        "ZHANG<<ERIKA<<<<<<<<<<<G<<<<<<",
    ]
    assert by_type(lines, "TD1")[2] == "ZHANG<<ERIKA" + "<" * 18


def test_a_tie_of_passing_swaps_goes_to_the_least_sure_cell_unproven() -> None:
    mrz = _mrz("td3", "0G3U0Y")
    misread = _put(mrz.lines, 1, 0, "O")
    assert len(_passing_swaps(misread, "TD3")) > 1  # the check digits cannot decide
    sure = [[0.99] * 44, [0.99] * 44]
    doubtful = [list(sure[0]), list(sure[1])]
    doubtful[1][0] = 0.4
    lines, parsed, swaps = correct(misread, "TD3", doubtful)
    assert lines == list(mrz.lines) and parsed is None and swaps == 1
    # no cell clearly less sure than the others, or no confidence at all: nothing is swapped
    assert correct(misread, "TD3", sure)[0] == misread
    assert correct(misread, "TD3")[0] == misread
