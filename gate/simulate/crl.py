"""CSCA-signed certificate revocation lists for the test PKI (ICAO Doc 9303 part 12, 7.1.4).

``revoke_document_signer`` records the DS certificate's serial with the revocation date in
``revoked.json`` and re-issues ``csca.crl`` (DER), which a ``--trust`` folder picks up with
the CSCA certificate beside it. ``issue_crl`` re-issues the CRL alone (a new nextUpdate).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gate.errors import DocumentError
from gate.files import read_regular_file
from gate.simulate.pki import CRL_FILE, REVOKED_FILE, TestPki, issued_by

__all__ = ["CRL_FILE", "REVOKED_FILE", "issue_crl", "revoke_document_signer"]

# RFC 5280 4.1.2.2: a positive serial of at most 20 octets; what X.509 libraries build: 159 bits.
MAX_SERIAL = (1 << 159) - 1
_SERIAL = re.compile(r"[0-9]{1,49}")
# X.509 times (UTCTime / GeneralizedTime as cryptography writes them) start in 1950.
_EARLIEST = datetime(1950, 1, 1, tzinfo=timezone.utc)


def _revoked(pki: TestPki) -> dict[int, datetime]:
    """``revoked.json``: {"serial": "ISO 8601 revocation time"}; each field is checked, and a
    hand-edited file that is not such a record is one ``DocumentError`` naming the field."""
    path = pki.folder / REVOKED_FILE
    if not path.exists():
        return {}
    data = read_regular_file(path, "revocation list", max_bytes=1 << 20)
    try:
        raw = json.loads(data)
    except RecursionError as exc:
        raise DocumentError(f"PKI: {path} is nested too deep to be a revocation record") from exc
    except ValueError as exc:  # JSON syntax, or bytes that are not UTF-8
        raise DocumentError(f"PKI: {path} is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DocumentError(
            f"PKI: {path} is not a revocation record (an object of serial: date), "
            f"but a JSON {type(raw).__name__}"
        )
    return {_serial(path, key): _when(path, key, value) for key, value in raw.items()}


def _serial(path: object, key: str) -> int:
    if not _SERIAL.fullmatch(key):
        raise DocumentError(f"PKI: {path}: serial {key[:40]!r} is not a decimal number")
    serial = int(key)
    if not 1 <= serial <= MAX_SERIAL:
        raise DocumentError(f"PKI: {path}: serial {key[:60]} is not in 1 .. 2**159-1")
    return serial


def _when(path: object, key: str, value: object) -> datetime:
    if not isinstance(value, str):
        kind = type(value).__name__
        raise DocumentError(f"PKI: {path}: the date of serial {key} is a {kind}, not a string")
    try:
        if len(value) > 64:
            raise ValueError("too long")
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DocumentError(
            f"PKI: {path}: the date of serial {key} is not an ISO 8601 date and time"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if when < _EARLIEST:
        raise DocumentError(
            f"PKI: {path}: the date of serial {key} is before 1950: not a revocation date"
        )
    return when


def issue_crl(
    pki: TestPki, *, now: datetime | None = None, next_update_days: float = 30.0
) -> x509.CertificateRevocationList:
    """Sign a CRL of every revoked serial with the CSCA key and write ``csca.crl``."""
    now = now or datetime.now(timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.csca_certificate.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(days=next_update_days))
    )
    for serial, when in sorted(_revoked(pki).items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    crl = builder.sign(pki.csca_key, hashes.SHA256())
    (pki.folder / CRL_FILE).write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return crl


def revoke_document_signer(
    pki: TestPki,
    certificate: x509.Certificate | None = None,
    *,
    now: datetime | None = None,
    next_update_days: float = 30.0,
) -> x509.CertificateRevocationList:
    """Revoke ``certificate`` (default: the PKI's current DS) and re-issue the CRL.

    A CRL entry is a serial under its CSCA: the certificate must be one this CSCA's key
    issued (authority key identifier and signature), not merely one naming it as issuer."""
    now = now or datetime.now(timezone.utc)
    certificate = certificate or pki.ds_certificate
    if certificate == pki.csca_certificate:
        raise DocumentError("PKI: that is the CSCA certificate itself, not one it issued")
    if not issued_by(certificate, pki.csca_certificate):
        raise DocumentError(
            "PKI: that certificate was not issued by this CSCA's key "
            f"(issuer {certificate.issuer.rfc4514_string()}, serial {certificate.serial_number:x})"
        )
    revoked = _revoked(pki)
    revoked.setdefault(certificate.serial_number, now.replace(microsecond=0))
    record = {str(k): v.isoformat() for k, v in revoked.items()}
    (pki.folder / REVOKED_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return issue_crl(pki, now=now, next_update_days=next_update_days)
