"""BER-TLV from a hostile chip: nested, valid-looking structures with one thing wrong.

tests/gate/icao/test_parsers_fuzz.py feeds random bytes to every LDS parser; random bytes rarely
get past the first header, so this fuzzer builds real nested TLV (constructed tags, long
length forms, deep nesting) and then damages it: a flipped byte, a cut, a length that lies.
Only ``DocumentError`` may come out, or a decoded element.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.errors import DocumentError
from gate.icao import tlv
from tests.fuzz.profile import fuzz_settings, time_limit

PRIMITIVE = st.sampled_from([0x04, 0x80, 0x5F01, 0x5F1F, 0x5F2E, 0x9F21, 0x5F8101])
CONSTRUCTED = st.sampled_from([0x30, 0x60, 0x61, 0x75, 0x77, 0x7F61, 0x7F2E, 0xA0])


def _nested() -> st.SearchStrategy[bytes]:
    leaf = st.builds(tlv.encode, PRIMITIVE, st.binary(max_size=300))
    return st.recursive(
        leaf,
        lambda children: st.builds(
            lambda tag, parts: tlv.encode(tag, b"".join(parts)),
            CONSTRUCTED,
            st.lists(children, min_size=1, max_size=4),
        ),
        max_leaves=12,
    )


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(_nested()))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "long-length"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:  # a length byte claiming a 1..8-byte long form
            data[at:at] = bytes([0x80 | draw(st.integers(1, 8))]) + b"\xff" * 4
    return bytes(data)


@pytest.mark.timeout(time_limit(300, 120))
@fuzz_settings(300)
@given(damaged())
def test_damaged_nested_tlv_is_a_document_error_or_decodes(data: bytes) -> None:
    try:
        element = tlv.decode(data)
    except DocumentError:
        return
    assert tlv.encode(element.tag, element.value)  # what decoded can be written again
