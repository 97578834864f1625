"""dlib serialization primitives: encodings built by hand, errors that name the offset."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from gate.errors import ModelError
from models.dlib.serialization import DlibReader


def encode_int(value: int) -> bytes:
    """dlib's pack_int: control byte (0x80 negative | byte count) + little-endian bytes."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def encode_float(mantissa: int, exponent: int) -> bytes:
    return encode_int(mantissa) + encode_int(exponent)


@pytest.mark.parametrize("value", [0, 1, 127, 255, 256, -1, -300, 2**40 + 7, -(2**62)])
def test_int_round_trip(value: int) -> None:
    reader = DlibReader(encode_int(value))
    assert reader.read_int() == value
    assert reader.at_end()


def test_float_mantissa_exponent_and_specials() -> None:
    blob = (
        encode_float(3, -1)
        + encode_float(-5, 2)
        + encode_float(0, 32000)
        + encode_float(0, 32001)
        + encode_float(0, 32002)
    )
    reader = DlibReader(blob)
    assert reader.read_float() == 1.5
    assert reader.read_float() == -20.0
    assert reader.read_float() == math.inf
    assert reader.read_float() == -math.inf
    assert math.isnan(reader.read_float())
    reader.expect_end()


def test_bool_string_and_bad_bool() -> None:
    reader = DlibReader(b"10" + encode_int(5) + b"hello" + b"x")
    assert reader.read_bool() is True
    assert reader.read_bool() is False
    assert reader.read_string() == "hello"
    with pytest.raises(ModelError, match="offset 9"):
        reader.read_bool()


def test_tensor_reads_float32_little_endian() -> None:
    values = [0.5, -1.25, 3.0, 1e-3, 7.0, 8.0]
    blob = b"".join(encode_int(v) for v in (2, 1, 2, 1, 3)) + struct.pack("<6f", *values)
    tensor = DlibReader(blob).read_tensor()
    assert tensor.shape == (1, 2, 1, 3)
    assert tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor.ravel(), np.float32(values))


def test_alias_tensor_shape() -> None:
    blob = b"".join(encode_int(v) for v in (1, 1, 32, 3, 3))
    assert DlibReader(blob).read_alias_tensor() == (1, 32, 3, 3)


def test_truncated_tensor_names_offset() -> None:
    blob = b"xx" + b"".join(encode_int(v) for v in (2, 1, 1, 1, 4)) + b"\0" * 8
    reader = DlibReader(blob, source="net.dat")
    reader.read_bytes(2)
    with pytest.raises(ModelError, match=r"net\.dat.*truncated tensor.*offset 2"):
        reader.read_tensor()


def test_truncated_integer_and_bad_control_byte() -> None:
    with pytest.raises(ModelError, match="truncated integer.*offset 0"):
        DlibReader(b"\x04\x01\x02").read_int()
    with pytest.raises(ModelError, match="control byte 0x30"):
        DlibReader(b"0").read_int()
    with pytest.raises(ModelError, match="needed 1 byte"):
        DlibReader(b"").read_int()


def test_expect_int_names_what_was_wrong() -> None:
    with pytest.raises(ModelError, match="tensor version: expected 2, found 3"):
        DlibReader(encode_int(3)).read_tensor()


def test_matrix_newer_negative_dimensions() -> None:
    blob = encode_int(-2) + encode_int(-1) + encode_float(1, 0) + encode_float(1, 1)
    np.testing.assert_array_equal(DlibReader(blob).read_matrix(), [[1.0], [2.0]])


def test_missing_file_is_model_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="nope.dat"):
        DlibReader.from_path(tmp_path / "nope.dat")


def test_read_floats_mixes_fast_and_special_values() -> None:
    blob = (
        encode_float(3, -1)
        + encode_float(0, 32000)
        + encode_float(-5, 2)
        + encode_float(0, 32002)
        + encode_float(2**52 + 1, -52)
    )
    reader = DlibReader(blob + b"tail")
    values = reader.read_floats(5)
    assert values[0] == 1.5 and values[1] == np.inf and values[2] == -20.0
    assert np.isnan(values[3]) and values[4] == 1 + 2**-52
    assert reader.read_bytes(4) == b"tail"


def test_read_floats_truncated_names_offset() -> None:
    blob = encode_float(3, -1) + encode_float(7, 1)[:-1]
    reader = DlibReader(blob, source="floats.dat")
    with pytest.raises(ModelError, match=r"floats\.dat: .*truncated.* offset 6"):
        reader.read_floats(2)
