"""The standardised PACE domain parameters (ICAO Doc 9303 part 11, 9.5.1) as groups.

IDs 0-2 are the RFC 5114 MODP groups with prime-order subgroups, 8-18 the NIST and
Brainpool curves. Generic mapping needs point addition on arbitrary generators, which
``cryptography`` does not offer, so the curves use the ``ecdsa`` package's arithmetic.

Elements travel as bytes: an EC point as 04 || X || Y, a DH value as an unsigned integer
the size of p. Every element received from the other side is validated (on the curve, in
the prime-order subgroup) before use: an invalid point would leak the private key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ecdsa import curves, ellipticcurve

from gate.errors import SecurityError


def _h(text: str) -> int:
    return int(text.replace(" ", ""), 16)


@dataclass(frozen=True)
class DhGroup:
    """A MODP group: generator ``g`` of the subgroup of prime order ``q`` modulo ``p``."""

    name: str
    p: int
    g: int
    q: int

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8

    @property
    def kind(self) -> str:
        return "DH"

    def random_private(self) -> int:
        return 1 + secrets.randbelow(self.q - 1)

    def public_key(self, private: int) -> bytes:
        return pow(self.g, private, self.p).to_bytes(self.size, "big")

    def _element(self, data: bytes, what: str) -> int:
        value = int.from_bytes(data, "big")
        if not data or len(data) > self.size or not 1 < value < self.p - 1:
            raise SecurityError(f"{what}: not a value of the {self.name} group")
        if pow(value, self.q, self.p) != 1:
            raise SecurityError(f"{what}: outside the prime-order subgroup of {self.name}")
        return value

    def shared_element(self, private: int, peer: bytes, what: str) -> bytes:
        return pow(self._element(peer, what), private, self.p).to_bytes(self.size, "big")

    def shared_secret(self, private: int, peer: bytes, what: str) -> bytes:
        return self.shared_element(private, peer, what)

    def mapped(self, nonce: bytes, shared: bytes) -> DhGroup:
        """Generic mapping: g' = g^s * h mod p."""
        h = self._element(shared, "generic mapping")
        g = pow(self.g, int.from_bytes(nonce, "big"), self.p) * h % self.p
        if g == 1:
            raise SecurityError("generic mapping produced the neutral element")
        return DhGroup(self.name, self.p, g, self.q)


@dataclass(frozen=True)
class EcGroup:
    """A prime curve with generator ``generator`` (standard, or mapped by PACE)."""

    name: str
    curve: Any  # ecdsa.curves.Curve (untyped library)
    generator: Any  # ecdsa.ellipticcurve.PointJacobi

    @property
    def size(self) -> int:
        return (int(self.curve.curve.p()).bit_length() + 7) // 8

    @property
    def kind(self) -> str:
        return "ECDH"

    @property
    def order(self) -> int:
        return int(self.curve.order)

    def random_private(self) -> int:
        return 1 + secrets.randbelow(self.order - 1)

    def encode(self, point: Any) -> bytes:
        return (
            b"\x04"
            + int(point.x()).to_bytes(self.size, "big")
            + int(point.y()).to_bytes(self.size, "big")
        )

    def point(self, data: bytes, what: str) -> Any:
        """Decode and validate an uncompressed point."""
        if len(data) != 1 + 2 * self.size or data[0] != 0x04:
            raise SecurityError(
                f"{what}: not an uncompressed point of {self.name} ({len(data)} bytes)"
            )
        x = int.from_bytes(data[1 : 1 + self.size], "big")
        y = int.from_bytes(data[1 + self.size :], "big")
        field = self.curve.curve
        if x >= field.p() or y >= field.p() or not field.contains_point(x, y):
            raise SecurityError(f"{what}: the point is not on {self.name}")
        return ellipticcurve.PointJacobi(field, x, y, 1, self.order)

    def public_key(self, private: int) -> bytes:
        return self.encode(self.generator * private)

    def _multiply(self, private: int, peer: bytes, what: str) -> Any:
        result = self.point(peer, what) * private
        if result == ellipticcurve.INFINITY:
            raise SecurityError(f"{what}: key agreement gave the point at infinity")
        return result

    def shared_element(self, private: int, peer: bytes, what: str) -> bytes:
        return self.encode(self._multiply(private, peer, what))

    def shared_secret(self, private: int, peer: bytes, what: str) -> bytes:
        """ECDH: the x coordinate of the shared point."""
        return int(self._multiply(private, peer, what).x()).to_bytes(self.size, "big")

    def mapped(self, nonce: bytes, shared: bytes) -> EcGroup:
        """Generic mapping: G' = s * G + H."""
        h = self.point(shared, "generic mapping")
        g = self.generator * int.from_bytes(nonce, "big") + h
        if g == ellipticcurve.INFINITY:
            raise SecurityError("generic mapping produced the point at infinity")
        mapped = ellipticcurve.PointJacobi(self.curve.curve, g.x(), g.y(), 1, self.order)
        return EcGroup(self.name, self.curve, mapped)


Group = DhGroup | EcGroup

_DH = {
    0: DhGroup(
        "1024-bit MODP group with 160-bit prime order subgroup",
        _h(
            "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B616073E28675A23D18"
            "9838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BFACCBDD7D90C4BD7098488E9C219A7372"
            "4EFFD6FAE5644738FAA31A4FF55BCCC0A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708"
            "DF1FB2BC2E4A4371"
        ),
        _h(
            "A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31266FEA1E5C41564B"
            "777E690F5504F213160217B4B01B886A5E91547F9E2749F4D7FBD7D3B9A92EE1909D0D2263F80A76"
            "A6A24C087A091F531DBF0A0169B6A28AD662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24"
            "855E6EEB22B3B2E5"
        ),
        _h("F518AA8781A8DF278ABA4E7D64B7CB9D49462353"),
    ),
    1: DhGroup(
        "2048-bit MODP group with 224-bit prime order subgroup",
        _h(
            "AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75E6FA141DF95A56DB"
            "AF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A66D3F8152AD6AC2129037C9EDEFDA4DF8"
            "D91E8FEF55B7394B7AD5B7D0B6C12207C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708"
            "B3BF8A317091883681286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A074"
            "15987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8BE60E69CC928B2B9"
            "C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29E3FB73C16B8E75B97EF363E2FFA31F71"
            "CF9DE5384E71B81C0AC4DFFE0C10E64F"
        ),
        _h(
            "AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3A6824A4E10B9A6F0"
            "DD921F01A70C4AFAAB739D7700C29F52C57DB17C620A8652BE5E9001A8D66AD7C17669101999024A"
            "F4D027275AC1348BB8A762D0521BC98AE247150422EA1ED409939D54DA7460CDB5F6C6B250717CBE"
            "F180EB34118E98D119529A45D6F834566E3025E316A330EFBB77A86F0C1AB15B051AE3D428C8F8AC"
            "B70A8137150B8EEB10E183EDD19963DDD9E263E4770589EF6AA21E7F5F2FF381B539CCE3409D13CD"
            "566AFBB48D6C019181E1BCFE94B30269EDFE72FE9B6AA4BD7B5A0F1C71CFFF4C19C418E1F6EC0179"
            "81BC087F2A7065B384B890D3191F2BFA"
        ),
        _h("801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB"),
    ),
    2: DhGroup(
        "2048-bit MODP group with 256-bit prime order subgroup",
        _h(
            "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00E00DF8F1D61957D4"
            "FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C209E0C6497517ABD5A8A9D306BCF67ED"
            "91F9E6725B4758C022E0B1EF4275BF7B6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C"
            "4FDB70C581B23F76B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E"
            "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026C0B857F689962856"
            "DED4010ABD0BE621C3A3960A54E710C375F26375D7014103A4B54330C198AF126116D2276E11715F"
            "693877FAD7EF09CADB094AE91E1A1597"
        ),
        _h(
            "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA12510DBC15077BE463F"
            "FF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62901228F8C28CBB18A55AE31341000A65"
            "0196F931C77A57F2DDF463E5E9EC144B777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC83"
            "1D14348F6F2F9193B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A"
            "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915B3353BBB64E0EC37"
            "7FD028370DF92B52C7891428CDC67EB6184B523D1DB246C32F63078490F00EF8D647D148D4795451"
            "5E2327CFEF98C582664B4C0F6CC41659"
        ),
        _h("8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"),
    ),
}

_EC_CURVES = {
    8: ("NIST P-192", curves.NIST192p),
    9: ("brainpoolP192r1", curves.BRAINPOOLP192r1),
    10: ("NIST P-224", curves.NIST224p),
    11: ("brainpoolP224r1", curves.BRAINPOOLP224r1),
    12: ("NIST P-256", curves.NIST256p),
    13: ("brainpoolP256r1", curves.BRAINPOOLP256r1),
    14: ("brainpoolP320r1", curves.BRAINPOOLP320r1),
    15: ("NIST P-384", curves.NIST384p),
    16: ("brainpoolP384r1", curves.BRAINPOOLP384r1),
    17: ("brainpoolP512r1", curves.BRAINPOOLP512r1),
    18: ("NIST P-521", curves.NIST521p),
}
# ecdsa curve name -> our name, for keys that name their curve (DG14 SubjectPublicKeyInfo).
EC_BY_ECDSA_NAME = {curve.name: (name, curve) for name, curve in _EC_CURVES.values()}


def standard_group(parameter_id: int) -> Group:
    """The group of a standardised domain-parameter ID; ``SecurityError`` for others."""
    if parameter_id in _DH:
        return _DH[parameter_id]
    if parameter_id in _EC_CURVES:
        name, curve = _EC_CURVES[parameter_id]
        return EcGroup(name, curve, curve.generator)
    raise SecurityError(
        f"PACE parameter ID {parameter_id} is not a standardised domain (9303-11 table 5)"
    )


def ec_group(curve_name: str) -> EcGroup:
    """The group of a named curve (the ``ecdsa`` name, e.g. BRAINPOOLP256r1)."""
    name, curve = EC_BY_ECDSA_NAME[curve_name]
    return EcGroup(name, curve, curve.generator)


def dh_group_of(p: int, g: int, q: int) -> DhGroup:
    for group in _DH.values():
        if (group.p, group.g, group.q) == (p, g, q):
            return group
    return DhGroup(f"{p.bit_length()}-bit MODP group", p, g, q)
