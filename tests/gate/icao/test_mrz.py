"""MRZ parsing and formatting against the ICAO Doc 9303 specimens."""

from __future__ import annotations

import pytest

from gate.errors import DocumentError
from gate.icao.mrz import check_digit, format_td3, parse_mrz

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


def test_check_digits_of_specimen_fields() -> None:
    assert check_digit("L898902C3") == "6"
    assert check_digit("740812") == "2"
    assert check_digit("ZE184226B<<<<<") == "1"


def test_parse_td3_specimen() -> None:
    mrz = parse_mrz("\n".join(TD3))
    assert (mrz.kind, mrz.document_type, mrz.issuing_state) == ("TD3", "P", "UTO")
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert (mrz.document_number, mrz.birth_date, mrz.expiry_date) == (
        "L898902C3",
        "740812",
        "120415",
    )
    assert (mrz.sex, mrz.nationality, mrz.optional_data) == ("F", "UTO", "ZE184226B")
    assert mrz.bac_key_seed_input() == b"L898902C3674081221204159"


def test_parse_td1_specimen() -> None:
    mrz = parse_mrz(TD1)
    assert mrz.kind == "TD1"
    assert mrz.document_number == "D23145890"
    assert mrz.surname == "ERIKSSON" and mrz.given_names == "ANNA MARIA"
    assert mrz.birth_date == "740812" and mrz.expiry_date == "120415"


@pytest.mark.parametrize(
    ("line", "position", "field"),
    [
        (1, 9, "document number"),
        (1, 19, "birth date"),
        (1, 27, "expiry date"),
        (1, 42, "optional data"),
        (1, 43, "composite"),
    ],
)
def test_each_wrong_check_digit_names_its_field(line: int, position: int, field: str) -> None:
    lines = list(TD3)
    digit = lines[line][position]
    lines[line] = lines[line][:position] + str((int(digit) + 1) % 10) + lines[line][position + 1 :]
    with pytest.raises(DocumentError, match=field) as info:
        parse_mrz(lines)
    # The message reaches logs and the audit trail: it names the field, never document text.
    assert "L898902C" not in str(info.value) and "740812" not in str(info.value)


def test_td1_wrong_composite() -> None:
    lines = list(TD1)
    lines[1] = lines[1][:29] + "7"
    with pytest.raises(DocumentError, match="composite"):
        parse_mrz(lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P<UTO", "expected 2 lines of 44"),
        (TD3[0] + "\n" + TD3[1].replace("L", "l"), "line 2 contains 'l'"),
        # a newline inside a line (a flipped byte in DG1) is named, not a crash
        ([TD3[0], TD3[1][:15] + "\n" + TD3[1][16:]], r"line 2 contains '\\n'"),
        ("", "empty"),
    ],
)
def test_malformed_mrz_is_rejected(text: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        parse_mrz(text)


def test_format_round_trip_and_long_names() -> None:
    mrz = format_td3(
        surname="van der Berg-Smith",
        given_names="Anna Maria Josephine Alexandra Elisabeth",
        document_number="X1234567",
        issuing_state="NLD",
        nationality="NLD",
        birth_date="850229",
        sex="F",
        expiry_date="330101",
    )
    assert len(mrz.lines[0]) == 44 and len(mrz.lines[1]) == 44
    again = parse_mrz(mrz.text)
    assert again == mrz
    assert again.surname == "VAN DER BERG SMITH"
    assert again.given_names.startswith("ANNA MARIA")


def test_format_rejects_bad_fields() -> None:
    with pytest.raises(DocumentError, match="sex"):
        format_td3(
            surname="A",
            given_names="B",
            document_number="1",
            issuing_state="UTO",
            nationality="UTO",
            birth_date="900101",
            sex="X",
            expiry_date="300101",
        )
    with pytest.raises(DocumentError, match="birth date"):
        format_td3(
            surname="A",
            given_names="B",
            document_number="1",
            issuing_state="UTO",
            nationality="UTO",
            birth_date="901301",
            sex="M",
            expiry_date="300101",
        )
