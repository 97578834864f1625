"""Chip access control: PACE when EF.CardAccess offers it, BAC only when it does not.

ICAO Doc 9303 part 11 (4.2): an inspection system that supports PACE must use it when the
chip offers it. The password is the MRZ, or the card access number (CAN) printed on the
card (ID cards); BAC knows only the MRZ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from gate.errors import DocumentError, ProtocolError, SecurityError
from gate.icao import lds, pace
from gate.icao.apdu import Command, Response, StatusWordError
from gate.icao.bac import AccessKeys, Handshake, SessionKeys
from gate.icao.mrz import Mrz
from gate.icao.security_infos import PaceInfo, parse_card_access
from gate.icao.status_words import StatusWord, is_auth_failure

log = logging.getLogger(__name__)


class Link(Protocol):
    def secure(self, keys: SessionKeys) -> None:
        """Send every later command under secure messaging with these keys."""
        ...

    def send(self, command: Command) -> Response: ...

    def read_file(self, fid: int, chunk: int, *, name: str) -> bytes | None: ...


@dataclass(frozen=True)
class AccessInfo:
    protocol: str  # "PACE" or "BAC"
    mapping: str | None  # "GM" for PACE
    cipher: str  # "3DES", "AES-128" ...
    domain: str | None = None  # PACE: the group or curve
    password: str = "MRZ"  # "MRZ" or "CAN"
    parameter_id: int | None = None  # PACE: the standardised domain
    # PACE-CAM: (CA_IC, the chip's mapping key), checked against DG14 after PA.
    cam: tuple[bytes, bytes] | None = field(default=None, repr=False, compare=False)


def card_access(link: Link, chunk: int) -> list[PaceInfo]:
    """The PACEInfos of EF.CardAccess; none when the chip has no such file or refuses it.

    A file that is there but malformed is a ``DocumentError`` naming it: falling back to BAC
    would hide a broken (or tampered) document."""
    try:
        content = link.read_file(lds.FID_CARD_ACCESS, chunk, name="EF.CardAccess")
    except StatusWordError as exc:
        log.debug("EF.CardAccess refused: %s", exc)
        return []
    if content is None:
        return []
    return parse_card_access(content)  # malformed content: DocumentError naming the file


def establish(link: Link, infos: list[PaceInfo], mrz: Mrz | None, can: str | None) -> AccessInfo:
    """Run PACE (when offered) or BAC and install secure messaging on ``link``."""
    if infos:
        info = pace.choose(infos)
        password = (
            pace.PacePassword.from_can(can)
            if can is not None
            else pace.PacePassword.from_mrz_information(_mrz(mrz).bac_key_seed_input())
        )
        try:
            outcome = pace.run_pace(link.send, info, password, with_parameter_id=len(infos) > 1)
        except ProtocolError as exc:
            raise ProtocolError(f"{pace.FAILED}: {exc}") from exc
        link.secure(outcome.keys)
        cam = (outcome.cam_data, outcome.chip_mapping_public) if info.mapping == "CAM" else None
        return AccessInfo(
            "PACE",
            info.mapping,
            info.cipher,
            outcome.group_name,
            password.kind,
            info.parameter_id,
            cam,
        )
    if can is not None:
        raise SecurityError(
            "a CAN opens only PACE, and this chip does not offer PACE (no EF.CardAccess)"
        )
    _bac(link, _mrz(mrz))
    return AccessInfo("BAC", None, "3DES")


def _mrz(mrz: Mrz | None) -> Mrz:
    if mrz is None:
        raise SecurityError("no MRZ and no CAN: nothing to open the chip with")
    return mrz


def _bac(link: Link, mrz: Mrz) -> None:
    keys = AccessKeys.from_mrz_information(mrz.bac_key_seed_input())
    challenge = link.send(Command(0x00, 0x84, 0x00, 0x00, le=8))
    if not challenge.ok:
        raise DocumentError(f"GET CHALLENGE: chip answered SW {challenge.status}")
    handshake = Handshake.start(keys, challenge.data)
    answer = link.send(Command(0x00, 0x82, 0x00, 0x00, handshake.command_data(), le=40))
    if answer.sw == StatusWord.INS_UNKNOWN:
        raise SecurityError(
            "BAC refused (SW 6D00): the chip does not support BAC and announces no PACE "
            "in EF.CardAccess"
        )
    if is_auth_failure(answer.sw):
        raise SecurityError(
            "BAC failed: the chip rejected the access keys (wrong document number, "
            "date of birth or date of expiry)"
        )
    if not answer.ok:
        raise DocumentError(f"MUTUAL AUTHENTICATE: chip answered SW {answer.status}")
    link.secure(handshake.finish(answer.data))
