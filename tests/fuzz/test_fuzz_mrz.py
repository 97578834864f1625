"""The printed MRZ (page scanner text) and the fields an officer types: only DocumentError
comes out, whatever the text; Unicode digits are never taken for digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.errors import DocumentError
from gate.icao.mrz import access_mrz, check_digit, format_td3, parse_mrz
from tests.fuzz.profile import fuzz_settings, time_limit

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
# The MRZ alphabet, its look-alikes and digits that str.isdigit() takes but int() may not.
ALPHABET = st.sampled_from([*"ABCXYZ0123456789<<<< \n|", "²", "٣", "０", "É", "\ufffd", "\x00"])


@st.composite
def mutated_mrz(draw: st.DrawFn) -> str:
    text = list(draw(st.sampled_from([TD3, TD1])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text) - 1))
        op = draw(st.sampled_from(["replace", "delete", "insert"]))
        if op == "replace":
            text[at] = draw(ALPHABET)
        elif op == "delete":
            del text[at]
        else:
            text.insert(at, draw(ALPHABET))
    return "".join(text)


TEXT = st.one_of(mutated_mrz(), st.text(ALPHABET, max_size=140), st.text(max_size=140))


@pytest.mark.timeout(time_limit(400, 120))
@fuzz_settings(400)
@given(TEXT)
def test_parse_mrz_gives_an_mrz_or_a_document_error(text: str) -> None:
    try:
        mrz = parse_mrz(text)
    except DocumentError:
        return
    assert all(line.isascii() for line in mrz.lines)
    assert parse_mrz(mrz.text) == mrz


@pytest.mark.timeout(time_limit(300, 120))
@fuzz_settings(300)
@given(st.text(ALPHABET, max_size=12), st.text(ALPHABET, max_size=8), st.text(ALPHABET, max_size=8))
def test_typed_fields_give_an_mrz_or_a_document_error(number: str, birth: str, expiry: str) -> None:
    try:
        mrz = access_mrz(number, birth, expiry)
    except DocumentError:
        return
    assert mrz.birth_date.isascii() and mrz.birth_date.isdigit()


@pytest.mark.timeout(time_limit(100, 60))
@fuzz_settings(100)
@given(st.text(ALPHABET, max_size=20), st.text(ALPHABET, max_size=20))
def test_format_td3_refuses_or_round_trips(surname: str, number: str) -> None:
    try:
        mrz = format_td3(
            document_type="P",
            issuing_state="UTO",
            surname=surname,
            given_names="ANNA",
            document_number=number,
            nationality="UTO",
            birth_date="740812",
            sex="F",
            expiry_date="341231",
        )
    except DocumentError:
        return
    assert parse_mrz(mrz.text).document_number == mrz.document_number


@pytest.mark.parametrize("digit", ["²", "٣", "０"])
def test_check_digit_refuses_unicode_digits(digit: str) -> None:
    with pytest.raises(DocumentError):
        check_digit("L898902C" + digit)
