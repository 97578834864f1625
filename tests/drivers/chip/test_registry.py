"""Chip reader addresses: every scheme, the errors, and an import that loads no backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.chip.emulator import VirtualPassport
from drivers.chip.inprocess import InProcessTransport, PassportFolderReader
from drivers.chip.passport_folder import AA_KEY, FORMAT, MANIFEST, load_passport_folder
from drivers.chip.pcsc import ANY_READER, PcscReader, PcscTransport
from drivers.chip.registry import BACKENDS, backend, open_reader, parse_address
from gate.errors import ConfigError, DocumentError
from gate.simulate.issue import IssuedPassport


def test_schemes_resolve_to_their_readers() -> None:
    assert set(BACKENDS) == {"pcsc", "emulator"}
    assert backend("pcsc") is PcscReader
    assert backend("emulator") is PassportFolderReader


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("pcsc", ("pcsc", ANY_READER)),
        ("pcsc:", ("pcsc", ANY_READER)),
        ("pcsc:Virtual PCD 00 00", ("pcsc", "Virtual PCD 00 00")),
        ("emulator:/tmp/pp", ("emulator", "/tmp/pp")),
    ],
)
def test_parse_address(address: str, parsed: tuple[str, str | int]) -> None:
    assert parse_address(address) == parsed


def test_pcsc_connector_builds_a_pcsc_transport_per_call_on_one_context() -> None:
    # Building a PcscTransport reaches no daemon: only connect() does.
    first = open_reader("pcsc", timeout=2.5)
    named = open_reader("pcsc:Virtual PCD")
    a, b = first(), first()
    assert isinstance(a, PcscTransport) and isinstance(b, PcscTransport) and a is not b
    assert a.reader_spec == ANY_READER and a.timeout == 2.5  # whichever holds a card
    assert isinstance(first, PcscReader)
    assert a.context is b.context is first.context  # the lane's one context
    assert first.context.established == 0  # no daemon reached yet
    c = named()
    assert isinstance(c, PcscTransport) and c.reader_spec == "Virtual PCD"
    second = open_reader("pcsc:1")
    assert second().reader_spec == 1  # digits: an index in pcscd's list
    second.close()
    first.close()
    named.close()


def test_emulator_reads_the_passport_folder(passport: IssuedPassport) -> None:
    connect = open_reader(f"emulator:{passport.folder}")
    transport = connect()
    assert isinstance(transport, InProcessTransport)
    atr = transport.connect()
    try:
        assert atr == load_passport_folder(passport.folder).atr
        select_emrtd = bytes.fromhex("00A4040C07A0000002471001")
        assert transport.transmit(select_emrtd)[-2:] == b"\x90\x00"
    finally:
        transport.close()
    assert connect() is not transport  # a fresh chip each time
    connect.close()


def test_passport_folder_format_names_match_what_is_issued(passport: IssuedPassport) -> None:
    manifest = json.loads((passport.folder / MANIFEST).read_text())
    assert manifest["format"] == FORMAT
    assert manifest.get("aa_key") in (None, AA_KEY)
    assert isinstance(load_passport_folder(passport.folder), VirtualPassport)
    card = load_passport_folder(passport.folder, remove_after_apdus=3)
    assert card.remove_after_apdus == 3


@pytest.mark.parametrize(
    "address", ["", "pcsc0", "nfc:reader", "/dev/ttyACM0", "Pcsc:x", "emulator", "emulator:"]
)
def test_unknown_addresses_name_the_address_and_the_schemes(address: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_reader(address)
    message = str(info.value)
    assert repr(address) in message and "\n" not in message
    if address.partition(":")[0] != "emulator":
        assert "pcsc:, emulator:" in message


def test_a_missing_passport_folder_fails_when_opened(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="nowhere"):
        open_reader(f"emulator:{tmp_path / 'nowhere'}")
