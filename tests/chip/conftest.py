"""Fixtures of the chip tests: the ICAO test passports (``tests/icao/passports.py``) and a
running pcscd with the vpcd readers (skips with the reason where the PC/SC path is missing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.chip.pcscd import PcscdStatus, ensure_pcscd, pcscd_available
from tests.icao.passports import (  # noqa: F401
    face_jpeg,
    passport,
    passport_rsa,
    pki_ecdsa,
    pki_rsa,
)


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscdStatus]:
    reason = pcscd_available()
    if reason:
        pytest.skip(f"PC/SC path unavailable: {reason}")
    with ensure_pcscd() as status:
        yield status
