"""Reader primitives for dlib's binary serialization format.

dlib writes integers as a control byte (bit 0x80: negative, low nibble: byte count) followed
by that many little-endian bytes; floats as an integer mantissa and a 16-bit exponent
(value = m * 2**e, with reserved exponents for inf/-inf/NaN); bools as ASCII '0'/'1';
strings as a length then raw bytes; tensors as a version, four dimensions and raw
little-endian float32. Nothing describes the structure: the caller knows what comes next.

Every read checks bounds, and malformed input raises ``ModelError`` naming the source and the
byte offset where the problem starts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gate.errors import ModelError

# dlib's float_details reserves these exponents for values that have no mantissa/exponent form.
_EXP_INF = 32000
_EXP_NINF = 32001
_EXP_NAN = 32002

_TENSOR_VERSION = 2
_ALIAS_TENSOR_VERSION = 1


class DlibReader:
    """A cursor over one dlib-serialized blob. Reads advance ``offset``."""

    def __init__(self, data: bytes, source: str = "<bytes>") -> None:
        self._data = memoryview(data)
        self._offset = 0
        self.source = source

    @classmethod
    def from_path(cls, path: Path) -> DlibReader:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read dlib model file {path}: {exc}") from exc
        return cls(data, source=str(path))

    # ------------------------------------------------------------------ position
    @property
    def offset(self) -> int:
        return self._offset

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def remaining(self) -> int:
        return len(self._data) - self._offset

    def at_end(self) -> bool:
        return self._offset >= len(self._data)

    def error(self, message: str, offset: int | None = None) -> ModelError:
        """A ModelError naming this source and the offset (defaults to the cursor)."""
        where = self._offset if offset is None else offset
        return ModelError(f"{self.source}: {message} at byte offset {where}")

    def expect_end(self) -> None:
        if not self.at_end():
            raise self.error(f"{self.remaining} unexpected trailing bytes")

    # ------------------------------------------------------------------ raw bytes
    def read_bytes(self, count: int) -> bytes:
        if count < 0:
            raise self.error(f"negative byte count {count}")
        end = self._offset + count
        if end > len(self._data):
            raise self.error(f"truncated: needed {count} bytes, only {self.remaining} left")
        chunk = bytes(self._data[self._offset : end])
        self._offset = end
        return chunk

    def _byte(self) -> int:
        if self._offset >= len(self._data):
            raise self.error("truncated: needed 1 byte, none left")
        value = self._data[self._offset]
        self._offset += 1
        return value

    # ------------------------------------------------------------------ scalars
    def read_int(self) -> int:
        """A signed or unsigned integer in dlib's variable-length encoding."""
        start = self._offset
        control = self._byte()
        count = control & 0x0F
        if count == 0 or count > 8 or control & 0x70:
            raise self.error(f"invalid integer control byte 0x{control:02x}", start)
        end = self._offset + count
        if end > len(self._data):
            raise self.error(
                f"truncated integer: needed {count} bytes, only {self.remaining} left", start
            )
        value = int.from_bytes(self._data[self._offset : end], "little")
        self._offset = end
        return -value if control & 0x80 else value

    def expect_int(self, expected: int, what: str) -> None:
        """Read an integer that must equal ``expected`` (versions, tags, fixed sizes)."""
        start = self._offset
        value = self.read_int()
        if value != expected:
            raise self.error(f"{what}: expected {expected}, found {value}", start)

    def read_float(self) -> float:
        """A float stored as (int64 mantissa, int16 exponent)."""
        start = self._offset
        if self._offset < len(self._data) and self._data[self._offset] & 0x70:
            raise self.error("old ASCII float encoding is not supported", start)
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _EXP_INF:
            return math.inf
        if exponent == _EXP_NINF:
            return -math.inf
        if exponent == _EXP_NAN:
            return math.nan
        if not -32768 <= exponent < _EXP_INF:
            raise self.error(f"float exponent {exponent} out of range", start)
        return math.ldexp(float(mantissa), exponent)

    def read_bool(self) -> bool:
        start = self._offset
        value = self._byte()
        if value == 0x31:
            return True
        if value == 0x30:
            return False
        raise self.error(f"invalid bool byte 0x{value:02x} (expected '0' or '1')", start)

    def read_string(self, max_length: int = 1 << 20) -> str:
        start = self._offset
        length = self.read_int()
        if length < 0 or length > max_length:
            raise self.error(f"implausible string length {length}", start)
        raw = self.read_bytes(length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error("string is not valid UTF-8", start) from exc

    def expect_string(self, expected: str, what: str) -> None:
        start = self._offset
        value = self.read_string()
        if value != expected:
            raise self.error(f"{what}: expected {expected!r}, found {value!r}", start)

    # ------------------------------------------------------------------ arrays
    def read_floats(self, count: int) -> npt.NDArray[np.float64]:
        """``count`` consecutive dlib floats (the per-number encoding) as float64.

        The common case is decoded inline (model files hold millions of these); anything
        unusual (special values, malformed bytes, truncation) goes through ``read_float``,
        which raises the precise error.
        """
        out = [0.0] * count
        data = self._data
        size = len(data)
        pos = self._offset
        from_bytes = int.from_bytes
        ldexp = math.ldexp
        for i in range(count):
            start = pos
            control = data[pos] if pos < size else 0
            width = control & 0x0F
            end = pos + 1 + width
            if control & 0x70 or not 0 < width <= 8 or end >= size:
                out[i] = self._slow_float(start)
                pos = self._offset
                continue
            mantissa = from_bytes(data[pos + 1 : end], "little")
            if control & 0x80:
                mantissa = -mantissa
            control = data[end]
            width = control & 0x0F
            pos = end + 1 + width
            if control & 0x70 or not 0 < width <= 8 or pos > size:
                out[i] = self._slow_float(start)
                pos = self._offset
                continue
            exponent = from_bytes(data[end + 1 : pos], "little")
            if control & 0x80:
                exponent = -exponent
            if not -32768 <= exponent < _EXP_INF:
                out[i] = self._slow_float(start)
                pos = self._offset
                continue
            out[i] = ldexp(float(mantissa), exponent)
        self._offset = pos
        return np.asarray(out, dtype=np.float64)

    def _slow_float(self, offset: int) -> float:
        self._offset = offset
        return self.read_float()

    def read_ints(self, count: int) -> list[int]:
        read = self.read_int
        return [read() for _ in range(count)]

    def read_count(self, what: str, limit: int = 1 << 28) -> int:
        """A container length (std::vector size), sanity-checked against ``limit``."""
        start = self._offset
        value = self.read_int()
        if value < 0 or value > limit:
            raise self.error(f"implausible {what} count {value}", start)
        return value

    def read_matrix(self) -> npt.NDArray[np.float64]:
        """A dlib::matrix of floats/doubles: rows, cols (negative in the newer format), data."""
        start = self._offset
        rows = abs(self.read_int())
        cols = abs(self.read_int())
        if rows * cols > self.remaining:  # each element takes at least 1 byte
            raise self.error(f"matrix of {rows}x{cols} cannot fit in the file", start)
        return self.read_floats(rows * cols).reshape(rows, cols)

    def read_tensor(self) -> npt.NDArray[np.float32]:
        """A dlib resizable_tensor as a float32 array of shape (n, k, rows, cols)."""
        start = self._offset
        self.expect_int(_TENSOR_VERSION, "tensor version")
        shape = self._read_shape(start)
        count = shape[0] * shape[1] * shape[2] * shape[3]
        if count * 4 > self.remaining:
            raise self.error(
                f"truncated tensor {shape}: needs {count * 4} bytes, only {self.remaining} left",
                start,
            )
        values = np.frombuffer(self._data, dtype="<f4", count=count, offset=self._offset)
        self._offset += count * 4
        return values.astype(np.float32).reshape(shape)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        """A dlib alias_tensor: only a shape (a view into a layer's params tensor)."""
        start = self._offset
        self.expect_int(_ALIAS_TENSOR_VERSION, "alias tensor version")
        return self._read_shape(start)

    def _read_shape(self, start: int) -> tuple[int, int, int, int]:
        n, k, rows, cols = (self.read_int() for _ in range(4))
        if min(n, k, rows, cols) < 0:
            raise self.error(f"negative tensor dimension in {(n, k, rows, cols)}", start)
        return (n, k, rows, cols)
