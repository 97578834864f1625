"""The virtual passport answers like a chip: status words, access rules, SM, link timing."""

from __future__ import annotations

import time

import pytest

from drivers.chip.emulator import EMRTD_AID, VirtualPassport
from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import DeviceError, DeviceGoneError, DocumentError
from gate.icao.apdu import Command, Response
from gate.icao.bac import AccessKeys, Handshake
from gate.icao.sm import SecureMessaging
from gate.simulate.issue import IssuedPassport


def _card(passport: IssuedPassport, **options: object) -> VirtualPassport:
    return load_passport_folder(passport.folder, **options)  # type: ignore[arg-type]


def _sw(card: VirtualPassport, command: Command) -> int:
    return Response.parse(card.transmit(command.encode())).sw


def _select_app(card: VirtualPassport) -> None:
    assert _sw(card, Command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID)) == 0x9000


def _bac(card: VirtualPassport, passport: IssuedPassport) -> SecureMessaging:
    _select_app(card)
    rnd_ic = Response.parse(card.transmit(Command(0, 0x84, 0, 0, le=8).encode())).data
    hs = Handshake.start(AccessKeys.from_mrz_information(passport.mrz.bac_key_seed_input()), rnd_ic)
    answer = Response.parse(
        card.transmit(Command(0, 0x82, 0, 0, hs.command_data(), le=40).encode())
    )
    assert answer.sw == 0x9000
    return SecureMessaging(hs.finish(answer.data))


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        (Command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471002")), 0x6A82),
        (Command(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("0101")), 0x6A82),  # app not selected
        (Command(0x00, 0x84, 0x00, 0x00, le=4), 0x6700),
        (Command(0x00, 0xCA, 0x00, 0x00, le=4), 0x6D00),
        (Command(0x80, 0xB0, 0x00, 0x00, le=4), 0x6E00),
        (Command(0x00, 0x82, 0x00, 0x00, bytes(40), le=40), 0x6985),  # no challenge yet
        (Command(0x0C, 0xB0, 0x00, 0x00, bytes.fromhex("970104"), le=256), 0x6987),  # no session
    ],
)
def test_status_words_before_authentication(
    passport: IssuedPassport, command: Command, sw: int
) -> None:
    assert _sw(_card(passport), command) == sw


def test_lds_files_need_secure_messaging(passport: IssuedPassport) -> None:
    card = _card(passport)
    _select_app(card)
    assert _sw(card, Command(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E"))) == 0x9000
    assert _sw(card, Command(0x00, 0xB0, 0x00, 0x00, le=4)) == 0x6982


def test_wrong_keys_get_6300_and_one_try_per_challenge(passport: IssuedPassport) -> None:
    card = _card(passport)
    _select_app(card)
    rnd_ic = Response.parse(card.transmit(Command(0, 0x84, 0, 0, le=8).encode())).data
    wrong = AccessKeys.from_mrz_information(b"X1234567<7560710000000000")
    data = Handshake.start(wrong, rnd_ic).command_data()
    assert _sw(card, Command(0, 0x82, 0, 0, data, le=40)) == 0x6300
    assert _sw(card, Command(0, 0x82, 0, 0, data, le=40)) == 0x6985


def test_secure_read_offsets_and_errors(passport: IssuedPassport) -> None:
    card = _card(passport)
    sm = _bac(card, passport)
    com = passport.files[0x011E]

    def send(command: Command) -> Response:
        return sm.unwrap(card.transmit(sm.wrap(command)))

    assert send(Command(0, 0xA4, 0x02, 0x0C, bytes.fromhex("011E"))).sw == 0x9000
    assert send(Command(0, 0xB0, 0x00, 0x02, le=3)).data == com[2:5]
    tail = send(Command(0, 0xB0, 0x00, len(com) - 2, le=10))
    assert (tail.data, tail.sw) == (com[-2:], 0x6282)
    assert send(Command(0, 0xB0, 0x01, 0x00, le=1)).sw == 0x6B00
    assert send(Command(0, 0xB0, 0x81, 0x00, le=4)).data == passport.files[0x0101][:4]  # SFI 1
    assert send(Command(0, 0xA4, 0x02, 0x0C, bytes.fromhex("0105"))).sw == 0x6A82
    # Odd INS: the offset in DO'54', the data in DO'53'.
    assert send(Command(0, 0xA4, 0x02, 0x0C, bytes.fromhex("011E"))).sw == 0x9000
    odd = send(Command(0, 0xB1, 0, 0, bytes.fromhex("54020003"), le=8))
    assert odd.data == bytes([0x53, 6]) + com[3:9]  # Le counts the DO'53' header
    assert send(Command(0, 0xB1, 0, 0, bytes.fromhex("5300"), le=8)).sw == 0x6A80
    # Extended Le: the whole DG2 in one APDU.
    dg2 = passport.files[0x0102]
    send(Command(0, 0xA4, 0x02, 0x0C, bytes.fromhex("0102")))
    assert send(Command(0, 0xB0, 0x00, 0x00, le=len(dg2))).data == dg2


def test_tampered_sm_command_ends_the_session(passport: IssuedPassport) -> None:
    card = _card(passport)
    sm = _bac(card, passport)
    wrapped = bytearray(sm.wrap(Command(0, 0xA4, 0x02, 0x0C, bytes.fromhex("011E"))))
    wrapped[-3] ^= 0x01  # inside the MAC
    assert Response.parse(card.transmit(bytes(wrapped))).sw == 0x6988
    # The session is gone: a correctly wrapped command is refused as well.
    assert Response.parse(card.transmit(sm.wrap(Command(0, 0xB0, 0, 0, le=4)))).sw == 0x6987


def test_removed_card_stays_removed(passport: IssuedPassport) -> None:
    card = _card(passport, remove_after_apdus=1)
    _select_app(card)
    for _ in range(2):
        with pytest.raises(DeviceGoneError):
            card.transmit(Command(0, 0x84, 0, 0, le=8).encode())


def test_link_speed_adds_air_time(passport: IssuedPassport) -> None:
    card = _card(passport, link_kbps=106)
    started = time.perf_counter()
    card.transmit(Command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID).encode())
    elapsed = time.perf_counter() - started
    # 12 bytes command + 2 bytes answer at 9 bits per byte on a 106 kbit/s link: >= 1.18 ms.
    assert elapsed >= 14 * 9 / 106_000


def test_corrupting_a_missing_group_is_refused(passport: IssuedPassport) -> None:
    with pytest.raises(DocumentError, match="DG3"):
        _card(passport, corrupt_dg=3)


def test_in_process_transport_requires_connect(passport: IssuedPassport) -> None:
    transport = InProcessTransport(_card(passport))
    with pytest.raises(DeviceError, match="before connect"):
        transport.transmit(b"\x00\x84\x00\x00\x08")
    assert transport.connect() == _card(passport).atr
