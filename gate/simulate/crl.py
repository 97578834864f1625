"""CSCA-signed certificate revocation lists for the test PKI (ICAO Doc 9303 part 12, 7.1.4).

``revoke_document_signer`` records the DS certificate's serial with the revocation date in
``revoked.json`` and re-issues ``csca.crl`` (DER), which a ``--trust`` folder picks up with
the CSCA certificate beside it. ``issue_crl`` re-issues the CRL alone (a new nextUpdate).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gate.errors import DocumentError
from gate.files import read_regular_file
from gate.simulate.pki import TestPki

CRL_FILE = "csca.crl"
REVOKED_FILE = "revoked.json"


def _revoked(pki: TestPki) -> dict[int, str]:
    path = pki.folder / REVOKED_FILE
    if not path.exists():
        return {}
    try:
        raw = json.loads(read_regular_file(path, "revocation list", max_bytes=1 << 20))
        return {int(serial): str(when) for serial, when in raw.items()}
    except (ValueError, AttributeError) as exc:
        raise DocumentError(f"PKI: {path} is not a revocation record: {exc}") from exc


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
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(datetime.fromisoformat(when))
            .build()
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
    """Revoke ``certificate`` (default: the PKI's current DS) and re-issue the CRL."""
    now = now or datetime.now(timezone.utc)
    certificate = certificate or pki.ds_certificate
    if certificate.issuer != pki.csca_certificate.subject:
        raise DocumentError("PKI: that certificate was not issued by this CSCA")
    revoked = _revoked(pki)
    revoked.setdefault(certificate.serial_number, now.replace(microsecond=0).isoformat())
    (pki.folder / REVOKED_FILE).write_text(
        json.dumps({str(k): v for k, v in revoked.items()}, indent=2) + "\n"
    )
    return issue_crl(pki, now=now, next_update_days=next_update_days)
