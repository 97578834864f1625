"""The virtual chip's side of PACE (generic mapping) and Chip Authentication v1.

``ChipPace`` answers MSE:Set AT and the four GENERAL AUTHENTICATE steps with the status
words of ICAO Doc 9303 part 11 (6300 for a wrong password, 6985 for a step out of order).
``ChipCa`` holds the static Chip Authentication key: a genuine chip's matches DG14, a
clone's does not, so the reader's new session keys fail at the first protected answer.

One status-word policy for both protocols (9303-11 4.4.4 and 6.2.4, the MSE and GENERAL
AUTHENTICATE tables): malformed command data (not TLV, a wrong or missing tag, an empty
dynamic authentication data object, a public key that is not an uncompressed point of the
group or a DH value of 0, 1 or p-1) and an algorithm the chip does not offer are ``6A80``;
a password, domain parameter ID or key reference the chip does not have is ``6A88``; a
step out of order is ``6985``.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import DocumentError, SecurityError
from gate.icao import pace, tlv
from gate.icao.bac import SessionKeys
from gate.icao.chip_auth import DhKey
from gate.icao.pace_groups import EcGroup, Group, standard_group
from gate.icao.security_infos import (
    CaInfo,
    CaPublicKey,
    PaceInfo,
    oid_der,
    parse_card_access,
    parse_dg14,
)
from gate.icao.status_words import StatusWord


@dataclass(frozen=True)
class ChipPaceKeys:
    """Fixed chip-side nonce and private keys, only to replay a worked example."""

    nonce: bytes
    mapping_private: int
    ephemeral_private: int


def _dynamic(data: bytes, tag: int | None) -> bytes | None:
    try:
        outer = tlv.decode(data)
    except DocumentError:
        return None
    if outer.tag != 0x7C:
        return None
    if tag is None:
        return b"" if not outer.value else None
    inner = outer.find(tag)
    return None if inner is None else inner.value


class ChipPace:
    def __init__(
        self,
        infos: list[PaceInfo],
        passwords: dict[int, pace.PacePassword],
        fixed: ChipPaceKeys | None = None,
        cam_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        # CAM needs the static key the chip also announces in EF.CardSecurity; without one
        # the chip does not offer it.
        self.infos = [
            info
            for info in infos
            if pace.supported(info) and (info.mapping != "CAM" or cam_key is not None)
        ]
        self.cam_key = cam_key
        self.passwords = passwords  # password reference (1 MRZ, 2 CAN) -> the PACE password
        self.fixed = fixed
        self._reset()

    def _reset(self) -> None:
        self.info: PaceInfo | None = None
        self.password: pace.PacePassword | None = None
        self.step = 0
        self.nonce = b""
        self.group: Group | None = None
        self.keys: SessionKeys | None = None
        self.own_public = b""
        self.terminal_public = b""
        self.map_private = 0

    def set_at(self, data: bytes) -> StatusWord:
        self._reset()
        objects = _objects(data)
        if objects is None:
            return StatusWord.WRONG_DATA
        oid, reference = objects.get(0x80), objects.get(0x83)
        if oid is None or reference is None or len(reference) != 1:
            return StatusWord.WRONG_DATA
        matching = [i for i in self.infos if oid_der(i.oid)[2:] == oid]
        if not matching:  # a protocol (cipher, mapping, key agreement) not offered
            return StatusWord.WRONG_DATA
        if 0x84 in objects:
            matching = [i for i in matching if _reference(objects[0x84]) == i.parameter_id]
        password = self.passwords.get(reference[0])
        if not matching or password is None:  # no such domain parameters or password
            return StatusWord.REF_NOT_FOUND
        self.info, self.password = matching[0], password
        return StatusWord.OK

    def general_authenticate(self, cla: int, data: bytes) -> tuple[bytes, StatusWord]:
        """One GA step; sets ``self.keys`` when the last step succeeds."""
        info, password = self.info, self.password
        if info is None or password is None or info.parameter_id is None:
            return b"", StatusWord.CONDITIONS
        cipher = info.cipher
        try:
            if self.step == 0 and cla & 0x10:
                if _dynamic(data, None) is None:
                    return b"", StatusWord.WRONG_DATA
                size = 8 if cipher == "3DES" else 16
                self.nonce = self.fixed.nonce if self.fixed else os.urandom(size)
                kpi = pace.password_key(password, cipher)
                z = pace.encrypt_nonce(kpi, self.nonce, cipher)
                self.group = standard_group(info.parameter_id)
                self.step = 1
                return tlv.encode(0x7C, tlv.encode(0x80, z)), StatusWord.OK
            if self.step == 1 and cla & 0x10 and self.group is not None:
                theirs = _dynamic(data, 0x81)
                if theirs is None:
                    return b"", StatusWord.WRONG_DATA
                private = self.fixed.mapping_private if self.fixed else self.group.random_private()
                self.map_private = private
                shared = self.group.shared_element(private, theirs, "terminal mapping key")
                mine = self.group.public_key(private)
                self.group = self.group.mapped(self.nonce, shared)
                self.step = 2
                return tlv.encode(0x7C, tlv.encode(0x82, mine)), StatusWord.OK
            if self.step == 2 and cla & 0x10 and self.group is not None:
                theirs = _dynamic(data, 0x83)
                if theirs is None:
                    return b"", StatusWord.WRONG_DATA
                private = (
                    self.fixed.ephemeral_private if self.fixed else self.group.random_private()
                )
                self.own_public = self.group.public_key(private)
                secret = self.group.shared_secret(private, theirs, "terminal ephemeral key")
                self.keys = pace.session_keys(secret, cipher)
                self.terminal_public = theirs
                self.step = 3
                return tlv.encode(0x7C, tlv.encode(0x84, self.own_public)), StatusWord.OK
            if self.step == 3 and not cla & 0x10 and self.group is not None and self.keys:
                token = _dynamic(data, 0x85)
                if token is None:
                    self._reset()
                    return b"", StatusWord.WRONG_DATA
                expected = pace.auth_token(
                    self.keys.ks_mac, cipher, info.oid, self.group, self.own_public
                )
                if not hmac.compare_digest(token, expected):
                    self._reset()
                    return b"", StatusWord.AUTH_FAILED
                answer = pace.auth_token(
                    self.keys.ks_mac, cipher, info.oid, self.group, self.terminal_public
                )
                self.step = 4
                body = tlv.encode(0x86, answer)
                if info.mapping == "CAM" and self.cam_key is not None:
                    body += tlv.encode(0x8A, self._cam_data())
                return tlv.encode(0x7C, body), StatusWord.OK
        except SecurityError:
            self._reset()
            return b"", StatusWord.WRONG_DATA
        self._reset()
        return b"", StatusWord.CONDITIONS

    def _cam_data(self) -> bytes:
        """A_IC = E(KSenc, CA_IC) with CA_IC = SK_IC^-1 * SK_Map,IC mod n (9303-11 4.4.3.5.1)."""
        assert self.cam_key is not None and self.keys is not None and self.group is not None
        assert isinstance(self.group, EcGroup)
        order = self.group.order
        static = self.cam_key.private_numbers().private_value
        ca_ic = pow(static, -1, order) * self.map_private % order
        return pace.cam_encrypt(
            self.keys.ks_enc, ca_ic.to_bytes((order.bit_length() + 7) // 8, "big")
        )


def _len(data: bytes) -> bytes:
    return tlv.encode_length(len(data))


CaKey = ec.EllipticCurvePrivateKey | DhKey


class ChipCa:
    """Chip Authentication v1 with the static key ``key`` (3DES: MSE:Set KAT; AES: MSE:Set
    AT + GENERAL AUTHENTICATE), under the protocol ``info`` and key reference ``key_id``
    (``None``: the key has no reference, so any reference names a key the chip lacks)."""

    def __init__(self, key: CaKey, info: CaInfo, key_id: int | None = None) -> None:
        self.key, self.info, self.key_id = key, info, key_id
        self.selected = False

    def agree(self, public: bytes) -> tuple[SessionKeys | None, StatusWord]:
        """New session keys from the terminal's ephemeral key; ``6A80`` when it is not a
        valid key of the chip's group (the same checks PACE makes)."""
        try:
            if isinstance(self.key, ec.EllipticCurvePrivateKey):
                size = (self.key.curve.key_size + 7) // 8
                if len(public) != 1 + 2 * size or public[0] != 0x04:
                    return None, StatusWord.WRONG_DATA  # compressed or malformed point
                peer = ec.EllipticCurvePublicKey.from_encoded_point(self.key.curve, public)
                secret = self.key.exchange(ec.ECDH(), peer)
            else:
                secret = self.key.group.shared_secret(self.key.private, public, "CA key")
        except (ValueError, SecurityError):
            return None, StatusWord.WRONG_DATA
        return pace.session_keys(secret, self.info.cipher), StatusWord.OK

    def _key_missing(self, objects: dict[int, bytes]) -> bool:
        return 0x84 in objects and (self.key_id is None or _reference(objects[0x84]) != self.key_id)

    def set_kat(self, data: bytes) -> tuple[SessionKeys | None, StatusWord]:
        """MSE:Set KAT, which only Chip Authentication with 3DES uses (9303-11 6.2.4.1)."""
        objects = _objects(data)
        if self.info.cipher != "3DES" or objects is None or 0x91 not in objects:
            return None, StatusWord.WRONG_DATA
        if self._key_missing(objects):
            return None, StatusWord.REF_NOT_FOUND
        return self.agree(objects[0x91])

    def set_at(self, data: bytes) -> StatusWord:
        self.selected = False
        objects = _objects(data)
        if objects is None or objects.get(0x80) != oid_der(self.info.oid)[2:]:
            return StatusWord.WRONG_DATA
        if self._key_missing(objects):
            return StatusWord.REF_NOT_FOUND
        self.selected = True
        return StatusWord.OK

    def general_authenticate(self, data: bytes) -> tuple[SessionKeys | None, StatusWord]:
        if not self.selected:
            return None, StatusWord.CONDITIONS
        self.selected = False
        public = _dynamic(data, 0x80)
        return (None, StatusWord.WRONG_DATA) if not public else self.agree(public)


def _objects(data: bytes) -> dict[int, bytes] | None:
    """The data objects of an MSE command's data field; ``None`` when it is not BER-TLV."""
    try:
        element = tlv.decode(b"\x30" + _len(data) + data)
    except DocumentError:
        return None
    return {child.tag: child.value for child in element.children}


def _reference(value: bytes) -> int | None:
    """A key or domain-parameter reference (an unsigned integer of 1 to 4 bytes)."""
    return int.from_bytes(value, "big") if 1 <= len(value) <= 4 else None


def chip_pace_infos(card_access: bytes | None) -> list[PaceInfo]:
    """The PACEInfos of the chip's EF.CardAccess; none for a deliberately malformed file."""
    if card_access is None:
        return []
    try:
        return parse_card_access(card_access)
    except DocumentError:
        return []


def chip_ca(dg14: bytes | None, key: CaKey | None) -> ChipCa | None:
    """The chip's Chip Authentication: its key under DG14's first ChipAuthenticationInfo."""
    if key is None or dg14 is None:
        return None
    try:
        infos = parse_dg14(dg14)
    except DocumentError:
        return None
    ca = [info for info in infos if isinstance(info, CaInfo)]
    keys = [info for info in infos if isinstance(info, CaPublicKey)]
    if not ca:
        return None
    key_id = ca[0].key_id if ca[0].key_id is not None else (keys[0].key_id if keys else None)
    return ChipCa(key, ca[0], key_id)
