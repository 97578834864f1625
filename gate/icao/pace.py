"""PACE with generic mapping (ICAO Doc 9303 part 11, section 4.4): the reader's side.

MSE:Set AT selects the protocol and password; four GENERAL AUTHENTICATE steps then carry
the encrypted nonce, the mapping keys, the ephemeral keys and the authentication tokens.
The session keys come from the ephemeral shared secret; secure messaging starts with
SSC 0. Integrated mapping is recognised and refused with a clear message.

Keys, nonces and the password never reach a log line.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gate.errors import DocumentError, SecurityError
from gate.icao import aes, crypto, tlv
from gate.icao.apdu import Command, Response
from gate.icao.bac import SessionKeys
from gate.icao.pace_groups import Group, standard_group
from gate.icao.security_infos import PASSWORD_CAN, PASSWORD_MRZ, PaceInfo, oid_der
from gate.icao.status_words import is_auth_failure

FAILED = "PACE failed"


@dataclass(frozen=True)
class PacePassword:
    """The PACE password: K = SHA-1(MRZ information) or the CAN's ASCII digits."""

    kind: str  # "MRZ" or "CAN"
    key: bytes

    @classmethod
    def from_mrz_information(cls, mrz_information: bytes) -> PacePassword:
        return cls("MRZ", hashlib.sha1(mrz_information).digest())

    @classmethod
    def from_can(cls, can: str) -> PacePassword:
        if not (can.isascii() and can.isdigit() and len(can) == 6):
            raise DocumentError("CAN: the card access number is 6 digits")
        return cls("CAN", can.encode("ascii"))

    @property
    def reference(self) -> int:
        return PASSWORD_MRZ if self.kind == "MRZ" else PASSWORD_CAN

    def __repr__(self) -> str:  # the key never shows in a log or traceback
        return f"PacePassword({self.kind})"


def password_key(password: PacePassword, cipher: str) -> bytes:
    """K_pi, the key that encrypts the nonce."""
    return aes.kdf(password.key, aes.PACE_COUNTER, cipher)


def decrypt_nonce(kpi: bytes, z: bytes, cipher: str) -> bytes:
    if cipher == "3DES":
        return crypto.decrypt(kpi, z)
    return aes.decrypt(kpi, z)


def encrypt_nonce(kpi: bytes, s: bytes, cipher: str) -> bytes:
    if cipher == "3DES":
        return crypto.encrypt(kpi, s)
    return aes.encrypt(kpi, s)


def session_keys(secret: bytes, cipher: str) -> SessionKeys:
    return SessionKeys(aes.kdf(secret, 1, cipher), aes.kdf(secret, 2, cipher), 0, cipher)


def token_input(oid: str, group: Group, public: bytes) -> bytes:
    """The public-key data object a token authenticates (9303-11 4.4.3.4)."""
    if group.kind == "DH":
        key = tlv.encode(0x84, public.lstrip(b"\x00") or b"\x00")
    else:
        key = tlv.encode(0x86, public)
    return tlv.encode(0x7F49, tlv.encode(0x06, oid_der(oid)[2:]) + key)


def auth_token(ks_mac: bytes, cipher: str, oid: str, group: Group, public: bytes) -> bytes:
    data = token_input(oid, group, public)
    if cipher == "3DES":
        return crypto.retail_mac(ks_mac, data)
    return aes.cmac8(ks_mac, data)


def supported(info: PaceInfo) -> bool:
    """Generic mapping (DH or ECDH) and Chip Authentication Mapping (ECDH, AES)."""
    if info.parameter_id is None:
        return False
    return info.mapping == "GM" or (info.mapping == "CAM" and info.cipher != "3DES")


def choose(infos: Sequence[PaceInfo]) -> PaceInfo:
    """The PACEInfo to run: generic mapping on a standardised domain, strongest cipher first."""
    if not infos:
        raise SecurityError(f"{FAILED}: EF.CardAccess lists no PACE protocol")
    usable = [info for info in infos if supported(info)]
    if not usable:
        mappings = sorted({info.mapping for info in infos})
        if "IM" in mappings or "CAM" in mappings:
            raise SecurityError(
                f"{FAILED}: the chip offers only PACE {'/'.join(mappings)} mapping; egate "
                "supports generic mapping (and chip authentication mapping with AES)"
            )
        raise SecurityError(f"{FAILED}: PACEInfo without a standardised parameter ID")
    rank = {"AES-256": 4, "AES-192": 3, "AES-128": 2, "3DES": 1}
    # CAM authenticates the chip within PACE: preferred to GM at the same cipher.
    best = max(usable, key=lambda info: (rank[info.cipher], info.mapping == "CAM"))
    assert best.parameter_id is not None
    standard_group(best.parameter_id)  # an unknown ID raises here, naming it
    return best


@dataclass(frozen=True)
class PaceOutcome:
    keys: SessionKeys
    info: PaceInfo
    group_name: str
    chip_public: bytes  # the chip's ephemeral key (CAM and tests need it)
    chip_mapping_public: bytes = b""  # PK_Map,IC: CAM checks it against the static key
    cam_data: bytes = b""  # CA_IC, decrypted from DO'8A' (CAM only)


Send = Callable[[Command], Response]


def _dynamic(response: Response, tag: int, step: str) -> bytes:
    if is_auth_failure(response.sw):
        raise SecurityError(
            f"{FAILED}: the chip rejected the password at {step} (wrong MRZ or CAN)"
        )
    if not response.ok:
        raise SecurityError(f"{FAILED}: {step} answered SW {response.status}")
    try:
        outer = tlv.decode(response.data)
    except DocumentError as exc:
        raise SecurityError(f"{FAILED}: {step} answer is not TLV ({exc})") from exc
    inner = outer.find(tag) if outer.tag == 0x7C else None
    if inner is None:
        raise SecurityError(f"{FAILED}: {step} answer lacks dynamic data object {tag:02X}")
    return inner.value


def _general_authenticate(send: Send, tag: int, value: bytes, last: bool) -> Response:
    data = tlv.encode(0x7C, tlv.encode(tag, value) if tag else b"")
    return send(Command(0x00 if last else 0x10, 0x86, 0x00, 0x00, data, le=256))


def run_pace(
    send: Send,
    info: PaceInfo,
    password: PacePassword,
    *,
    with_parameter_id: bool = False,
    private_keys: tuple[int, int] | None = None,
) -> PaceOutcome:
    """Run PACE-GM; ``private_keys`` (mapping, ephemeral) only for reproducing test vectors."""
    assert info.parameter_id is not None
    group = standard_group(info.parameter_id)
    cipher = info.cipher
    mse = tlv.encode(0x80, oid_der(info.oid)[2:]) + tlv.encode(0x83, bytes([password.reference]))
    if with_parameter_id:
        mse += tlv.encode(0x84, bytes([info.parameter_id]))
    answer = send(Command(0x00, 0x22, 0xC1, 0xA4, mse))
    if not answer.ok:
        raise SecurityError(f"{FAILED}: MSE:Set AT answered SW {answer.status}")
    z = _dynamic(_general_authenticate(send, 0, b"", False), 0x80, "the encrypted nonce")
    kpi = password_key(password, cipher)
    if not z or len(z) % (8 if cipher == "3DES" else 16):
        raise SecurityError(f"{FAILED}: the encrypted nonce has {len(z)} bytes")
    nonce = decrypt_nonce(kpi, z, cipher)
    map_private = private_keys[0] if private_keys else group.random_private()
    answer = _general_authenticate(send, 0x81, group.public_key(map_private), False)
    chip_map = _dynamic(answer, 0x82, "the mapping step")
    shared = group.shared_element(map_private, chip_map, f"{FAILED}: chip mapping key")
    mapped = group.mapped(nonce, shared)
    eph_private = private_keys[1] if private_keys else mapped.random_private()
    own_public = mapped.public_key(eph_private)
    chip_public = _dynamic(
        _general_authenticate(send, 0x83, own_public, False), 0x84, "the key agreement"
    )
    if hmac.compare_digest(chip_public, own_public):
        raise SecurityError(f"{FAILED}: the chip echoed our ephemeral key")
    secret = mapped.shared_secret(eph_private, chip_public, f"{FAILED}: chip ephemeral key")
    keys = session_keys(secret, cipher)
    token = auth_token(keys.ks_mac, cipher, info.oid, mapped, chip_public)
    last = _general_authenticate(send, 0x85, token, True)
    chip_token = _dynamic(last, 0x86, "mutual auth")
    expected = auth_token(keys.ks_mac, cipher, info.oid, mapped, own_public)
    if not hmac.compare_digest(chip_token, expected):
        raise SecurityError(f"{FAILED}: the chip's authentication token is wrong")
    cam = b""
    if info.mapping == "CAM":
        encrypted = _dynamic(last, 0x8A, "chip authentication mapping")
        try:
            cam = cam_decrypt(keys.ks_enc, encrypted)
        except SecurityError as exc:
            raise SecurityError(f"{FAILED}: CAM data: {exc}") from exc
    return PaceOutcome(keys, info, group.name, chip_public, chip_map, cam)


def _cam_iv(ks_enc: bytes) -> bytes:
    # 9303-11 4.4.3.5.1: the IV is the encryption of an all-ones SSC under KSenc.
    return aes.encrypt_block(ks_enc, b"\xff" * aes.BLOCK)


def cam_encrypt(ks_enc: bytes, ca_ic: bytes) -> bytes:
    return aes.encrypt(ks_enc, crypto.pad(ca_ic, aes.BLOCK), _cam_iv(ks_enc))


def cam_decrypt(ks_enc: bytes, data: bytes) -> bytes:
    return crypto.unpad(aes.decrypt(ks_enc, data, _cam_iv(ks_enc)), aes.BLOCK)
