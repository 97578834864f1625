"""The chip-transport contract: APDU counting, observers of every command and response,
secure messaging as a transport over a transport, the one status-word table, and the APDU
trace that shows no payload."""

from __future__ import annotations

import re

import pytest

from drivers.chip.emulator import VirtualPassport
from drivers.chip.inprocess import InProcessTransport
from drivers.chip.passport_folder import load_passport_folder
from gate.errors import DeviceGoneError, ProtocolError
from gate.icao.apdu import Command, Response
from gate.icao.reader import read_passport
from gate.icao.status_words import StatusWord, describe
from gate.icao.trace import ApduTrace
from gate.icao.transport import ChipTransportBase, Exchange, TransportDecorator, counted
from gate.simulate.issue import IssuedPassport

MUTUAL_AUTHENTICATE = 0x82


@pytest.mark.parametrize("size", [0, 1, 255, 256, 300])
@pytest.mark.parametrize("le", [None, 1, 255, 256, 257, 65536])
def test_command_parse_reads_back_what_encode_wrote(size: int, le: int | None) -> None:
    command = Command(0x0C, 0xB1, 0x01, 0x02, bytes(i % 251 for i in range(size)), le)
    assert Command.parse(command.encode()) == command


@pytest.mark.parametrize("raw", ["00A4", "00A4020C0201", "00A4020C00000311", "00A4020C05AABB"])
def test_command_parse_refuses_lengths_that_lie(raw: str) -> None:
    with pytest.raises(ProtocolError):
        Command.parse(bytes.fromhex(raw))


def _card(passport: IssuedPassport, **faults: object) -> VirtualPassport:
    return load_passport_folder(passport.folder, **faults)  # type: ignore[arg-type]


def test_observers_see_every_command_and_response(passport: IssuedPassport) -> None:
    transport = InProcessTransport(_card(passport))
    seen: list[Exchange] = []
    read = read_passport(transport, passport.mrz, None, observers=(seen.append,))
    assert read.apdus == len(seen) == transport.apdus > 20
    assert [e.number for e in seen] == list(range(1, len(seen) + 1))
    assert all(e.response is not None and e.error is None for e in seen)
    # Secure messaging wraps the wire: after BAC every command on it is protected.
    opened = next(i for i, e in enumerate(seen) if e.command[1] == MUTUAL_AUTHENTICATE)
    assert all(Command.parse(e.command).secure for e in seen[opened + 1 :])
    # The observer belonged to that read only.
    transport.connect()
    transport.transmit(bytes.fromhex("00A4040C07A0000002471001"))
    assert len(seen) == read.apdus


def test_a_failed_exchange_is_observed_with_its_error(passport: IssuedPassport) -> None:
    seen: list[Exchange] = []
    transport = InProcessTransport(_card(passport, remove_after_apdus=5))
    with pytest.raises(DeviceGoneError):
        read_passport(transport, passport.mrz, None, observers=(seen.append,))
    assert len(seen) == 6 and seen[-1].response is None
    assert seen[-1].error is not None and "removed" in seen[-1].error


class _Bare:
    """A transport that keeps only the Protocol (no base class)."""

    def __init__(self, card: VirtualPassport) -> None:
        self.card = card

    def connect(self) -> bytes:
        return self.card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.transmit(apdu)

    def close(self) -> None:
        pass


def test_any_transport_is_counted_through_a_decorator(passport: IssuedPassport) -> None:
    bare = _Bare(_card(passport))
    wire = counted(bare)
    assert isinstance(wire, TransportDecorator) and wire.inner is bare
    base = InProcessTransport(_card(passport))
    assert counted(base) is base
    read = read_passport(bare, passport.mrz, None, read_photo=False)
    assert read.apdus == bare.card.apdu_count > 10


def test_the_card_and_the_reader_share_one_status_word_table(passport: IssuedPassport) -> None:
    card = _card(passport)
    card.reset()
    answer = Response.parse(card.transmit(bytes.fromhex("00A4020C020199")))  # no such file
    assert answer.sw == StatusWord.NOT_FOUND and answer.status == "6A82 (file not found)"
    assert card.transmit(bytes.fromhex("00FF0000")) == StatusWord.INS_UNKNOWN.raw
    assert describe(0x63C2) == "63C2 (authentication failed, 2 tries left)"
    assert describe(0x6F00) == "6F00"


def test_a_status_word_no_chip_sends_is_refused() -> None:
    class Noise(ChipTransportBase):
        def _connect(self) -> bytes:
            return b""

        def _transmit(self, apdu: bytes) -> bytes:
            return b"\x12\x34"

        def _close(self) -> None:
            pass

    with pytest.raises(ProtocolError, match="garbage"):
        Noise().send(Command(0x00, 0xA4, 0x04, 0x0C, b"\xa0"))


def test_the_trace_names_each_exchange_and_shows_no_payload(passport: IssuedPassport) -> None:
    lines: list[str] = []
    transport = InProcessTransport(_card(passport))
    read = read_passport(transport, passport.mrz, None, observers=(ApduTrace(lines.append),))
    assert len(lines) == 2 * read.apdus
    text = "\n".join(lines)
    assert "SELECT" in text and "READ BINARY" in text and "MUTUAL AUTHENTICATE" in text
    assert "9000 (success)" in text and "secure messaging" in text
    # No personal data and no cryptogram: the MRZ, the document number and DG1's bytes are
    # nowhere, and the only hex beyond headers and status words is a plain SELECT's file id
    # or application id.
    dg1 = (passport.folder / "DG1.bin").read_bytes().hex().upper()
    for secret in (*passport.mrz.lines, passport.mrz.document_number, dg1[:16]):
        assert secret not in text
    for line in lines:
        data = re.search(r"data ([0-9A-F]+)$", line)
        if data:
            assert "SELECT" in line and data.group(1) in ("A0000002471001", "011C", "011E",
                                                          "0101", "0102", "010E", "010F",
                                                          "011D")  # fmt: skip
        assert not re.search(r"[0-9A-F]{16}", line), line
