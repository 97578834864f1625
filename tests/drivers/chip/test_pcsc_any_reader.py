"""A bare ``pcsc`` address is whichever reader holds a card (issue 25: it took the first
reader, so a passport on ``Virtual PCD 00 01`` was never seen and the lane referred on
``no card on Virtual PCD 00 00``). Both vpcd ports are claimed, so no other process puts
a card on the empty one meanwhile; the card goes on the second."""

from __future__ import annotations

import pytest

from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscReader
from drivers.chip.pcscd import PcscdStatus
from drivers.chip.registry import open_reader
from drivers.chip.vpcd import VPCD_PORT, VpcdCardLink, claim_vpcd_port, reader_name
from gate.errors import DeviceTimeoutError
from gate.icao.mrz import access_mrz
from gate.icao.reader import read_passport
from gate.simulate.issue import IssuedPassport

pytestmark = pytest.mark.pcsc


def test_pcsc_reads_the_card_on_whichever_reader_holds_it(
    pcscd: PcscdStatus, passport: IssuedPassport
) -> None:
    first, second = VPCD_PORT, VPCD_PORT + 1
    if reader_name(second) not in pcscd.readers:
        pytest.skip(f"pcscd lists no second vpcd reader ({pcscd.readers})")
    with claim_vpcd_port([first]), claim_vpcd_port([second]) as claimed:
        connector = open_reader("pcsc", timeout=5)
        assert isinstance(connector, PcscReader)
        try:
            with pytest.raises(DeviceTimeoutError, match="no card on any reader within"):
                connector().connect()  # no card anywhere yet
            with VpcdCardLink(load_passport_folder(passport.folder), claim=claimed):
                transport = connector()
                mrz = access_mrz(passport.mrz.document_number, "560709", "341231")
                read = read_passport(transport, mrz, None, read_photo=False)
                assert transport.reader == reader_name(second)
                assert read.dg1.document_number == passport.mrz.document_number
                transport.close()
        finally:
            connector.close()
