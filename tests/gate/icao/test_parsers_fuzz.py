"""Hostile bytes from a chip end in DocumentError, never in another exception or a hang."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import DocumentError
from gate.icao import lds, tlv
from gate.icao.sod import parse_sod
from gate.simulate.issue import IssuedPassport

PARSERS: list[Callable[[bytes], object]] = [
    tlv.decode,
    lds.decode_com,
    lds.decode_dg1,
    lds.decode_dg2,
    lds.decode_dg15,
    parse_sod,
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes(parse: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        parse(data)


@pytest.mark.parametrize("fid", [0x011E, 0x0101, 0x0102, 0x011D])
@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0, max_value=10**6), flip=st.integers(1, 255))
def test_one_byte_flipped_in_a_real_file(
    passport: IssuedPassport, fid: int, position: int, flip: int
) -> None:
    content = bytearray(passport.files[fid])
    content[position % len(content)] ^= flip
    parse = {0x011E: lds.decode_com, 0x0101: lds.decode_dg1, 0x0102: lds.decode_dg2}.get(
        fid, parse_sod
    )
    with contextlib.suppress(DocumentError):
        parse(bytes(content))
