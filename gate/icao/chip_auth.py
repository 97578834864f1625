"""Chip Authentication v1 (ICAO Doc 9303 part 11, section 6.2): the reader's side.

DG14 holds the chip's static key (ECDH or DH) and the protocol; the reader sends an
ephemeral key, both sides derive new session keys, and secure messaging restarts with
SSC 0. A chip that lacks the private key (a clone with copied data groups) cannot answer
under the new keys. The static key is validated first: a point off its named curve, or a
DH value outside its subgroup, is refused (invalid-curve attack).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import DocumentError, SecurityError
from gate.icao import pace, tlv
from gate.icao.apdu import Command, Response
from gate.icao.bac import SessionKeys
from gate.icao.pace_groups import DhGroup, dh_group_of
from gate.icao.security_infos import ID_PK_DH, CaInfo, CaPublicKey, oid_der, parse_dg14

CaStatus = Literal["valid", "invalid", "not_supported"]
ID_DH_PUBLIC_NUMBER = "1.2.840.10046.2.1"  # X9.42 dhpublicnumber
# Curves a chip may use for CA (9303-11 9.5.1 lists these for PACE and CA alike).
CA_CURVES = {
    "secp192r1", "secp224r1", "secp256r1", "secp384r1", "secp521r1", "brainpoolP256r1",
    "brainpoolP384r1", "brainpoolP512r1",
}  # fmt: skip


@dataclass(frozen=True)
class ChipAuthResult:
    status: CaStatus
    reason: str
    algorithm: str = ""


@dataclass(frozen=True)
class DhKey:
    """A DH private key in a named group (the virtual chip's static CA key)."""

    group: DhGroup
    private: int = field(repr=False)

    @property
    def public(self) -> bytes:
        return self.group.public_key(self.private)


def _der_int(value: int) -> bytes:
    return tlv.encode(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def dh_spki(group: DhGroup, public: bytes) -> bytes:
    """SubjectPublicKeyInfo of an X9.42 DH key: (p, g, q) and y."""
    params = tlv.encode(0x30, _der_int(group.p) + _der_int(group.g) + _der_int(group.q))
    algorithm = tlv.encode(0x30, oid_der(ID_DH_PUBLIC_NUMBER) + params)
    key = _der_int(int.from_bytes(public, "big"))
    return tlv.encode(0x30, algorithm + tlv.encode(0x03, b"\x00" + key))


def _parse_dh_spki(spki: bytes) -> tuple[DhGroup, bytes]:
    try:
        outer = tlv.decode(spki)
        algorithm, bits = outer.children[0], outer.children[1]
        numbers = [int.from_bytes(c.value, "big") for c in algorithm.children[1].children]
        p, g, q = numbers[0], numbers[1], numbers[2]
        y = int.from_bytes(tlv.decode(bits.value[1:]).value, "big")
    except (DocumentError, IndexError) as exc:
        raise SecurityError(f"DG14: the DH Chip Authentication key is malformed ({exc})") from exc
    group = dh_group_of(p, g, q)
    if y.bit_length() > 8 * group.size:
        raise SecurityError("DG14: the DH Chip Authentication key is larger than p")
    return group, y.to_bytes(group.size, "big")


@dataclass(frozen=True)
class ChipKey:
    """The chip's static CA key from DG14, validated."""

    kind: str  # "ECDH" or "DH"
    curve: ec.EllipticCurve | None
    ec_public: ec.EllipticCurvePublicKey | None
    dh_group: DhGroup | None
    dh_public: bytes

    @property
    def name(self) -> str:
        return self.curve.name if self.curve else (self.dh_group.name if self.dh_group else "")


def load_chip_key(info: CaPublicKey, where: str = "DG14") -> ChipKey:
    """The static key (from DG14 or EF.CardSecurity: ``where``), or ``SecurityError``
    naming why it is refused."""
    if info.oid == ID_PK_DH:
        group, y = _parse_dh_spki(info.spki)
        group.shared_secret(1, y, f"{where}: the DH Chip Authentication key")  # subgroup check
        return ChipKey("DH", None, None, group, y)
    try:
        key = serialization.load_der_public_key(info.spki)
    except UnsupportedAlgorithm as exc:
        raise SecurityError(
            f"{where}: Chip Authentication key of an unsupported kind ({exc})"
        ) from exc
    except ValueError as exc:
        raise SecurityError(
            f"{where}: the Chip Authentication key is malformed or not a point on its curve "
            f"(refused: invalid-curve attack) ({exc})"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SecurityError(f"{where}: Chip Authentication key type {type(key).__name__}")
    if key.curve.name not in CA_CURVES:
        raise SecurityError(f"{where}: Chip Authentication key on curve {key.curve.name}, refused")
    return ChipKey("ECDH", key.curve, key, None, b"")


def select(dg14: bytes) -> tuple[CaInfo, CaPublicKey] | None:
    """The CA protocol and the key it refers to; ``None`` when DG14 offers no CA."""
    infos = parse_dg14(dg14)
    protocols = [info for info in infos if isinstance(info, CaInfo)]
    keys = [info for info in infos if isinstance(info, CaPublicKey)]
    if not keys:
        return None
    for protocol in protocols:
        for key in keys:
            if protocol.key_id in (None, key.key_id):
                expected = "DH" if key.oid == ID_PK_DH else "ECDH"
                if protocol.key_agreement == expected:
                    return protocol, key
    # A key without CaInfo: CA v1 with 3DES is implied (9303-11 9.2.5).
    key = keys[0]
    kind = "DH" if key.oid == ID_PK_DH else "ECDH"
    return CaInfo(f"0.4.0.127.0.7.2.2.3.{1 if kind == 'DH' else 2}.1", 1, key.key_id), key


Send = Callable[[Command], Response]


def run_chip_auth(send: Send, protocol: CaInfo, chip: ChipKey) -> SessionKeys:
    """Agree on new session keys with the chip; ``SecurityError`` when it refuses."""
    if chip.kind == "ECDH":
        assert chip.curve is not None and chip.ec_public is not None
        ephemeral = ec.generate_private_key(chip.curve)
        own = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        secret = ephemeral.exchange(ec.ECDH(), chip.ec_public)
    else:
        assert chip.dh_group is not None
        private = chip.dh_group.random_private()
        own = chip.dh_group.public_key(private)
        secret = chip.dh_group.shared_secret(private, chip.dh_public, "DG14 CA key")
    key_id = b"" if protocol.key_id is None else tlv.encode(0x84, bytes([protocol.key_id]))
    if protocol.cipher == "3DES":
        answer = send(Command(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, own) + key_id))
        if not answer.ok:
            raise SecurityError(f"MSE:Set KAT answered SW {answer.status}")
    else:
        answer = send(
            Command(0x00, 0x22, 0x41, 0xA4, tlv.encode(0x80, oid_der(protocol.oid)[2:]) + key_id)
        )
        if not answer.ok:
            raise SecurityError(f"MSE:Set AT answered SW {answer.status}")
        data = tlv.encode(0x7C, tlv.encode(0x80, own))
        answer = send(Command(0x00, 0x86, 0x00, 0x00, data, le=256))
        if not answer.ok:
            raise SecurityError(f"GENERAL AUTHENTICATE answered SW {answer.status}")
    return pace.session_keys(secret, protocol.cipher)


def verify_cam(
    chip: ChipKey, ca_ic: bytes, chip_mapping_public: bytes, group: object, source: str
) -> ChipAuthResult:
    """PACE-CAM (9303-11 4.4.3.5.2): PK_Map,IC must equal CA_IC * PK_IC, where PK_IC is the
    chip's static key from ``source`` (EF.CardSecurity, whose signature was checked)."""
    from gate.icao.pace_groups import EcGroup

    name = "PACE-CAM"
    if chip.kind != "ECDH" or chip.ec_public is None or not isinstance(group, EcGroup):
        return ChipAuthResult("invalid", "CAM needs an ECDH static key on the PACE curve", name)
    static = chip.ec_public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    try:
        point = group.point(static, f"{source} CA key")
    except SecurityError as exc:
        return ChipAuthResult("invalid", f"the static key is not on the PACE curve: {exc}", name)
    factor = int.from_bytes(ca_ic, "big")
    if not 0 < factor < group.order:
        return ChipAuthResult("invalid", "CAM data is not a scalar of the curve", name)
    if group.encode(point * factor) != chip_mapping_public:
        return ChipAuthResult("invalid", f"CAM: the chip does not hold the {source} key", name)
    return ChipAuthResult("valid", f"PACE-CAM: the chip holds the {source} {chip.name} key", name)
