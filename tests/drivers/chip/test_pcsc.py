"""The real path of a kiosk reader: pyscard -> pcscd -> vpcd -> the virtual passport.

These tests start their own pcscd (or reuse one that lists the vpcd readers) and hold the
vpcd port's lock while a card is presented, so parallel runs serialise instead of colliding.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.chip.passport_folder import load_passport_folder
from drivers.chip.pcsc import PcscTransport
from drivers.chip.pcscd import PcscdStatus
from drivers.chip.vpcd import VpcdCardLink
from gate.errors import DeviceError, DeviceGoneError, ProtocolError, SecurityError
from gate.icao.reader import TrustStore, read_passport
from gate.simulate.issue import IssuedPassport
from gate.simulate.pki import TestPki
from tests.gate.icao.passports import wrong_mrz

pytestmark = pytest.mark.pcsc


def _present(passport: IssuedPassport, **faults: object) -> VpcdCardLink:
    card = load_passport_folder(passport.folder, **faults)  # type: ignore[arg-type]
    return VpcdCardLink(card)


def test_issued_passport_reads_back_through_pcsc(
    pcscd: PcscdStatus, passport: IssuedPassport, pki_ecdsa: TestPki, face_jpeg: bytes
) -> None:
    with _present(passport) as link:
        transport = PcscTransport(link.reader_name, timeout=5)
        try:
            read = read_passport(transport, passport.mrz, TrustStore.from_folder(pki_ecdsa.folder))
        finally:
            transport.close()
    assert link.apdus == read.apdus > 50  # every APDU went over vpcd
    assert read.dg1 == passport.mrz
    assert read.photo_bytes == face_jpeg
    expected = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert read.photo is not None and np.array_equal(read.photo, expected)
    assert read.passive_auth.status == "valid", read.passive_auth.reason
    assert read.active_auth.status == "valid", read.active_auth.reason


@pytest.mark.parametrize(
    ("faults", "error", "message"),
    [
        ({"remove_after_apdus": 25}, DeviceGoneError, "removed"),
        ({"bad_mac": 4}, SecurityError, "MAC does not verify"),
        ({"garbage": 6}, ProtocolError, "garbage"),
    ],
)
def test_faults_over_pcsc(
    pcscd: PcscdStatus,
    passport: IssuedPassport,
    faults: dict[str, int],
    error: type[Exception],
    message: str,
) -> None:
    with _present(passport, **faults) as link:
        transport = PcscTransport(link.reader_name, timeout=5)
        try:
            with pytest.raises(error, match=message):
                read_passport(transport, passport.mrz, None)
        finally:
            transport.close()


def test_wrong_mrz_over_pcsc(pcscd: PcscdStatus, passport: IssuedPassport) -> None:
    with (
        _present(passport) as link,
        PcscTransport(link.reader_name) as transport,
        pytest.raises(SecurityError, match="BAC failed"),
    ):
        read_passport(transport, wrong_mrz(passport.mrz), None)


def test_unknown_reader_is_named(pcscd: PcscdStatus) -> None:
    with pytest.raises(DeviceError, match="no reader named 'Nope'"):
        PcscTransport("Nope").connect()


def test_swap_card_presents_the_next_passport(
    pcscd: PcscdStatus, passport: IssuedPassport, passport_rsa: IssuedPassport
) -> None:
    with _present(passport) as link:
        for issued in (passport, passport_rsa, passport):
            link.swap_card(load_passport_folder(issued.folder))
            with PcscTransport(link.reader_name) as transport:
                read = read_passport(transport, issued.mrz, None)
            assert read.active_auth.algorithm.startswith(
                "RSA" if issued is passport_rsa else "ECDSA"
            )
