"""Machine readable zone (ICAO Doc 9303 parts 3, 4 and 5): TD3 passports and TD1 ID cards.

Parsing checks every check digit and names the field that is wrong. ``Mrz.bac_key_seed_input``
is the "MRZ information" that BAC derives its keys from (document number, date of birth and
date of expiry, each followed by its check digit).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gate.errors import DocumentError

TD3_LINE = 44
TD1_LINE = 30
TD2_LINE = 36
# used with fullmatch: "$" would also accept a string ending in a newline
_ALLOWED = re.compile(r"[A-Z0-9<]*")
_WEIGHTS = (7, 3, 1)


def _char_value(ch: str) -> int:
    if "0" <= ch <= "9":  # not str.isdigit: it accepts '²' and other Unicode digits
        return ord(ch) - ord("0")
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch == "<":
        return 0
    raise DocumentError(f"MRZ: character {ch!r} is not allowed (only A-Z, 0-9 and '<')")


def check_digit(data: str) -> str:
    """The ICAO 9303 check digit (weights 7, 3, 1, modulo 10) of ``data``, as a character."""
    total = sum(_char_value(ch) * _WEIGHTS[i % 3] for i, ch in enumerate(data))
    return str(total % 10)


def _verify(field: str, data: str, digit: str) -> None:
    # '<' is a permitted check digit only for an all-filler optional field (Doc 9303-4 4.2.2).
    if digit == "<" and set(data) <= {"<"}:
        return
    expected = check_digit(data)
    if digit != expected:
        # Name the field, never its value: this text reaches logs and the audit trail.
        raise DocumentError(f"MRZ: check digit of {field} does not match")


def _names(field: str) -> tuple[str, str]:
    primary, _, secondary = field.partition("<<")
    return primary.replace("<", " ").strip(), secondary.replace("<", " ").strip()


def _date(field: str, value: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", value):
        raise DocumentError(f"MRZ: {field} is not a YYMMDD date")
    month, day = int(value[2:4]), int(value[4:6])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise DocumentError(f"MRZ: {field} has no valid month/day")
    return value


@dataclass(frozen=True)
class Mrz:
    """A parsed MRZ. Dates are ``YYMMDD`` strings as printed; names are space-separated."""

    document_type: str
    issuing_state: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: str
    sex: str
    expiry_date: str
    optional_data: str
    lines: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``"TD3"``, ``"TD2"`` or ``"TD1"``."""
        if len(self.lines) == 3:
            return "TD1"
        return "TD2" if self.lines and len(self.lines[0]) == TD2_LINE else "TD3"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def bac_key_seed_input(self) -> bytes:
        """The MRZ information BAC hashes: number+cd, birth date+cd, expiry date+cd."""
        return mrz_information(self.document_number, self.birth_date, self.expiry_date)


def mrz_information(document_number: str, birth_date: str, expiry_date: str) -> bytes:
    """The BAC key seed input from the three fields alone (what an officer may type in)."""
    number = document_number.upper().replace(" ", "")
    if not _ALLOWED.fullmatch(number) or not number:
        raise DocumentError("MRZ: the document number is not valid (A-Z, 0-9 and '<' only)")
    number = number.ljust(9, "<")
    _date("birth date", birth_date)
    _date("expiry date", expiry_date)
    text = (
        number
        + check_digit(number)
        + birth_date
        + check_digit(birth_date)
        + expiry_date
        + check_digit(expiry_date)
    )
    return text.encode("ascii")


def _split_lines(text: str | Sequence[str]) -> list[str]:
    if isinstance(text, str):
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    else:
        lines = [line.strip() for line in text]
    for number, line in enumerate(lines, start=1):
        if not _ALLOWED.fullmatch(line):
            bad = next(ch for ch in line if not _ALLOWED.fullmatch(ch))
            raise DocumentError(f"MRZ: line {number} contains {bad!r} (only A-Z, 0-9 and '<')")
    return lines


def parse_mrz(text: str | Sequence[str]) -> Mrz:
    """Parse a TD3 (2 x 44) or TD1 (3 x 30) MRZ and check every check digit."""
    lines = _split_lines(text)
    if len(lines) == 2 and all(len(line) == TD3_LINE for line in lines):
        return _parse_td3(lines)
    if len(lines) == 3 and all(len(line) == TD1_LINE for line in lines):
        return _parse_td1(lines)
    if len(lines) == 2 and all(len(line) == TD2_LINE for line in lines):
        return _parse_td2(lines)
    shape = " x ".join(str(len(line)) for line in lines) or "empty"
    raise DocumentError(
        f"MRZ: expected 2 lines of 44 (TD3), 2 of 36 (TD2) or 3 of 30 (TD1), got {shape}"
    )


def _parse_td3(lines: list[str]) -> Mrz:
    return _parse_two_line(lines, TD3_LINE)


def _parse_td2(lines: list[str]) -> Mrz:
    return _parse_two_line(lines, TD2_LINE)


def _parse_two_line(lines: list[str], width: int) -> Mrz:
    """TD3 (44) and TD2 (36) share line 2 up to the optional data; only TD3's optional data
    has its own check digit."""
    l1, l2 = lines
    td3 = width == TD3_LINE
    surname, given = _names(l1[5:width])
    number, birth, expiry = l2[0:9], l2[13:19], l2[21:27]
    optional = l2[28:42] if td3 else l2[28:35]
    _verify("document number", number, l2[9])
    _verify("birth date", birth, l2[19])
    _verify("expiry date", expiry, l2[27])
    if td3:
        _verify("optional data", optional, l2[42])
    _verify("composite", l2[0:10] + l2[13:20] + l2[21 : width - 1], l2[width - 1])
    sex = l2[20]
    if sex not in "MF<":
        raise DocumentError(f"MRZ: sex {sex!r} is not M, F or '<'")
    return Mrz(
        document_type=l1[0:2].replace("<", ""),
        issuing_state=l1[2:5].replace("<", ""),
        surname=surname,
        given_names=given,
        document_number=number.replace("<", ""),
        nationality=l2[10:13].replace("<", ""),
        birth_date=_date("birth date", birth),
        sex=sex,
        expiry_date=_date("expiry date", expiry),
        optional_data=optional.replace("<", " ").strip(),
        lines=(l1, l2),
    )


def _parse_td1(lines: list[str]) -> Mrz:
    l1, l2, l3 = lines
    number, number_cd, optional1 = l1[5:14], l1[14], l1[15:30]
    if number_cd == "<":
        # Long document number: the rest and its check digit continue in optional data 1.
        tail = optional1.rstrip("<")
        if not tail:
            raise DocumentError("MRZ: document number check digit is '<' but no continuation")
        number, number_cd, optional1 = number + tail[:-1], tail[-1], ""
    _verify("document number", number, number_cd)
    birth, expiry = l2[0:6], l2[8:14]
    _verify("birth date", birth, l2[6])
    _verify("expiry date", expiry, l2[14])
    _verify("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29])
    sex = l2[7]
    if sex not in "MF<":
        raise DocumentError(f"MRZ: sex {sex!r} is not M, F or '<'")
    surname, given = _names(l3)
    return Mrz(
        document_type=l1[0:2].replace("<", ""),
        issuing_state=l1[2:5].replace("<", ""),
        surname=surname,
        given_names=given,
        document_number=number.replace("<", ""),
        nationality=l2[15:18].replace("<", ""),
        birth_date=_date("birth date", birth),
        sex=sex,
        expiry_date=_date("expiry date", expiry),
        optional_data=(optional1 + l2[18:29]).replace("<", " ").strip(),
        lines=(l1, l2, l3),
    )


def _field(name: str, value: str, width: int) -> str:
    text = value.upper().strip().replace(" ", "<").replace("-", "<")
    if not _ALLOWED.fullmatch(text):
        raise DocumentError(f"MRZ: {name} has characters outside A-Z, 0-9")
    if len(text) > width:
        raise DocumentError(f"MRZ: {name} is longer than {width} characters")
    return text.ljust(width, "<")


def format_td3(
    *,
    surname: str,
    given_names: str,
    document_number: str,
    issuing_state: str,
    nationality: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    optional_data: str = "",
    document_type: str = "P",
) -> Mrz:
    """Build a TD3 MRZ with all check digits; names longer than the line are truncated."""
    fields = locals()
    return _format_two_line(TD3_LINE, **fields)


def format_td2(
    *,
    surname: str,
    given_names: str,
    document_number: str,
    issuing_state: str,
    nationality: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    optional_data: str = "",
    document_type: str = "I",
) -> Mrz:
    """Build a TD2 MRZ (2 x 36) with all check digits."""
    fields = locals()
    return _format_two_line(TD2_LINE, **fields)


def _format_two_line(width: int, **fields: str) -> Mrz:
    td3 = width == TD3_LINE
    sex, birth_date, expiry_date = fields["sex"], fields["birth_date"], fields["expiry_date"]
    if sex not in ("M", "F", "<"):
        raise DocumentError(f"MRZ: sex {sex!r} is not M, F or '<'")
    _date("birth date", birth_date)
    _date("expiry date", expiry_date)
    name = (
        _field("surname", fields["surname"], 88).rstrip("<")
        + "<<"
        + _field("given names", fields["given_names"], 88)
    )
    l1 = _field("document type", fields["document_type"], 2)
    l1 += _field("issuing state", fields["issuing_state"], 3)
    l1 = (l1 + name)[:width].ljust(width, "<")
    number = _field("document number", fields["document_number"], 9)
    optional = _field("optional data", fields["optional_data"], 14 if td3 else 7)
    if td3:  # TD3's optional data carries its own check digit
        optional += "<" if set(optional) == {"<"} else check_digit(optional)
    head = number + check_digit(number)
    birth = birth_date + check_digit(birth_date)
    expiry = expiry_date + check_digit(expiry_date)
    composite = check_digit(head + birth + expiry + optional)
    nationality = _field("nationality", fields["nationality"], 3)
    l2 = head + nationality + birth + sex + expiry + optional + composite
    return parse_mrz([l1, l2])


def access_mrz(document_number: str, birth_date: str, expiry_date: str) -> Mrz:
    """An ``Mrz`` holding only what BAC needs (typed by an officer, no printed lines)."""
    mrz_information(document_number, birth_date, expiry_date)  # validates the three fields
    return Mrz(
        document_type="",
        issuing_state="",
        surname="",
        given_names="",
        document_number=document_number.upper().replace(" ", ""),
        nationality="",
        birth_date=birth_date,
        sex="<",
        expiry_date=expiry_date,
        optional_data="",
        lines=(),
    )
