"""One contract for every ChipTransport: in-process, PC/SC over vpcd, and a real reader.

The real reader runs only when ``EGATE_HIL_READER`` names it (and ``EGATE_HIL_MRZ`` holds the
MRZ of the passport on it, lines separated by '|').
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import DeviceError
from gate.icao.mrz import Mrz, parse_mrz
from gate.icao.reader import read_passport
from gate.interfaces import ChipTransport
from gate.simulate.issue import IssuedPassport

AID_SELECT = bytes.fromhex("00A4040C07A0000002471001")
GET_CHALLENGE = bytes.fromhex("0084000008")


@pytest.fixture(
    params=[
        "inprocess",
        pytest.param("pcsc", marks=pytest.mark.pcsc),
        pytest.param("hil", marks=pytest.mark.hil),
    ]
)
def lane(
    request: pytest.FixtureRequest, passport: IssuedPassport
) -> Iterator[tuple[ChipTransport, Mrz]]:
    kind = request.param
    if kind == "inprocess":
        yield InProcessTransport(load_passport_folder(passport.folder)), passport.mrz
        return
    from drivers.chip.pcsc import PcscTransport

    if kind == "hil":
        reader, mrz = os.environ.get("EGATE_HIL_READER"), os.environ.get("EGATE_HIL_MRZ")
        if not reader or not mrz:
            pytest.skip("no real reader: set EGATE_HIL_READER and EGATE_HIL_MRZ")
        transport = PcscTransport(reader, timeout=10)
        yield transport, parse_mrz(mrz.replace("|", "\n"))
        transport.close()
        return
    from drivers.chip.pcscd import ensure_pcscd
    from drivers.chip.vpcd import VpcdCardLink

    with ensure_pcscd(), VpcdCardLink(load_passport_folder(passport.folder)) as link:
        transport = PcscTransport(link.reader_name, timeout=5)
        yield transport, passport.mrz
        transport.close()


def test_connect_returns_an_atr(lane: tuple[ChipTransport, Mrz]) -> None:
    transport, _ = lane
    atr = transport.connect()
    assert isinstance(atr, bytes) and len(atr) >= 2 and atr[0] in (0x3B, 0x3F)


def test_select_and_fresh_challenges(lane: tuple[ChipTransport, Mrz]) -> None:
    transport, _ = lane
    transport.connect()
    assert transport.transmit(AID_SELECT)[-2:] == b"\x90\x00"
    first, second = transport.transmit(GET_CHALLENGE), transport.transmit(GET_CHALLENGE)
    assert len(first) == len(second) == 10 and first[-2:] == second[-2:] == b"\x90\x00"
    assert first[:8] != second[:8]


def test_unsupported_instruction_is_refused(lane: tuple[ChipTransport, Mrz]) -> None:
    transport, _ = lane
    transport.connect()
    answer = transport.transmit(bytes.fromhex("00CA010100"))
    assert answer[-2] in (0x6A, 0x6D, 0x6E, 0x69)


def test_complete_read(lane: tuple[ChipTransport, Mrz]) -> None:
    transport, mrz = lane
    read = read_passport(transport, mrz, None)
    assert read.dg1.document_number == mrz.document_number
    assert read.passive_auth.status in ("not_checked", "invalid")  # no trust store given
    assert read.photo is not None


def test_transmit_after_close_fails(lane: tuple[ChipTransport, Mrz]) -> None:
    transport, _ = lane
    transport.connect()
    transport.close()
    with pytest.raises(DeviceError):
        transport.transmit(GET_CHALLENGE)
