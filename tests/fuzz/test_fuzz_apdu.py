"""Hostile command APDUs on the card side (the virtual passport a reader, or an attacker's
reader, talks to), plain and inside an established BAC secure-messaging session; and hostile
secure-messaging answers on the reader side. Only ``GateError`` subclasses may come out, or a
response that ends in a status word."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.chip.emulator import VirtualPassport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import GateError
from gate.icao.apdu import Command
from gate.icao.bac import AccessKeys, Handshake
from gate.icao.reader import EMRTD_AID
from gate.icao.sm import SecureMessaging
from gate.simulate.issue import IssuedPassport
from tests.fuzz.profile import fuzz_settings, time_limit

INS = st.one_of(st.sampled_from([0xA4, 0x84, 0x82, 0xB0, 0xB1, 0x88]), st.integers(0, 255))
commands = st.builds(
    Command,
    cla=st.one_of(st.just(0x00), st.integers(0, 255)),
    ins=INS,
    p1=st.one_of(st.sampled_from([0x00, 0x02, 0x04, 0x80, 0x81]), st.integers(0, 255)),
    p2=st.one_of(st.sampled_from([0x00, 0x0C, 0x1E, 0x01]), st.integers(0, 255)),
    data=st.one_of(
        st.sampled_from([b"", EMRTD_AID, b"\x01\x1e", b"\x01\x01", b"\x54\x01\x00"]),
        st.binary(max_size=300),
    ),
    le=st.one_of(st.none(), st.integers(1, 256), st.just(65536)),
)


@pytest.fixture(scope="module")
def card(passport: IssuedPassport) -> VirtualPassport:
    return load_passport_folder(passport.folder)


def _answered(response: bytes) -> None:
    assert len(response) >= 2, response  # every answer ends in SW1 SW2


@pytest.mark.timeout(time_limit(300, 180))
@fuzz_settings(300)
@given(st.lists(st.one_of(commands.map(Command.encode), st.binary(max_size=40)), max_size=8))
def test_plain_apdus(card: VirtualPassport, apdus: list[bytes]) -> None:
    card.reset()
    for apdu in apdus:
        try:
            _answered(card.transmit(apdu))
        except GateError:
            return


def _bac(card: VirtualPassport, passport: IssuedPassport) -> SecureMessaging:
    card.reset()
    select = Command(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID).encode()
    assert card.transmit(select)[-2:] == b"\x90\x00"
    rnd_ic = card.transmit(Command(0x00, 0x84, 0x00, 0x00, le=8).encode())[:-2]
    keys = AccessKeys.from_mrz_information(passport.mrz.bac_key_seed_input())
    handshake = Handshake.start(keys, rnd_ic)
    answer = card.transmit(Command(0x00, 0x82, 0, 0, handshake.command_data(), le=40).encode())
    return SecureMessaging(handshake.finish(answer[:-2]))


@pytest.mark.timeout(time_limit(200, 180))
@fuzz_settings(200)
@given(st.lists(st.tuples(commands, st.booleans(), st.binary(max_size=24)), max_size=6))
def test_secure_messaging_apdus(
    card: VirtualPassport, passport: IssuedPassport, steps: list[tuple[Command, bool, bytes]]
) -> None:
    """Well-wrapped hostile inner commands (right MAC, wrong everything else) and raw ones
    with the SM bit; the reader side unwraps the chip's answers."""
    sm = _bac(card, passport)
    for command, wrapped, raw in steps:
        try:
            apdu = sm.wrap(command) if wrapped else bytes([0x0C]) + raw
            response = card.transmit(apdu)
            _answered(response)
            if wrapped:
                sm.unwrap(response)
        except GateError:
            return


@pytest.mark.timeout(time_limit(300, 120))
@fuzz_settings(300)
@given(st.binary(max_size=80), st.integers(0, 2**64 - 1))
def test_reader_unwraps_hostile_answers(raw: bytes, ssc: int) -> None:
    from gate.icao.bac import SessionKeys

    sm = SecureMessaging(SessionKeys(b"\x01" * 16, b"\x02" * 16, ssc))
    try:
        sm.unwrap(raw)
    except GateError:
        return
