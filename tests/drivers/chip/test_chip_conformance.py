"""The virtual chip against the texts of ICAO Doc 9303 part 11 and ISO/IEC 7816: one test per
deviation an independent reader found (issue 22), each at the APDU level."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.chip.emulator import EMRTD_AID, FID_CARD_SECURITY, VirtualPassport, contactless_atr
from drivers.chip.passport_folder import load_passport_folder
from gate.icao import lds, pace, security_infos, tlv
from gate.icao.apdu import Command, Response
from gate.icao.pace_groups import DhGroup, standard_group
from gate.icao.sm import SecureMessaging
from gate.simulate.issue import IssuedPassport, issue_passport
from gate.simulate.pki import TestPki
from tests.gate.icao.passports import HOLDER

Send = Callable[[Command], Response]
OK, WRONG_DATA, CONDITIONS, NOT_FOUND, REF_NOT_FOUND = 0x9000, 0x6A80, 0x6985, 0x6A82, 0x6A88
CA_AES128_ECDH = security_infos.ca_oid("ECDH", "AES-128")


@pytest.fixture(scope="module")
def cam_chip(
    tmp_path_factory: pytest.TempPathFactory, pki_ecdsa: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    """PACE (ECDH GM and CAM, AES-128, brainpoolP256r1) and CA ECDH AES-128."""
    out = tmp_path_factory.mktemp("conformance") / "p"
    return issue_passport(
        out, pki=pki_ecdsa, photo=face_jpeg, access="pace-only", ca="ecdh", aa="none",
        pace_cam=True, **HOLDER,
    )  # fmt: skip


@pytest.fixture(scope="module")
def dh_chip(
    tmp_path_factory: pytest.TempPathFactory, pki_ecdsa: TestPki, face_jpeg: bytes
) -> IssuedPassport:
    """PACE DH GM (1024-bit MODP group) and CA DH AES-128."""
    out = tmp_path_factory.mktemp("conformance-dh") / "p"
    return issue_passport(
        out, pki=pki_ecdsa, photo=face_jpeg, access="pace-only", ca="dh", aa="none",
        pace_parameter_id=0, **HOLDER,
    )  # fmt: skip


def _plain(card: VirtualPassport) -> Send:
    return lambda command: Response.parse(card.transmit(command.encode()))


def _pace(issued: IssuedPassport) -> tuple[VirtualPassport, Send]:
    """A fresh chip, PACE-GM done with the MRZ: the master file is current, SM is on."""
    card = load_passport_folder(issued.folder)
    infos = security_infos.parse_card_access(issued.files[lds.FID_CARD_ACCESS])
    info = next(i for i in infos if i.mapping == "GM")
    password = pace.PacePassword.from_mrz_information(issued.mrz.bac_key_seed_input())
    sm = SecureMessaging(pace.run_pace(_plain(card), info, password).keys)
    return card, lambda command: sm.unwrap(card.transmit(sm.wrap(command)))


def _mse_pace(oid: str, password: int = 1, parameter_id: int | None = None) -> Command:
    data = tlv.encode(0x80, security_infos.oid_der(oid)[2:]) + tlv.encode(0x83, bytes([password]))
    if parameter_id is not None:
        data += tlv.encode(0x84, bytes([parameter_id]))
    return Command(0x00, 0x22, 0xC1, 0xA4, data)


def _mse_ca(oid: str, key_reference: bytes = b"") -> Command:
    data = tlv.encode(0x80, security_infos.oid_der(oid)[2:])
    if key_reference:
        data += tlv.encode(0x84, key_reference)
    return Command(0x00, 0x22, 0x41, 0xA4, data)


def _ga(data: bytes, *, chained: bool = False) -> Command:
    return Command(0x10 if chained else 0x00, 0x86, 0x00, 0x00, data, le=256)


def test_atr_counts_its_historical_bytes_and_carries_a_correct_check_byte(
    cam_chip: IssuedPassport,
) -> None:
    """ISO/IEC 7816-3, 8.2: the low half of T0 is the number of historical bytes, each TDi
    names in its high half which interface bytes follow, and when any protocol other than
    T=0 is named a check byte TCK closes the ATR such that T0 to TCK XOR to zero. Walking
    the chip's ATR by those rules must end exactly on its last byte."""
    for atr in (load_passport_folder(cam_chip.folder).atr, contactless_atr(b"")):
        assert atr[0] == 0x3B  # TS: direct convention
        historical, y, i, protocols = atr[1] & 0x0F, atr[1] >> 4, 2, set()
        while True:
            i += bin(y & 0x7).count("1")  # TAi, TBi, TCi
            if not y & 0x8:
                break
            y, protocols = atr[i] >> 4, protocols | {atr[i] & 0x0F}
            i += 1
        i += historical
        assert protocols - {0}, "PC/SC's contactless ATR names T=1"
        assert len(atr) == i + 1, "the historical bytes T0 announces, then TCK, then nothing"
        assert functools.reduce(operator.xor, atr[1:], 0) == 0
    assert load_passport_folder(cam_chip.folder).atr[4:-1] == b"MRED Pass"


def test_set_kat_is_refused_where_chip_authentication_is_aes(cam_chip: IssuedPassport) -> None:
    """9303-11 6.2.4.1: MSE:Set KAT is the 3DES form of Chip Authentication; with AES the
    protocol runs as MSE:Set AT and GENERAL AUTHENTICATE. DG14 here offers CA with AES-128
    only, so KAT names an algorithm the chip does not support: 6A80 (the MSE table's answer
    for an unsupported algorithm), and the PACE session keys stay in force."""
    dg14 = security_infos.parse_dg14(cam_chip.files[0x010E])
    assert {i.cipher for i in dg14 if isinstance(i, security_infos.CaInfo)} == {"AES-128"}
    _, send = _pace(cam_chip)
    terminal = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    point = terminal.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert send(Command(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, point))).sw == WRONG_DATA
    assert send(Command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)).sw == OK  # same keys still


def _off_curve(point: bytes) -> bytes:
    return point[:-1] + bytes([point[-1] ^ 0x01])


def _compressed(point: bytes) -> bytes:
    return bytes([2 + (point[-1] & 1)]) + point[1:33]


@pytest.mark.parametrize(
    "fault",
    ["off_curve", "compressed", "wrong_tag", "empty_7c"],
)
def test_malformed_key_data_gets_6a80_in_pace_and_in_ca(
    cam_chip: IssuedPassport, fault: str
) -> None:
    """9303-11 4.4.4.2 and 6.2.4.2 (GENERAL AUTHENTICATE): faulty data in the command's data
    field answers 6A80, in PACE's mapping step as in Chip Authentication. A public key is an
    uncompressed point on the group's curve (9303-11 9.4, public key data objects), inside
    a 7C template under its own tag; a point off the curve, a compressed point, the wrong
    tag and an empty 7C are all such faults, and both protocols must treat them alike."""
    group = standard_group(13)
    point = group.public_key(group.random_private())

    def bad(tag: int) -> bytes:
        """The faulty 7C for a step whose key goes under ``tag``."""
        return {
            "off_curve": tlv.encode(0x7C, tlv.encode(tag, _off_curve(point))),
            "compressed": tlv.encode(0x7C, tlv.encode(tag, _compressed(point))),
            "wrong_tag": tlv.encode(0x7C, tlv.encode(0x83, point)),
            "empty_7c": tlv.encode(0x7C, b""),
        }[fault]

    card = load_passport_folder(cam_chip.folder)
    plain = _plain(card)
    gm = security_infos.pace_oid("ECDH", "AES-128")
    assert plain(_mse_pace(gm)).sw == OK
    assert plain(_ga(tlv.encode(0x7C, b""), chained=True)).sw == OK  # the encrypted nonce
    pace_sw = plain(_ga(bad(0x81), chained=True)).sw  # the mapping step
    _, send = _pace(cam_chip)
    assert send(_mse_ca(CA_AES128_ECDH)).sw == OK
    ca_sw = send(_ga(bad(0x80))).sw
    assert (pace_sw, ca_sw) == (WRONG_DATA, WRONG_DATA)


@pytest.mark.parametrize("value", [0, 1])
def test_dh_values_0_and_1_get_6a80_in_pace_and_in_ca(dh_chip: IssuedPassport, value: int) -> None:
    """9303-11 4.4.4.2 and 6.2.4.2: a DH public value must be an element of the group's
    prime-order subgroup; 0 and 1 are not (1 would force the shared secret to 1), so both
    protocols answer them as faulty data, 6A80."""
    card = load_passport_folder(dh_chip.folder)
    plain = _plain(card)
    group = standard_group(0)
    assert isinstance(group, DhGroup)
    assert plain(_mse_pace(security_infos.pace_oid("DH", "AES-128"))).sw == OK
    assert plain(_ga(tlv.encode(0x7C, b""), chained=True)).sw == OK
    weak = value.to_bytes(group.size, "big")
    pace_sw = plain(_ga(tlv.encode(0x7C, tlv.encode(0x81, weak)), chained=True)).sw
    ca_group = standard_group(2)
    assert isinstance(ca_group, DhGroup)
    _, send = _pace(dh_chip)
    assert send(_mse_ca(security_infos.ca_oid("DH", "AES-128"))).sw == OK
    weak = value.to_bytes(ca_group.size, "big")
    ca_sw = send(_ga(tlv.encode(0x7C, tlv.encode(0x80, weak)))).sw
    assert (pace_sw, ca_sw) == (WRONG_DATA, WRONG_DATA)


def test_ca_key_reference_must_name_a_key_of_the_chip(cam_chip: IssuedPassport) -> None:
    """9303-11 6.2.4.2 (MSE:Set AT for Chip Authentication): the optional reference of the
    private key selects one of the chip's CA keys; a reference to a key the chip does not
    hold is referenced data not found, 6A88, and the protocol does not start (GENERAL
    AUTHENTICATE then answers 6985, conditions of use not satisfied)."""
    _, send = _pace(cam_chip)
    assert send(_mse_ca(CA_AES128_ECDH, b"\x07")).sw == REF_NOT_FOUND
    point = standard_group(13).public_key(5)
    assert send(_ga(tlv.encode(0x7C, tlv.encode(0x80, point)))).sw == CONDITIONS
    assert send(_mse_ca(CA_AES128_ECDH)).sw == OK  # one key, no reference: unambiguous


@pytest.mark.parametrize(
    ("oid", "parameter_id", "password", "sw"),
    [
        (security_infos.pace_oid("ECDH", "3DES"), None, 1, WRONG_DATA),
        (security_infos.pace_oid("ECDH", "AES-256"), None, 1, WRONG_DATA),
        (security_infos.pace_oid("DH", "AES-128"), None, 1, WRONG_DATA),
        (security_infos.pace_oid("ECDH", "AES-128", "IM"), None, 1, WRONG_DATA),
        (security_infos.pace_oid("ECDH", "AES-128"), 12, 1, REF_NOT_FOUND),  # P-256, not offered
        (security_infos.pace_oid("ECDH", "AES-128"), None, 2, REF_NOT_FOUND),  # no CAN issued
        (security_infos.pace_oid("ECDH", "AES-128"), 13, 1, OK),
    ],
)
def test_pace_mse_unsupported_algorithm_is_6a80_absent_reference_6a88(
    cam_chip: IssuedPassport, oid: str, parameter_id: int | None, password: int, sw: int
) -> None:
    """9303-11 4.4.4.1 (MSE:Set AT for PACE): an algorithm the chip does not support is
    answered 6A80; 6A88 means referenced data not found, i.e. a password or domain
    parameter ID the chip does not have. The chip offers ECDH GM and CAM with AES-128 on
    brainpoolP256r1 (ID 13) and the MRZ password only."""
    assert (
        _plain(load_passport_folder(cam_chip.folder))(_mse_pace(oid, password, parameter_id)).sw
        == sw
    )


@pytest.mark.parametrize(
    "oid",
    [security_infos.ca_oid("ECDH", "3DES"), security_infos.ca_oid("ECDH", "AES-256"),
     security_infos.ca_oid("DH", "AES-128")],
)  # fmt: skip
def test_ca_mse_unsupported_algorithm_is_6a80(cam_chip: IssuedPassport, oid: str) -> None:
    """9303-11 6.2.4.2 (MSE:Set AT for Chip Authentication): a protocol identifier the chip
    does not offer (DG14 names CA ECDH AES-128 only) is an unsupported algorithm, 6A80."""
    _, send = _pace(cam_chip)
    assert send(_mse_ca(oid)).sw == WRONG_DATA


def test_short_file_identifiers_name_files_of_the_current_df(cam_chip: IssuedPassport) -> None:
    """ISO/IEC 7816-4 (short EF identifiers) and 9303-10/-11: an SFI refers to an EF of the
    current DF, as a file ID in SELECT does. EF.CardAccess (SFI 1C) and EF.CardSecurity (SFI
    1D) live in the master file, where PACE runs; the data groups, EF.COM and EF.SOD (also
    SFI 1D) in the eMRTD application. In the MF, DG1 is not found by either path."""
    _, send = _pace(cam_chip)
    assert send(Command(0x00, 0xB0, 0x81, 0x00, le=4)).sw == NOT_FOUND  # DG1 by SFI, in the MF
    assert send(Command(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("0101"))).sw == NOT_FOUND
    assert send(Command(0x00, 0xB0, 0x9C, 0x00, le=4)).data == cam_chip.files[0x011C][:4]
    assert cam_chip.card_security is not None
    assert send(Command(0x00, 0xB0, 0x9D, 0x00, le=8)).data == cam_chip.card_security[:8]
    assert send(Command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)).sw == OK
    assert send(Command(0x00, 0xB0, 0x81, 0x00, le=4)).data == cam_chip.files[0x0101][:4]
    assert send(Command(0x00, 0xB0, 0x9D, 0x00, le=8)).data == cam_chip.files[0x011D][:8]
    assert send(Command(0x00, 0xB0, 0x9C, 0x00, le=4)).sw == NOT_FOUND  # CardAccess: MF only


def test_card_security_is_in_the_master_file_apart_from_ef_sod(
    cam_chip: IssuedPassport, passport: IssuedPassport, tmp_path: Path
) -> None:
    """9303-11 4.4.3.5.2 and 9.2: a chip with PACE-CAM carries EF.CardSecurity (file ID 011D
    in the master file), a SignedData of the Document Signer over the chip's SecurityInfos
    with the ChipAuthenticationPublicKeyInfo; EF.SOD has the same file ID but lives in the
    eMRTD application. A BAC-only chip has none."""
    _, send = _pace(cam_chip)
    assert send(Command(0x00, 0xA4, 0x02, 0x0C, FID_CARD_SECURITY.to_bytes(2, "big"))).sw == OK
    head = send(Command(0x00, 0xB0, 0x00, 0x00, le=4)).data
    assert cam_chip.card_security is not None and head == cam_chip.card_security[:4]
    assert head[0] == 0x30 and cam_chip.files[lds.FID_SOD][0] == 0x77  # CardSecurity, not SOD
    bac = _plain(load_passport_folder(passport.folder))
    assert bac(Command(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011D"))).sw == NOT_FOUND
