"""BER-TLV codec: round trips and the limits that protect the reader from hostile chips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.errors import DocumentError
from gate.icao import tlv


def test_multibyte_tag_and_long_length_round_trip() -> None:
    value = bytes(range(256)) * 2
    encoded = tlv.encode(0x5F2E, value)
    assert encoded[:5] == bytes.fromhex("5F2E820200")
    element = tlv.decode(encoded)
    assert element.tag == 0x5F2E and element.value == value


def test_constructed_children() -> None:
    inner = tlv.encode(0x5F01, b"0107") + tlv.encode(0x5C, b"\x61\x75")
    element = tlv.decode(tlv.encode(0x60, inner))
    assert [c.tag for c in element.children] == [0x5F01, 0x5C]
    assert element.require(0x5C, "EF.COM").value == b"\x61\x75"
    with pytest.raises(DocumentError, match="EF.COM: tag 5F36 missing"):
        element.require(0x5F36, "EF.COM")


@given(
    st.sampled_from([0x04, 0x80, 0x5F01, 0x5F1F, 0x5F2E, 0x9F21, 0x5F8101]), st.binary(max_size=600)
)
def test_primitive_round_trip(tag: int, value: bytes) -> None:
    element = tlv.decode(tlv.encode(tag, value))
    assert (element.tag, element.value) == (tag, value)


def test_truncated_value_is_rejected() -> None:
    with pytest.raises(DocumentError, match="declares 16 bytes but only 3 remain"):
        tlv.decode(bytes.fromhex("0410") + b"abc")


def test_truncated_length_is_rejected() -> None:
    with pytest.raises(DocumentError, match="truncated length"):
        tlv.decode(bytes.fromhex("0482FF"))


def test_oversized_declared_length_is_rejected_before_reading() -> None:
    with pytest.raises(DocumentError, match="above the limit"):
        tlv.read_header(bytes.fromhex("7584FFFFFFFF"), 0)
    with pytest.raises(DocumentError, match="5-byte length"):
        tlv.decode(bytes.fromhex("75850100000000"))


def test_deep_nesting_is_rejected() -> None:
    data = b"\x04\x00"
    for _ in range(40):
        data = tlv.encode(0x30, data)
    with pytest.raises(DocumentError, match="nesting deeper than 16"):
        tlv.decode(data)


def test_trailing_bytes_and_indefinite_length() -> None:
    with pytest.raises(DocumentError, match="trail"):
        tlv.decode(bytes.fromhex("0401AA00"))
    with pytest.raises(DocumentError, match="indefinite"):
        tlv.decode(bytes.fromhex("308004000000"))
