"""Hostile PACE and Chip Authentication input: malformed EF.CardAccess, unknown parameter
IDs, DG14 truncated or with keys off their curve, garbage answers during PACE on the reader
side and garbage commands during PACE on the card side. Only ``GateError`` subclasses (a
clear one-line error) may come out, never a traceback of another kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.chip.emulator import FID_CARD_ACCESS, VirtualPassport
from gate.errors import GateError
from gate.icao import chip_auth, pace, security_infos
from gate.icao.apdu import Command, Response
from gate.icao.mrz import mrz_information
from gate.icao.pace_groups import standard_group
from gate.simulate.issue import encode_dg14, new_ca_key
from tests.fuzz.profile import fuzz_settings, time_limit

CARD_ACCESS = security_infos.encode_security_infos(
    [
        security_infos.PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13),
        security_infos.PaceInfo("0.4.0.127.0.7.2.2.4.1.4", 2, 2),
    ]
)
DG14 = encode_dg14(new_ca_key("ecdh"), with_aa_info=True)
PASSWORD = pace.PacePassword.from_mrz_information(mrz_information("T22000129", "640812", "101031"))


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """The valid file with bytes flipped, cut short or extended, or plain random bytes."""
    flips = st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(1, 255)), max_size=4)

    def flip(changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(seed)
        for index, mask in changes:
            data[index] ^= mask
        return bytes(data)

    return st.one_of(
        flips.map(flip),
        st.integers(0, len(seed) - 1).map(lambda n: seed[:n]),
        st.binary(max_size=8).map(lambda tail: seed + tail),
        st.binary(max_size=120),
    )


@pytest.mark.timeout(time_limit(120, 60))
@fuzz_settings(300)
@given(_mutations(CARD_ACCESS))
def test_card_access_parses_or_names_the_problem(data: bytes) -> None:
    try:
        infos = security_infos.parse_card_access(data)
        if infos:
            pace.choose(infos)  # unknown parameter IDs / mappings: SecurityError
    except GateError as exc:
        assert str(exc)


@pytest.mark.timeout(time_limit(120, 60))
@fuzz_settings(200)
@given(_mutations(DG14))
def test_dg14_and_ca_keys_parse_or_are_refused(data: bytes) -> None:
    try:
        chosen = chip_auth.select(data)
        if chosen is not None:
            chip_auth.load_chip_key(chosen[1])
    except GateError as exc:
        assert str(exc)


@pytest.mark.timeout(time_limit(120, 60))
@fuzz_settings(200)
@given(st.binary(min_size=0, max_size=140), st.sampled_from([0, 13, 15]))
def test_points_and_dh_values_are_validated(data: bytes, parameter_id: int) -> None:
    group = standard_group(parameter_id)
    try:
        group.shared_element(group.random_private(), data, "peer key")
    except GateError as exc:
        assert "peer key" in str(exc)


def _dynamic(tag: int, value: bytes) -> bytes:
    return b"\x7c" + bytes([len(value) + 2, tag, len(value)]) + value


responses = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"\x90\x00", b"\x63\x00", b"\x69\x85", b"\x7c\x00\x90\x00"]),
    st.binary(max_size=70).map(lambda v: _dynamic(0x82, v) + b"\x90\x00"),
)


@pytest.mark.timeout(time_limit(120, 60))
@fuzz_settings(200)
@given(st.lists(responses, min_size=5, max_size=5))
def test_garbage_during_pace_on_the_reader_side(answers: list[bytes]) -> None:
    queue = list(answers)

    def send(command: Command) -> Response:
        return Response.parse(queue.pop(0))

    info = security_infos.PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13)
    with pytest.raises(GateError):
        pace.run_pace(send, info, PASSWORD)


@pytest.fixture(scope="module")
def chip() -> VirtualPassport:
    return VirtualPassport(
        {FID_CARD_ACCESS: CARD_ACCESS}, mrz_information("T22000129", "640812", "101031")
    )


SET_AT = b"\x80\x0a" + security_infos.oid_der("0.4.0.127.0.7.2.2.4.2.2")[2:] + b"\x83\x01\x01"
ga_data = st.one_of(
    st.binary(max_size=90),
    st.sampled_from([b"\x7c\x00", SET_AT]),
    st.binary(max_size=80).map(lambda v: _dynamic(0x81, v)),
)


@pytest.mark.timeout(time_limit(120, 60))
@fuzz_settings(200)
@given(
    st.lists(
        st.tuples(st.sampled_from([0x00, 0x10, 0x0C]), st.sampled_from([0x22, 0x86]), ga_data),
        max_size=6,
    )
)
def test_garbage_during_pace_on_the_card_side(
    chip: VirtualPassport, commands: list[tuple[int, int, bytes]]
) -> None:
    chip.reset()
    for cla, ins, data in commands:
        p1p2 = (0xC1, 0xA4) if ins == 0x22 else (0x00, 0x00)
        apdu = Command(cla, ins, *p1p2, data, le=None if ins == 0x22 else 256).encode()
        try:
            assert len(chip.transmit(apdu)) >= 2
        except GateError:
            return
