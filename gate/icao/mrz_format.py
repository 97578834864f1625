"""Build TD1 (ID card, 3 x 30) MRZs with every check digit (ICAO Doc 9303 part 5); TD2 and
TD3 are ``gate.icao.mrz.format_td2`` / ``format_td3``. Names longer than the line are cut."""

from __future__ import annotations

from gate.errors import DocumentError
from gate.icao.mrz import (
    TD1_LINE,
    Mrz,
    _date,
    _field,
    check_digit,
    format_td2,
    format_td3,
    parse_mrz,
)


def _common(sex: str, birth_date: str, expiry_date: str) -> None:
    if sex not in ("M", "F", "<"):
        raise DocumentError(f"MRZ: sex {sex!r} is not M, F or '<'")
    _date("birth date", birth_date)
    _date("expiry date", expiry_date)


def _name_field(surname: str, given_names: str, width: int) -> str:
    name = (
        _field("surname", surname, 88).rstrip("<") + "<<" + _field("given names", given_names, 88)
    )
    return name[:width].ljust(width, "<")


def format_td1(
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
    document_type: str = "ID",
) -> Mrz:
    if sex not in ("M", "F", "<"):
        raise DocumentError(f"MRZ: sex {sex!r} is not M, F or '<'")
    _date("birth date", birth_date)
    _date("expiry date", expiry_date)
    number = _field("document number", document_number, 9)
    l1 = _field("document type", document_type, 2) + _field("issuing state", issuing_state, 3)
    l1 += number + check_digit(number) + _field("optional data", optional_data, 15)
    birth = birth_date + check_digit(birth_date)
    expiry = expiry_date + check_digit(expiry_date)
    optional2 = "<" * 11
    composite = check_digit(l1[5:30] + birth + expiry + optional2)
    l2 = birth + sex + expiry + _field("nationality", nationality, 3) + optional2 + composite
    l3 = _name_field(surname, given_names, TD1_LINE)
    return parse_mrz([l1, l2, l3])


FORMATS = {"td1": format_td1, "td2": format_td2, "td3": format_td3}
