"""Fixtures of the ICAO tests (defined in ``passports.py`` so tests/drivers/chip can share them)."""

from tests.gate.icao.passports import (  # noqa: F401
    face_jpeg,
    passport,
    passport_rsa,
    pki_ecdsa,
    pki_rsa,
)
