"""Fixtures of the chip tests: the ICAO test passports (``tests/gate/icao/passports.py``) (the
running pcscd is the project's root conftest's ``pcscd`` fixture)."""

from __future__ import annotations

from tests.gate.icao.passports import (  # noqa: F401
    face_jpeg,
    passport,
    passport_rsa,
    pki_ecdsa,
    pki_rsa,
)
