"""Read an eMRTD over any ChipTransport: PACE or BAC, secure messaging, LDS files, PA, AA and
Chip Authentication.

``read_passport`` is what the gate calls. After PACE-CAM it reads EF.CardSecurity in the
master file and checks CAM against the key there, once the file's signature is checked.
Outcomes are values where the document answered (passive/active/chip authentication status
with the reason) and exceptions where the reading itself failed: ``SecurityError`` (PACE or
BAC refused: wrong MRZ or CAN; a secure-messaging MAC failure), ``DeviceGoneError`` (card
removed), ``DocumentError`` (malformed LDS data, malformed EF.CardAccess), ``ProtocolError``
(the chip answered garbage).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from gate.clock import timed
from gate.errors import DocumentError, SecurityError
from gate.icao import chip_auth, lds, tlv
from gate.icao.aa import ActiveAuthResult, verify_active_auth
from gate.icao.access import AccessInfo, card_access, establish
from gate.icao.apdu import Command, Response, StatusWordError
from gate.icao.bac import SessionKeys
from gate.icao.card_security import FID_CARD_SECURITY, check_card_security, verify_cam
from gate.icao.card_security import NAME as CS_NAME
from gate.icao.chip_auth import ChipAuthResult
from gate.icao.mrz import Mrz
from gate.icao.pa import PassiveAuthResult, TrustStore, passive_authentication
from gate.icao.sm_transport import SecureMessagingTransport
from gate.icao.status_words import StatusWord
from gate.icao.transport import ApduObserver, ChipTransportBase, counted
from gate.images import PORTRAIT_LIMITS, check_declared_size, decode_image
from gate.interfaces import ChipTransport
from gate.types import ImageBGR

__all__ = ["PassportRead", "TrustStore", "read_passport"]

log = logging.getLogger(__name__)
EMRTD_AID = bytes.fromhex("A0000002471001")
MAX_FILE = 0x80000  # 512 KiB: far above any real data group
MAX_B0_OFFSET = 0x7FFF  # READ BINARY B0 has a 15-bit offset; beyond it B1 with DO'54'

DEFAULT_CHUNK = 0xDF  # fits a short response APDU with the SM overhead
# The most one READ BINARY asks for: Le (65536 at most) must also hold DO'53' (B1) and the
# secure-messaging objects around the data.
MAX_CHUNK = 0xFFFF - 64


@dataclass(frozen=True)
class PassportRead:
    dg1: Mrz
    photo: ImageBGR | None
    photo_bytes: bytes | None
    photo_error: str | None
    passive_auth: PassiveAuthResult
    active_auth: ActiveAuthResult
    pace_offered: bool
    data_groups: tuple[int, ...]
    access: AccessInfo
    chip_auth: ChipAuthResult
    timings_ms: dict[str, float] = field(default_factory=dict)
    apdus: int = 0
    # DG1 equals the printed MRZ given to the reader (None when only the BAC keys were typed):
    # a genuine chip in a forged data page shows up here.
    printed_mrz_matches: bool | None = None
    dg11: dict[str, str] = field(default_factory=dict)  # additional personal details
    dg12: dict[str, str] = field(default_factory=dict)  # additional document details
    # The files as read ("EF.COM", "DG1", ..., "EF.SOD"), for the opt-in recorder only.
    files: Mapping[str, bytes] = field(default_factory=dict, repr=False)


class _Link:
    """The reader's path to the chip: the wire (a ``ChipTransportBase``: counted and
    observed) and, once PACE, BAC or CA opened a session, secure messaging wrapped over it.
    Status words are checked by the transports; files are read here."""

    def __init__(self, wire: ChipTransportBase) -> None:
        self.wire = wire
        self.channel: ChipTransportBase = wire

    def secure(self, keys: SessionKeys) -> None:
        """From now on every command goes under these session keys."""
        self.channel = SecureMessagingTransport(self.wire, keys)

    def send(self, command: Command) -> Response:
        return self.channel.send(command)

    def _read_at(self, offset: int, want: int) -> Response:
        if offset <= MAX_B0_OFFSET:
            return self.send(Command(0x00, 0xB0, offset >> 8, offset & 0xFF, le=want))
        width = 2 if offset <= 0xFFFF else 3
        command = Command(0x00, 0xB1, 0x00, 0x00, tlv.encode(0x54, offset.to_bytes(width, "big")))
        part = self.send(replace(command, le=want + 4))
        if not part.data:
            return part
        wrapped = tlv.decode(part.data)
        if wrapped.tag != 0x53:
            raise DocumentError(f"READ BINARY B1 answered tag {wrapped.tag:X}, expected 53")
        return Response(wrapped.value, part.sw)

    def read_file(self, fid: int, chunk: int, *, name: str) -> bytes | None:
        """Whole file ``fid``; ``None`` when the chip says it does not exist (6A82)."""
        selected = self.send(Command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if selected.sw == StatusWord.NOT_FOUND:
            return None
        _expect(selected, f"SELECT {name}")
        head = self.send(Command(0x00, 0xB0, 0x00, 0x00, le=8))
        _expect(head, f"READ BINARY {name}")
        try:
            _, length, start = tlv.read_header(head.data, 0, max_length=MAX_FILE)
        except DocumentError as exc:
            raise DocumentError(f"{name}: {exc}") from exc
        total = start + length
        if total > MAX_FILE:
            raise DocumentError(f"{name}: declares {total} bytes, above {MAX_FILE}")
        content = bytearray(head.data[:total])
        while len(content) < total:
            want = min(chunk, total - len(content), MAX_CHUNK)
            offset = len(content)
            part = self._read_at(offset, want)
            if part.sw == StatusWord.WRONG_OFFSET or (part.ok and not part.data):
                raise DocumentError(
                    f"{name}: truncated: declares {total} bytes, chip ends at {len(content)}"
                )
            _expect(part, f"READ BINARY {name} at {offset}")
            content += part.data[:want]
        return bytes(content)


def _expect(response: Response, what: str) -> None:
    if not response.ok:
        raise StatusWordError(f"{what}: chip answered SW {response.status}")


def decode_photo(image: bytes) -> ImageBGR:
    """DG2's JPEG / JPEG 2000 bytes to a BGR image, through the one image decoder with the
    portrait limits (the declared size is checked before any pixel is decoded)."""
    return decode_image(image, "DG2", limits=PORTRAIT_LIMITS, error=DocumentError)


def read_passport(
    transport: ChipTransport,
    mrz: Mrz | None,
    trust: TrustStore | None,
    *,
    now: datetime | None = None,
    read_photo: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
    can: str | None = None,
    observers: Sequence[ApduObserver] = (),
) -> PassportRead:
    """Read and check the document whose MRZ (printed page) is ``mrz``, or whose CAN is
    ``can`` (PACE only). ``observers`` see every APDU on the wire (secure messaging
    protected) while this read lasts. The caller closes ``transport``."""
    if not 1 <= chunk_size <= 0xFFFF:
        raise DocumentError(f"READ BINARY size {chunk_size} is outside 1..65535")
    wire = counted(transport)
    for observer in observers:
        wire.add_observer(observer)
    try:
        return _read(_Link(wire), mrz, trust, now, read_photo, chunk_size, can)
    finally:
        for observer in observers:
            wire.remove_observer(observer)


def _read(
    link: _Link,
    mrz: Mrz | None,
    trust: TrustStore | None,
    now: datetime | None,
    read_photo: bool,
    chunk_size: int,
    can: str | None,
) -> PassportRead:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    first_apdu = link.wire.apdus
    with timed(timings, "connect"):
        link.wire.connect()
    with timed(timings, "card_access"):
        pace_infos = card_access(link, DEFAULT_CHUNK)
    card_security: bytes | None = None
    if pace_infos:
        # PACE runs at the master file, before the application is selected (9303-11 4.2).
        with timed(timings, "pace"):
            access = establish(link, pace_infos, mrz, can)
        if access.cam is not None:  # CAM's key is in EF.CardSecurity, in the MF too
            with timed(timings, "card_security"):
                card_security = link.read_file(FID_CARD_SECURITY, chunk_size, name=CS_NAME)
    selected = link.send(Command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
    if not selected.ok:
        raise DocumentError(
            f"not an eMRTD: SELECT of the ICAO application answered {selected.status}"
        )
    if not pace_infos:
        with timed(timings, "bac"):
            access = establish(link, [], mrz, can)

    def read(fid: int, name: str) -> bytes | None:
        with timed(timings, name.lower().replace(".", "_")):
            return link.read_file(fid, chunk_size, name=name)

    com = read(lds.FID_COM, "EF.COM")
    if com is None:
        raise DocumentError("EF.COM missing: the chip lists no data groups")
    present = lds.decode_com(com)
    groups: dict[int, bytes] = {}
    wanted = [1, *([2] if read_photo else []), 11, 12, 14, 15]
    for number in wanted:
        if number in present:
            content = read(lds.DATA_GROUPS[number][0], f"DG{number}")
            if content is None:
                raise DocumentError(f"DG{number} listed in EF.COM but not on the chip")
            groups[number] = content
    if 1 not in groups:
        raise DocumentError("DG1 (the MRZ) is not on the chip")
    sod = read(lds.FID_SOD, "EF.SOD")
    dg1 = lds.decode_dg1(groups[1])
    with timed(timings, "aa"):
        active = _active_auth(link, groups)
    with timed(timings, "pa"):
        passive = passive_authentication(
            groups, sod, trust, issuing_state=dg1.issuing_state, now=now
        )
    with timed(timings, "ca"):
        if access.cam is not None:
            checked = check_card_security(
                card_security, trust, issuing_state=dg1.issuing_state, now=now
            )
            chip = verify_cam(checked, access)
        else:
            chip = _chip_authentication(link, groups)
    photo = photo_bytes = photo_error = None
    if 2 in groups:
        faces = lds.decode_dg2(groups[2])
        photo_bytes = faces[0].image
        # A portrait declaring more bytes or pixels than any real one is a hostile chip: the
        # read is refused, where an undecodable photo is only reported.
        check_declared_size(photo_bytes, "DG2", limits=PORTRAIT_LIMITS, error=DocumentError)
        try:
            with timed(timings, "photo_decode"):
                photo = decode_photo(faces[0].image)
        except DocumentError as exc:
            photo_error = str(exc)
    timings["total"] = (time.perf_counter() - started) * 1000.0
    return PassportRead(
        dg1=dg1,
        photo=photo,
        photo_bytes=photo_bytes,
        photo_error=photo_error,
        passive_auth=passive,
        active_auth=active,
        pace_offered=bool(pace_infos),
        data_groups=tuple(present),
        access=access,
        chip_auth=chip,
        timings_ms=timings,
        apdus=link.wire.apdus - first_apdu,
        printed_mrz_matches=(dg1.lines == mrz.lines) if mrz and mrz.lines else None,
        dg11=lds.decode_dg11(groups[11]) if 11 in groups else {},
        dg12=lds.decode_dg12(groups[12]) if 12 in groups else {},
        files={"EF.COM": com, **{f"DG{n}": data for n, data in groups.items()}}
        | ({"EF.SOD": sod} if sod is not None else {}),
    )


def _active_auth(link: _Link, groups: dict[int, bytes]) -> ActiveAuthResult:
    if 15 not in groups:
        return ActiveAuthResult("not_supported", "no DG15: the chip does not offer AA")
    challenge = os.urandom(8)
    answer = link.send(Command(0x00, 0x88, 0x00, 0x00, challenge, le=256))
    if not answer.ok:
        return ActiveAuthResult("invalid", f"INTERNAL AUTHENTICATE answered SW {answer.status}")
    return verify_active_auth(groups[15], challenge, answer.data, groups.get(14))


def _chip_authentication(link: _Link, groups: dict[int, bytes]) -> ChipAuthResult:
    """CA v1 after passive authentication (the session continues under the new keys)."""
    if 14 not in groups:
        return ChipAuthResult("not_supported", "no DG14: the chip does not offer CA")
    try:
        chosen = chip_auth.select(groups[14])
    except DocumentError as exc:
        return ChipAuthResult("invalid", f"DG14 unusable: {exc}")
    if chosen is None:
        return ChipAuthResult("not_supported", "DG14 holds no Chip Authentication key")
    protocol, key_info = chosen
    name = f"CA-{protocol.key_agreement}-{protocol.cipher}"
    try:
        key = chip_auth.load_chip_key(key_info)
        keys = chip_auth.run_chip_auth(link.send, protocol, key)
        link.secure(keys)
        # The chip proves it holds the DG14 private key by answering under the new keys.
        answer = link.send(Command(0x00, 0xA4, 0x02, 0x0C, lds.FID_COM.to_bytes(2, "big")))
    except SecurityError as exc:
        return ChipAuthResult("invalid", f"Chip Authentication failed: {exc}", name)
    if not answer.ok:
        return ChipAuthResult("invalid", f"no answer under the CA keys (SW {answer.status})", name)
    return ChipAuthResult("valid", f"the chip holds the DG14 {key.name} key", name)
