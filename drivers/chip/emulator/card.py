"""A virtual ePassport chip: the eMRTD application of ICAO Doc 9303 over ISO/IEC 7816-4 APDUs.

Two directories, as on a real chip: the master file holds EF.CardAccess and EF.CardSecurity,
the eMRTD application EF.COM, EF.SOD and the data groups; SELECT by file ID and READ BINARY
by short EF identifier see the current one only. It answers SELECT (AID and file ID), GET
CHALLENGE, MUTUAL AUTHENTICATE (BAC), 3DES secure messaging, READ BINARY (offsets, short EF
identifiers, short and extended Le) and INTERNAL AUTHENTICATE (Active Authentication, RSA
ISO/IEC 9796-2 or ECDSA plain), with the status words a real chip gives. Faults and link
speed are options, so every failure a reader must survive can be produced on demand, through
any transport.
"""

from __future__ import annotations

import functools
import hmac
import logging
import operator
import os
import random
import time

from cryptography.hazmat.primitives.asymmetric import ec

from drivers.chip.chip_auth_side import CaKey, ChipPace, ChipPaceKeys, chip_ca, chip_pace_infos
from drivers.chip.emulator.active_auth import AaKey, sign_challenge
from drivers.chip.emulator.session import ChipSession, sm_objects, tlv
from gate.errors import DeviceGoneError, DocumentError, ProtocolError, SecurityError
from gate.icao import crypto, pace, security_infos
from gate.icao.apdu import Command
from gate.icao.bac import SessionKeys
from gate.icao.status_words import StatusWord as SW

log = logging.getLogger(__name__)

EMRTD_AID = bytes.fromhex("A0000002471001")
FID_CARD_ACCESS = 0x011C  # in the master file, as EF.CardSecurity (011D) is
FID_CARD_SECURITY = 0x011D


def contactless_atr(historical: bytes) -> bytes:
    """The ATR PC/SC builds for an ISO 14443-4 card (ISO/IEC 7816-3 8.2): TS 3B; T0 with
    the count of historical bytes; TD1 80 and TD2 01 (T=0, then T=1, no other interface
    bytes); the historical bytes; TCK, making the XOR of T0 through TCK zero."""
    if len(historical) > 15:
        raise DocumentError(f"an ATR holds at most 15 historical bytes, not {len(historical)}")
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    return b"\x3b" + body + bytes([functools.reduce(operator.xor, body, 0)])


DEFAULT_ATR = contactless_atr(b"MRED Pass")
BITS_PER_BYTE = 9  # ISO/IEC 14443-3: 8 data bits + 1 parity bit per byte on the air
# The most READ BINARY returns at once: a protected answer (padding, DO'87', DO'99', DO'8E')
# must still fit an extended response and vpcd's 16-bit frame, as on real chips' buffers.
MAX_READ = 0xFFFF - 64


def mrz_information(lines: list[str]) -> bytes:
    """BAC key seed input from the MRZ lines (TD3 or TD1) kept in the passport folder."""
    if len(lines) == 2:
        l2 = lines[1]
        text = l2[0:10] + l2[13:20] + l2[21:28]
    elif len(lines) == 3:
        text = lines[0][5:15] + lines[1][0:7] + lines[1][8:15]
    else:
        raise DocumentError(f"virtual passport: MRZ has {len(lines)} lines")
    return text.encode("ascii")


class VirtualPassport:
    """The chip. ``transmit`` takes a command APDU and returns the response APDU with SW.

    Fault options:
      remove_after_apdus: after this many APDUs the card is gone (``DeviceGoneError``).
      corrupt_dg: data-group number whose served content has one byte flipped (hash fails).
      bad_mac: the n-th secure-messaging response (1 = first) carries a wrong MAC.
      garbage: from the n-th APDU on, answer random bytes.
      link_kbps: add the air transfer time of a 106/212/424/848 kbit/s link to each APDU.
      pace_only: refuse BAC (the chip announces PACE in EF.CardAccess and supports nothing else).

    PACE runs when EF.CardAccess lists a PACEInfo (password: the MRZ, or ``can``); Chip
    Authentication when ``ca_key`` is given and DG14 names its protocol.
    """

    def __init__(
        self,
        files: dict[int, bytes],
        mrz_information: bytes,
        *,
        aa_key: AaKey | None = None,
        atr: bytes = DEFAULT_ATR,
        remove_after_apdus: int | None = None,
        corrupt_dg: int | None = None,
        bad_mac: int | None = None,
        garbage: int | None = None,
        link_kbps: float | None = None,
        pace_only: bool = False,
        can: str | None = None,
        ca_key: CaKey | None = None,
        pace_keys: ChipPaceKeys | None = None,
        master_file: dict[int, bytes] | None = None,
    ) -> None:
        # Two directories: the master file (EF.CardAccess, EF.CardSecurity) and the eMRTD
        # application (EF.COM, EF.SOD, the data groups). ``files`` may hold EF.CardAccess.
        self._mf = {fid: data for fid, data in files.items() if fid == FID_CARD_ACCESS}
        self._mf.update(master_file or {})
        self._app = {fid: data for fid, data in files.items() if fid != FID_CARD_ACCESS}
        if corrupt_dg is not None:
            fid = 0x0100 + corrupt_dg
            if fid not in self._app:
                raise DocumentError(f"virtual passport: cannot corrupt DG{corrupt_dg}, not present")
            content = bytearray(self._app[fid])
            content[len(content) // 2] ^= 0x5A
            self._app[fid] = bytes(content)
        seed = crypto.bac_key_seed(mrz_information)
        self._k_enc = crypto.derive_key(seed, crypto.ENC_COUNTER)
        self._k_mac = crypto.derive_key(seed, crypto.MAC_COUNTER)
        self._aa_key = aa_key
        self.atr = atr
        self.remove_after_apdus = remove_after_apdus
        self.bad_mac = bad_mac
        self.garbage = garbage
        self.link_kbps = link_kbps
        self.pace_only = pace_only
        passwords = {
            security_infos.PASSWORD_MRZ: pace.PacePassword.from_mrz_information(mrz_information)
        }
        if can is not None:
            passwords[security_infos.PASSWORD_CAN] = pace.PacePassword.from_can(can)
        cam_key = ca_key if isinstance(ca_key, ec.EllipticCurvePrivateKey) else None
        infos = chip_pace_infos(self._mf.get(FID_CARD_ACCESS))
        self._pace = ChipPace(infos, passwords, pace_keys, cam_key)
        if pace_only and not self._pace.infos:
            raise DocumentError(
                "virtual passport: PACE-only needs a passport issued with PACE "
                "(its EF.CardAccess lists no PACE protocol)"
            )
        self._ca = chip_ca(self._app.get(0x010E), ca_key)
        self._next_session: SessionKeys | None = None
        self.apdu_count = 0
        self.removed = False
        self._sm_responses = 0
        self.reset()

    def reset(self) -> bytes:
        """Power cycle: the application is deselected and any session is gone."""
        self._app_selected = False
        self._current: int | None = None
        self._rnd_ic: bytes | None = None
        self._session: ChipSession | None = None
        return self.atr

    # -- the APDU loop ---------------------------------------------------------------------
    def transmit(self, command: bytes) -> bytes:
        started = time.perf_counter()
        response = self._transmit(bytes(command))
        if self.link_kbps:
            airtime = (len(command) + len(response)) * BITS_PER_BYTE / (self.link_kbps * 1000.0)
            remaining = airtime - (time.perf_counter() - started)
            if remaining > 0:
                time.sleep(remaining)
        return response

    def _transmit(self, command: bytes) -> bytes:
        if self.removed:
            raise DeviceGoneError("virtual passport: card was removed")
        self.apdu_count += 1
        if self.remove_after_apdus is not None and self.apdu_count > self.remove_after_apdus:
            self.removed = True
            raise DeviceGoneError("virtual passport: card was removed")
        if self.garbage is not None and self.apdu_count >= self.garbage:
            # Noise whose status word no ISO 7816 chip would send (SW1 below 0x61).
            rng = random.Random(self.apdu_count)
            noise = rng.randbytes(1 + rng.randrange(40))
            return noise + bytes([rng.randrange(0x00, 0x60), rng.randrange(256)])
        try:
            apdu = Command.parse(command)
        except ProtocolError:
            return SW.WRONG_LENGTH.raw
        if apdu.cla & 0xE0:  # only interindustry CLA, with or without chaining (10)
            return SW.CLA_UNKNOWN.raw
        if apdu.cla & 0x0C == 0x0C:
            return self._secure(apdu)
        if self._session is not None:
            # A plain command ends the session, as on real chips.
            self._session = None
        data, sw = self._execute(apdu, secure=False)
        return data + sw.raw

    def _secure(self, apdu: Command) -> bytes:
        session = self._session
        if session is None:
            return SW.SM_MISSING.raw
        try:
            inner = session.unwrap(apdu)
        except (ProtocolError, SecurityError) as exc:
            log.debug("virtual passport: SM command rejected: %s", exc)
            self._session = None
            return SW.SM_WRONG.raw
        data, sw = self._execute(inner, secure=True)
        self._sm_responses += 1
        corrupt = self.bad_mac is not None and self._sm_responses == self.bad_mac
        answer = session.wrap(data, sw, odd=bool(inner.ins & 1), corrupt_mac=corrupt)
        if self._next_session is not None:
            # Chip Authentication: this answer went under the old keys, the next uses the new.
            self._session, self._next_session = ChipSession(self._next_session), None
        return answer

    def _execute(self, apdu: Command, *, secure: bool) -> tuple[bytes, SW]:
        handlers = {
            0xA4: self._select,
            0x84: self._get_challenge,
            0x82: self._mutual_authenticate,
            0xB0: self._read_binary,
            0xB1: self._read_binary_odd,
            0x88: self._internal_authenticate,
            0x22: self._manage_security_environment,
            0x86: self._general_authenticate,
        }
        handler = handlers.get(apdu.ins)
        if handler is None:
            return b"", SW.INS_UNKNOWN
        return handler(apdu, secure)

    def _directory(self) -> dict[int, bytes]:
        """The files of the current DF: the eMRTD application once selected, else the MF."""
        return self._app if self._app_selected else self._mf

    def _select(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        if apdu.p1 == 0x04:
            if apdu.data != EMRTD_AID:
                return b"", SW.NOT_FOUND
            self._app_selected, self._current = True, None
            return b"", SW.OK
        if apdu.p1 in (0x00, 0x02):
            if apdu.p1 == 0x00 and apdu.data in (b"", b"\x3f\x00"):
                self._app_selected, self._current = False, None
                return b"", SW.OK
            if len(apdu.data) != 2:
                return b"", SW.WRONG_LENGTH
            fid = int.from_bytes(apdu.data, "big")
            if fid not in self._directory():  # an EF of the current DF only
                return b"", SW.NOT_FOUND
            self._current = fid
            return b"", SW.OK
        return b"", SW.WRONG_P1P2

    def _manage_security_environment(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        p1p2 = (apdu.p1, apdu.p2)
        if not secure and p1p2 == (0xC1, 0xA4):
            return b"", self._pace.set_at(apdu.data)
        if secure and p1p2 == (0x41, 0xA6):
            if self._ca is None:  # no Chip Authentication at all: the algorithm is unknown
                return b"", SW.WRONG_DATA
            keys, sw = self._ca.set_kat(apdu.data)
            self._next_session = keys
            return b"", sw
        if secure and p1p2 == (0x41, 0xA4):
            return b"", SW.WRONG_DATA if self._ca is None else self._ca.set_at(apdu.data)
        return b"", SW.WRONG_P1P2

    def _general_authenticate(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        if secure:
            if self._ca is None:
                return b"", SW.CONDITIONS
            keys, sw = self._ca.general_authenticate(apdu.data)
            self._next_session = keys
            return (b"\x7c\x00" if keys else b""), sw
        data, sw = self._pace.general_authenticate(apdu.cla, apdu.data)
        if sw == SW.OK and self._pace.step == 4 and self._pace.keys is not None:
            self._session = ChipSession(self._pace.keys)
            self._sm_responses = 0
        return data, sw

    def _get_challenge(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        if apdu.le != 8:
            return b"", SW.WRONG_LENGTH
        self._rnd_ic = os.urandom(8)
        return self._rnd_ic, SW.OK

    def _mutual_authenticate(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        if self.pace_only:
            return b"", SW.INS_UNKNOWN
        if not self._app_selected or self._rnd_ic is None:
            return b"", SW.CONDITIONS
        if len(apdu.data) != 40:
            return b"", SW.WRONG_LENGTH
        rnd_ic, self._rnd_ic = self._rnd_ic, None  # one try per challenge
        e_ifd, m_ifd = apdu.data[:32], apdu.data[32:]
        if not hmac.compare_digest(crypto.retail_mac(self._k_mac, e_ifd), m_ifd):
            return b"", SW.AUTH_FAILED
        plain = crypto.decrypt(self._k_enc, e_ifd)
        rnd_ifd, echoed, k_ifd = plain[:8], plain[8:16], plain[16:32]
        if echoed != rnd_ic:
            return b"", SW.AUTH_FAILED
        k_ic = os.urandom(16)
        e_ic = crypto.encrypt(self._k_enc, rnd_ic + rnd_ifd + k_ic)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        self._session = ChipSession(
            SessionKeys(
                crypto.derive_key(seed, crypto.ENC_COUNTER),
                crypto.derive_key(seed, crypto.MAC_COUNTER),
                int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big"),
            )
        )
        self._sm_responses = 0
        return e_ic + crypto.retail_mac(self._k_mac, e_ic), SW.OK

    def _read_binary(
        self, apdu: Command, secure: bool, offset_override: int | None = None
    ) -> tuple[bytes, SW]:
        if offset_override is not None:
            offset = offset_override
        elif apdu.p1 & 0x80:
            # A short EF identifier names an EF of the current DF: in the application DG n
            # is n, EF.SOD 1D and EF.COM 1E; in the MF EF.CardAccess 1C, EF.CardSecurity 1D.
            fid = 0x0100 | (apdu.p1 & 0x1F)
            if fid not in self._directory():
                return b"", SW.NOT_FOUND
            self._current, offset = fid, apdu.p2
        else:
            offset = (apdu.p1 << 8) | apdu.p2
        if self._current is None:
            return b"", SW.NO_CURRENT_EF
        in_the_clear = not self._app_selected and self._current == FID_CARD_ACCESS
        if not secure and not in_the_clear:
            return b"", SW.SECURITY_STATUS
        content = self._directory()[self._current]
        if offset > len(content):
            return b"", SW.WRONG_OFFSET
        wanted = min(apdu.le or 256, MAX_READ)
        chunk = content[offset : offset + wanted]
        return chunk, (SW.OK if len(chunk) == wanted else SW.END_OF_FILE)

    def _read_binary_odd(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        """READ BINARY B1: the offset in DO'54' (any size), the answer wrapped in DO'53'."""
        try:
            objects = sm_objects(apdu.data) if apdu.data else []
        except ProtocolError:
            return b"", SW.WRONG_DATA
        if len(objects) != 1 or objects[0][0] != 0x54 or not 1 <= len(objects[0][1]) <= 3:
            return b"", SW.WRONG_DATA
        offset = int.from_bytes(objects[0][1], "big")
        # Le counts the DO'53' header too; keep the answer inside it.
        wanted = (apdu.le or 256) - (4 if (apdu.le or 256) > 0x80 else 2)
        data, sw = self._read_binary(
            Command(apdu.cla, 0xB0, 0, 0, b"", max(wanted, 1)), secure, offset
        )
        return (tlv(0x53, data) if data or sw == SW.OK else data), sw

    def _internal_authenticate(self, apdu: Command, secure: bool) -> tuple[bytes, SW]:
        if self._aa_key is None:
            return b"", SW.INS_UNKNOWN
        if not secure:
            return b"", SW.SECURITY_STATUS
        if len(apdu.data) != 8:
            return b"", SW.WRONG_LENGTH
        return sign_challenge(self._aa_key, apdu.data), SW.OK
