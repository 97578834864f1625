"""SecurityInfos of EF.CardAccess and DG14 (ICAO Doc 9303 part 11, 9.2): PACE and CA.

``PaceInfo`` names a PACE protocol (key agreement, mapping, cipher) and a standardised
domain-parameter ID; ``CaInfo`` and ``CaPublicKey`` name the Chip Authentication protocol
and the chip's static key. Anything malformed raises ``DocumentError`` naming the file;
unknown SecurityInfos are skipped, as the standard asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core

from gate.errors import DocumentError
from gate.icao import tlv

ID_PACE = "0.4.0.127.0.7.2.2.4"
ID_CA = "0.4.0.127.0.7.2.2.3"
ID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
_KEY_AGREEMENT = {"1": "DH", "2": "ECDH", "3": "DH", "4": "ECDH", "6": "ECDH"}
_MAPPING = {"1": "GM", "2": "GM", "3": "IM", "4": "IM", "6": "CAM"}
_CIPHER = {"1": "3DES", "2": "AES-128", "3": "AES-192", "4": "AES-256"}
# Password references of MSE:Set AT (9303-11 4.4.4.1).
PASSWORD_MRZ = 1
PASSWORD_CAN = 2


def oid_der(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def pace_oid(key_agreement: str, cipher: str, mapping: str = "GM") -> str:
    family = {("DH", "GM"): "1", ("ECDH", "GM"): "2", ("DH", "IM"): "3", ("ECDH", "IM"): "4",
              ("ECDH", "CAM"): "6"}[(key_agreement, mapping)]  # fmt: skip
    suffix = {v: k for k, v in _CIPHER.items()}[cipher]
    return f"{ID_PACE}.{family}.{suffix}"


def ca_oid(key_agreement: str, cipher: str) -> str:
    suffix = {v: k for k, v in _CIPHER.items()}[cipher]
    return f"{ID_CA}.{'1' if key_agreement == 'DH' else '2'}.{suffix}"


@dataclass(frozen=True)
class PaceInfo:
    oid: str
    version: int
    parameter_id: int | None

    @property
    def _parts(self) -> list[str]:
        return self.oid[len(ID_PACE) + 1 :].split(".")

    @property
    def key_agreement(self) -> str:
        return _KEY_AGREEMENT[self._parts[0]]

    @property
    def mapping(self) -> str:
        return _MAPPING[self._parts[0]]

    @property
    def cipher(self) -> str:
        return _CIPHER[self._parts[1]]

    def encode(self) -> bytes:
        body = oid_der(self.oid) + bytes(core.Integer(self.version).dump())
        if self.parameter_id is not None:
            body += bytes(core.Integer(self.parameter_id).dump())
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class CaInfo:
    oid: str
    version: int
    key_id: int | None

    @property
    def key_agreement(self) -> str:
        return "DH" if self.oid.split(".")[-2] == "1" else "ECDH"

    @property
    def cipher(self) -> str:
        return _CIPHER[self.oid.split(".")[-1]]

    def encode(self) -> bytes:
        body = oid_der(self.oid) + bytes(core.Integer(self.version).dump())
        if self.key_id is not None:
            body += bytes(core.Integer(self.key_id).dump())
        return tlv.encode(0x30, body)


@dataclass(frozen=True)
class CaPublicKey:
    oid: str  # id-PK-DH or id-PK-ECDH
    spki: bytes  # DER SubjectPublicKeyInfo
    key_id: int | None

    def encode(self) -> bytes:
        body = oid_der(self.oid) + self.spki
        if self.key_id is not None:
            body += bytes(core.Integer(self.key_id).dump())
        return tlv.encode(0x30, body)


SecurityInfo = PaceInfo | CaInfo | CaPublicKey


def encode_security_infos(infos: list[SecurityInfo]) -> bytes:
    return tlv.encode(0x31, b"".join(info.encode() for info in infos))


def _oid(element: tlv.Tlv, where: str) -> str:
    """Dotted form of a DER OBJECT IDENTIFIER value (X.690 8.19)."""
    value = element.value
    if element.tag != 0x06 or not value or value[-1] & 0x80 or len(value) > 64:
        raise DocumentError(f"{where}: SecurityInfo does not start with an object identifier")
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def _int(element: tlv.Tlv, where: str) -> int:
    if element.tag != 0x02 or not 1 <= len(element.value) <= 4:
        raise DocumentError(f"{where}: expected a small INTEGER, found tag {element.tag:X}")
    return int.from_bytes(element.value, "big", signed=True)


def parse_security_infos(data: bytes, where: str) -> list[SecurityInfo]:
    """The PACE and CA SecurityInfos of a SET OF SecurityInfo (EF.CardAccess, DG14 body)."""
    try:
        outer = tlv.decode(data)
    except DocumentError as exc:
        raise DocumentError(f"{where}: not DER: {exc}") from exc
    if outer.tag != 0x31:
        raise DocumentError(f"{where}: expected a SET OF SecurityInfo, found tag {outer.tag:X}")
    found: list[SecurityInfo] = []
    for info in outer.children:
        if info.tag != 0x30 or not info.children:
            raise DocumentError(f"{where}: SecurityInfo is not a SEQUENCE")
        oid, rest = _oid(info.children[0], where), info.children[1:]
        if oid.startswith(ID_PACE + ".") and oid.count(".") == len(ID_PACE.split(".")) + 1:
            family, suffix = oid.split(".")[-2:]
            if family not in _MAPPING or suffix not in _CIPHER or not rest:
                raise DocumentError(f"{where}: unknown PACE protocol {oid}")
            parameter = _int(rest[1], where) if len(rest) > 1 else None
            found.append(PaceInfo(oid, _int(rest[0], where), parameter))
        elif oid.startswith(ID_CA + ".") and oid.count(".") == len(ID_CA.split(".")) + 1:
            family, suffix = oid.split(".")[-2:]
            if family not in ("1", "2") or suffix not in _CIPHER or not rest:
                raise DocumentError(f"{where}: unknown Chip Authentication protocol {oid}")
            key_id = _int(rest[1], where) if len(rest) > 1 else None
            found.append(CaInfo(oid, _int(rest[0], where), key_id))
        elif oid in (ID_PK_DH, ID_PK_ECDH):
            if not rest or rest[0].tag != 0x30:
                raise DocumentError(f"{where}: CA public key info lacks its SubjectPublicKeyInfo")
            key_id = _int(rest[1], where) if len(rest) > 1 else None
            found.append(CaPublicKey(oid, tlv.encode(0x30, rest[0].value), key_id))
    return found


def parse_card_access(data: bytes) -> list[PaceInfo]:
    return [i for i in parse_security_infos(data, "EF.CardAccess") if isinstance(i, PaceInfo)]


def parse_dg14(data: bytes) -> list[SecurityInfo]:
    try:
        outer = tlv.decode(data)
    except DocumentError as exc:
        raise DocumentError(f"DG14: {exc}") from exc
    if outer.tag != 0x6E:
        raise DocumentError(f"DG14: tag {outer.tag:X}, expected 6E")
    return parse_security_infos(outer.value, "DG14")
