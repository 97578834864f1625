"""Fixtures of the fuzzers: the issued test passports of the ICAO tests (``passports.py``)."""

from tests.gate.icao.passports import face_jpeg, passport, pki_ecdsa  # noqa: F401
