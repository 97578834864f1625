"""BER-TLV as used by the LDS (ISO/IEC 7816-4, ICAO Doc 9303 part 10).

Multi-byte tags and long-form lengths are supported. Decoding refuses what a hostile chip
could use against the reader: lengths running past the data, lengths above ``max_length``,
nesting deeper than ``max_depth``, trailing bytes where none are allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gate.errors import DocumentError

MAX_DEPTH = 16
MAX_LENGTH = 1 << 24  # 16 MiB: far above any real data group, far below an allocation attack


@dataclass(frozen=True)
class Tlv:
    """One decoded element. ``children`` is filled for constructed tags (bit 6 of byte 0)."""

    tag: int
    value: bytes
    children: tuple[Tlv, ...] = ()

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def find(self, tag: int) -> Tlv | None:
        """The first direct child with ``tag``."""
        return next((child for child in self.children if child.tag == tag), None)

    def require(self, tag: int, where: str) -> Tlv:
        child = self.find(tag)
        if child is None:
            raise DocumentError(f"{where}: tag {tag:X} missing")
        return child


def is_constructed(tag: int) -> bool:
    first = tag
    while first > 0xFF:
        first >>= 8
    return bool(first & 0x20)


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise DocumentError(f"TLV: negative tag {tag}")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value


def read_header(
    data: bytes, offset: int, *, end: int | None = None, max_length: int = MAX_LENGTH
) -> tuple[int, int, int]:
    """Decode tag and length at ``offset``: returns (tag, length, value offset).

    The declared length is checked against ``max_length`` only; callers that hold the whole
    element check it against the data (a chip's header is read before the body).
    """
    end = len(data) if end is None else end
    if offset >= end:
        raise DocumentError(f"TLV: truncated at byte {offset} (no tag)")
    first = data[offset]
    tag = first
    pos = offset + 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= end:
                raise DocumentError(f"TLV: truncated multi-byte tag at byte {offset}")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
            if pos - offset > 4:
                raise DocumentError(f"TLV: tag at byte {offset} longer than 4 bytes")
    if pos >= end:
        raise DocumentError(f"TLV: truncated at byte {pos} (tag {tag:X} has no length)")
    size = data[pos]
    pos += 1
    if size < 0x80:
        length = size
    elif size == 0x80:
        raise DocumentError(f"TLV: indefinite length at byte {pos - 1} (tag {tag:X})")
    else:
        count = size & 0x7F
        if count > 4:
            raise DocumentError(f"TLV: {count}-byte length at byte {pos - 1} (tag {tag:X})")
        if pos + count > end:
            raise DocumentError(f"TLV: truncated length at byte {pos} (tag {tag:X})")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if length > max_length:
        raise DocumentError(
            f"TLV: tag {tag:X} at byte {offset} declares {length} bytes, above the "
            f"limit of {max_length}"
        )
    return tag, length, pos


def _decode_at(
    data: bytes, offset: int, end: int, depth: int, max_depth: int, max_length: int
) -> tuple[Tlv, int]:
    if depth > max_depth:
        raise DocumentError(f"TLV: nesting deeper than {max_depth} at byte {offset}")
    tag, length, start = read_header(data, offset, end=end, max_length=max_length)
    stop = start + length
    if stop > end:
        raise DocumentError(
            f"TLV: tag {tag:X} at byte {offset} declares {length} bytes but only "
            f"{end - start} remain"
        )
    value = bytes(data[start:stop])
    children: tuple[Tlv, ...] = ()
    if is_constructed(tag):
        children = tuple(_iter(data, start, stop, depth + 1, max_depth, max_length))
    return Tlv(tag, value, children), stop


def _iter(
    data: bytes, offset: int, end: int, depth: int, max_depth: int, max_length: int
) -> Iterator[Tlv]:
    while offset < end:
        element, offset = _decode_at(data, offset, end, depth, max_depth, max_length)
        yield element


def decode(data: bytes, *, max_depth: int = MAX_DEPTH, max_length: int = MAX_LENGTH) -> Tlv:
    """Decode exactly one element spanning all of ``data`` (nothing may trail it)."""
    element, stop = _decode_at(data, 0, len(data), 0, max_depth, max_length)
    if stop != len(data):
        raise DocumentError(f"TLV: {len(data) - stop} bytes trail tag {element.tag:X}")
    return element
