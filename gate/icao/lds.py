"""LDS 1.7 elementary files (ICAO Doc 9303 part 10): EF.COM, DG1, DG2, DG11, DG12, DG15.

DG2 holds a biometric information template with ISO/IEC 19794-5 (2005) facial records; the
image inside is the JPEG or JPEG 2000 byte string exactly as issued, so that a reader gets
back the very bytes the SOD hash covers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gate.errors import DocumentError
from gate.icao import tlv
from gate.icao.mrz import Mrz, parse_mrz

# Data group number -> (file identifier, LDS tag).
DATA_GROUPS: dict[int, tuple[int, int]] = {
    1: (0x0101, 0x61),
    2: (0x0102, 0x75),
    3: (0x0103, 0x63),
    11: (0x010B, 0x6B),
    12: (0x010C, 0x6C),
    14: (0x010E, 0x6E),
    15: (0x010F, 0x6F),
}
FID_COM = 0x011E
FID_SOD = 0x011D
FID_CARD_ACCESS = 0x011C
TAG_COM = 0x60
TAG_SOD = 0x77
TAG_TO_DG = {tag: dg for dg, (_, tag) in DATA_GROUPS.items()}

IMAGE_JPEG = 0
IMAGE_JPEG2000 = 1
_FACE_HEADER = struct.Struct(">4s4sIH")  # "FAC\0", "010\0", record length, face count
_FACE_INFO = struct.Struct(">IHBBB3s2s3s3s")  # block length ... pose uncertainty (20 bytes)
_IMAGE_INFO = struct.Struct(">BBHHBBHH")  # type, data type, width, height, colour, source ...


def encode_com(
    data_groups: list[int], *, lds_version: str = "0107", unicode: str = "040000"
) -> bytes:
    tags = bytes(DATA_GROUPS[dg][1] for dg in sorted(data_groups))
    body = tlv.encode(0x5F01, lds_version.encode()) + tlv.encode(0x5F36, unicode.encode())
    return tlv.encode(TAG_COM, body + tlv.encode(0x5C, tags))


def decode_com(data: bytes) -> list[int]:
    """The data-group numbers listed in EF.COM."""
    element = _outer(data, TAG_COM, "EF.COM")
    tags = element.require(0x5C, "EF.COM").value
    unknown = [t for t in tags if t not in TAG_TO_DG]
    if unknown:
        raise DocumentError(f"EF.COM: unknown data-group tag {unknown[0]:02X}")
    return sorted(TAG_TO_DG[t] for t in tags)


def encode_dg1(mrz: Mrz) -> bytes:
    return tlv.encode(0x61, tlv.encode(0x5F1F, "".join(mrz.lines).encode("ascii")))


def decode_dg1(data: bytes) -> Mrz:
    element = _outer(data, 0x61, "DG1")
    raw = element.require(0x5F1F, "DG1").value
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DocumentError("DG1: MRZ is not ASCII") from exc
    width = {88: 44, 90: 30, 72: 36}.get(len(text))
    if width is None:
        raise DocumentError(
            f"DG1: MRZ of {len(text)} characters is neither TD3 (88), TD2 (72) nor TD1 (90)"
        )
    return parse_mrz([text[i : i + width] for i in range(0, len(text), width)])


GENDER_UNSPECIFIED, GENDER_MALE, GENDER_FEMALE = 0, 1, 2


@dataclass(frozen=True)
class FaceImage:
    """One face record of DG2: the encoded image and what the record header says about it."""

    image: bytes
    image_type: int  # IMAGE_JPEG or IMAGE_JPEG2000
    width: int
    height: int
    gender: int = GENDER_UNSPECIFIED  # ISO/IEC 19794-5: 0 unspecified, 1 male, 2 female


def gender_of(sex: str) -> int:
    """The DG2 gender code for an MRZ sex field (M, F, or '<' for unspecified)."""
    return {"M": GENDER_MALE, "F": GENDER_FEMALE}.get(sex, GENDER_UNSPECIFIED)


def _face_record(face: FaceImage) -> bytes:
    info = _FACE_INFO.pack(
        20, 0, face.gender, 0, 0, b"\x00" * 3, b"\x00" * 2, b"\x00" * 3, b"\x00" * 3
    )
    # Face image type 1 = full frontal; colour space 1 = 24-bit RGB; source 2 = digital camera.
    image_info = _IMAGE_INFO.pack(1, face.image_type, face.width, face.height, 1, 2, 0, 0)
    length = 4 + len(info) - 4 + len(image_info) + len(face.image)
    block = struct.pack(">I", length) + info[4:] + image_info + face.image
    header = _FACE_HEADER.pack(b"FAC\x00", b"010\x00", _FACE_HEADER.size + len(block), 1)
    return header + block


def encode_dg2(faces: list[FaceImage]) -> bytes:
    templates = b""
    for face in faces:
        bhdr = (
            tlv.encode(0x80, b"\x01\x01")  # ICAO header version
            + tlv.encode(0x81, b"\x02")  # biometric type: facial features
            + tlv.encode(0x87, b"\x01\x01")  # format owner: ISO/IEC JTC1 SC37
            + tlv.encode(0x88, b"\x00\x08")  # format type: face image
        )
        templates += tlv.encode(
            0x7F60, tlv.encode(0xA1, bhdr) + tlv.encode(0x5F2E, _face_record(face))
        )
    group = tlv.encode(0x02, bytes([len(faces)])) + templates
    return tlv.encode(0x75, tlv.encode(0x7F61, group))


def decode_dg2(data: bytes) -> list[FaceImage]:
    element = _outer(data, 0x75, "DG2")
    group = element.require(0x7F61, "DG2")
    faces = []
    for template in (c for c in group.children if c.tag == 0x7F60):
        block = template.find(0x5F2E) or template.find(0x7F2E)
        if block is None:
            raise DocumentError("DG2: biometric data block (5F2E) missing")
        faces.append(_decode_face_record(block.value))
    if not faces:
        raise DocumentError("DG2: no biometric information template (7F60)")
    return faces


def _decode_face_record(record: bytes) -> FaceImage:
    if len(record) < _FACE_HEADER.size + _FACE_INFO.size + _IMAGE_INFO.size:
        raise DocumentError(f"DG2: face record of {len(record)} bytes is too short")
    magic, _version, total, count = _FACE_HEADER.unpack_from(record)
    if magic != b"FAC\x00":
        raise DocumentError(f"DG2: face record starts with {magic!r}, expected b'FAC\\x00'")
    if total != len(record) or count < 1:
        raise DocumentError(
            f"DG2: face record declares {total} bytes / {count} faces, has {len(record)}"
        )
    offset = _FACE_HEADER.size
    block_length, points, gender = struct.unpack_from(">IHB", record, offset)
    if offset + block_length > len(record):
        raise DocumentError(f"DG2: facial record block declares {block_length} bytes, past the end")
    offset += _FACE_INFO.size + 8 * points
    if offset + _IMAGE_INFO.size > len(record):
        raise DocumentError("DG2: facial record ends inside the image information")
    _, data_type, width, height, *_ = _IMAGE_INFO.unpack_from(record, offset)
    offset += _IMAGE_INFO.size
    end = _FACE_HEADER.size + block_length
    if data_type not in (IMAGE_JPEG, IMAGE_JPEG2000):
        raise DocumentError(
            f"DG2: image data type {data_type} is neither JPEG (0) nor JPEG 2000 (1)"
        )
    return FaceImage(record[offset:end], data_type, width, height, gender)


# DG11 (additional personal details) and DG12 (additional document details): tag -> name.
DG11_FIELDS = {0x5F0E: "full_name", 0x5F10: "personal_number", 0x5F2B: "full_birth_date",
               0x5F11: "place_of_birth", 0x5F42: "address", 0x5F12: "telephone",
               0x5F13: "profession", 0x5F14: "title"}  # fmt: skip
DG12_FIELDS = {0x5F19: "issuing_authority", 0x5F26: "date_of_issue",
               0x5F1B: "endorsements", 0x5F1C: "tax_exit_requirements"}  # fmt: skip


def _encode_details(tag: int, fields: dict[int, str], values: dict[str, str]) -> bytes:
    by_name = {name: t for t, name in fields.items()}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise DocumentError(f"DG{TAG_TO_DG[tag]}: unknown field {unknown[0]!r}")
    tags = [by_name[name] for name in values]
    body = tlv.encode(0x5C, b"".join(tlv.encode_tag(t) for t in tags))
    for name, value in values.items():
        body += tlv.encode(by_name[name], value.encode("utf-8"))
    return tlv.encode(tag, body)


def _decode_details(data: bytes, tag: int, fields: dict[int, str]) -> dict[str, str]:
    name = f"DG{TAG_TO_DG[tag]}"
    element = _outer(data, tag, name)
    found: dict[str, str] = {}
    for child in element.children:
        if child.tag in fields:
            try:
                found[fields[child.tag]] = child.value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DocumentError(f"{name}: {fields[child.tag]} is not UTF-8") from exc
    return found


def encode_dg11(values: dict[str, str]) -> bytes:
    return _encode_details(0x6B, DG11_FIELDS, values)


def decode_dg11(data: bytes) -> dict[str, str]:
    return _decode_details(data, 0x6B, DG11_FIELDS)


def encode_dg12(values: dict[str, str]) -> bytes:
    return _encode_details(0x6C, DG12_FIELDS, values)


def decode_dg12(data: bytes) -> dict[str, str]:
    return _decode_details(data, 0x6C, DG12_FIELDS)


def encode_dg15(subject_public_key_info: bytes) -> bytes:
    return tlv.encode(0x6F, subject_public_key_info)


def decode_dg15(data: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of the Active Authentication key."""
    return _outer(data, 0x6F, "DG15").value


def _outer(data: bytes, tag: int, name: str) -> tlv.Tlv:
    element = tlv.decode(data)
    if element.tag != tag:
        raise DocumentError(f"{name}: starts with tag {element.tag:X}, expected {tag:X}")
    return element
