"""Passive authentication (ICAO Doc 9303 part 11 section 5.1, part 12).

Never skipped silently: without a trust store the result is ``not_checked`` with the reason,
never ``valid``. Checks, in order: EF.SOD present and well formed; every data group read
hashes to its value in the SOD; the signed attributes' message digest covers the
LDSSecurityObject; the SOD signature verifies with the Document Signer certificate's key; the
DS certificate was issued by a trusted CSCA; both were valid at the time of the check; the DS
country is the issuing state of DG1; the DS is not on the CSCA's CRL (``revoked`` with the
date), and that CRL is not past its nextUpdate (``crl_stale``) when the trust folder has one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from gate.errors import ConfigError, DocumentError
from gate.files import read_regular_file
from gate.icao.country import alpha2
from gate.icao.csca import csca_anchors
from gate.icao.sod import (
    LDS_SECURITY_OBJECT_OID,
    SECURITY_OBJECT_OID,
    SecurityObject,
    hash_data,
    parse_sod,
)
from gate.types import PassiveAuthStatus

Status = PassiveAuthStatus
_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}  # fmt: skip


@dataclass(frozen=True)
class PassiveAuthResult:
    status: Status
    reason: str
    hash_algorithm: str = ""
    data_group_hashes: dict[int, bool] = field(default_factory=dict)
    document_signer: str = ""
    csca: str = ""
    revoked_on: str = ""  # YYYY-MM-DD when the status is "revoked"


class TrustStore:
    """Trusted CSCA certificates: PEM or DER files and ICAO master lists (.ml) in a folder,
    and the CSCAs' CRLs (.crl, PEM or DER). A certificate of the folder that is not a CSCA
    (``gate.icao.csca``) is no anchor: a warning names it, and the rest loads."""

    def __init__(
        self,
        certificates: list[x509.Certificate],
        crls: list[x509.CertificateRevocationList] | None = None,
        refused: list[str] | None = None,
    ) -> None:
        self.certificates = list(certificates)
        self.crls = list(crls or [])
        self.refused = list(refused or [])  # a line per certificate of the folder left out

    @classmethod
    def from_folder(cls, path: Path) -> TrustStore:
        if not path.is_dir():
            raise ConfigError(f"trust store {path} is not a folder")
        found: list[tuple[str, x509.Certificate]] = []
        crls: list[x509.CertificateRevocationList] = []
        for file in sorted(path.iterdir()):
            if file.suffix.lower() == ".crl":
                crls.append(_load_crl(file))
                continue
            if file.suffix.lower() == ".ml":
                from gate.icao.masterlist import load_master_list

                listed = load_master_list(_read(file), str(file))
                found.extend((f"{file} ({c.subject.rfc4514_string()})", c) for c in listed)
                continue
            if file.suffix.lower() not in (".pem", ".crt", ".cer", ".der"):
                continue
            data = _read(file)
            try:
                if b"-----BEGIN CERTIFICATE-----" in data:
                    found.extend((str(file), c) for c in x509.load_pem_x509_certificates(data))
                elif b"-----BEGIN" not in data:  # private keys beside the certs are skipped
                    found.append((str(file), x509.load_der_x509_certificate(data)))
            except ValueError as exc:
                raise ConfigError(f"trust store: {file} is not a certificate: {exc}") from exc
        if not found:
            raise ConfigError(f"trust store {path} holds no certificates (.pem/.crt/.cer/.der/.ml)")
        anchors, refused = csca_anchors(found)
        if not anchors:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise ConfigError(f"trust store {path} holds no CSCA certificate: {refused[0]}{more}")
        return cls(anchors, crls, refused)

    def crls_of(self, csca: x509.Certificate) -> list[x509.CertificateRevocationList]:
        """The CRLs issued and signed by ``csca`` (a CRL with a bad signature is ignored)."""
        key = csca.public_key()
        return [
            crl
            for crl in self.crls
            if crl.issuer == csca.subject and crl.is_signature_valid(key)  # type: ignore[arg-type]
        ]

    def issuers_of(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        return [c for c in self.certificates if c.subject == certificate.issuer]


def _verify_signature(
    certificate: x509.Certificate, sod: SecurityObject, hash_class: type[hashes.HashAlgorithm]
) -> None:
    key = certificate.public_key()
    algorithm = sod.signature_algorithm
    if isinstance(key, rsa.RSAPublicKey):
        if algorithm == "rsassa_pss":
            pss = padding.PSS(padding.MGF1(hash_class()), padding.PSS.AUTO)
            key.verify(sod.signature, sod.signed_bytes, pss, hash_class())
        else:
            key.verify(sod.signature, sod.signed_bytes, padding.PKCS1v15(), hash_class())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sod.signature, sod.signed_bytes, ec.ECDSA(hash_class()))
    else:
        raise InvalidSignature(f"unsupported Document Signer key {type(key).__name__}")


def _country(certificate: x509.Certificate) -> str:
    values = certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    return str(values[0].value).upper() if values else ""


def _validity(certificate: x509.Certificate, what: str, now: datetime) -> str | None:
    if now < certificate.not_valid_before_utc:
        start = certificate.not_valid_before_utc
        return f"{what} certificate not yet valid (valid from {start:%Y-%m-%d})"
    if now > certificate.not_valid_after_utc:
        return f"{what} certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    return None


def passive_authentication(
    data_groups: dict[int, bytes],
    sod_bytes: bytes | None,
    trust: TrustStore | None,
    *,
    issuing_state: str,
    now: datetime | None = None,
) -> PassiveAuthResult:
    """Check the data groups read against EF.SOD and its signer chain."""
    now = now or datetime.now(timezone.utc)
    if sod_bytes is None:
        return PassiveAuthResult("invalid", "EF.SOD missing: the chip has no security object")
    try:
        sod = parse_sod(sod_bytes)
    except DocumentError as exc:
        return PassiveAuthResult("invalid", f"EF.SOD malformed: {exc}")
    algorithm = sod.hash_algorithm
    if algorithm not in _HASH_CLASSES or sod.digest_algorithm not in _HASH_CLASSES:
        return PassiveAuthResult("invalid", f"EF.SOD hash algorithm {algorithm!r} not supported")
    results: dict[int, bool] = {}
    for number, content in sorted(data_groups.items()):
        expected = sod.data_group_hashes.get(number)
        results[number] = expected is not None and hmac.compare_digest(
            hash_data(algorithm, content), expected
        )

    def result(status: Status, reason: str, signer: str = "", csca: str = "") -> PassiveAuthResult:
        return PassiveAuthResult(status, reason, algorithm, results, signer, csca)

    for number, ok in results.items():
        if not ok:
            if number not in sod.data_group_hashes:
                return result("invalid", f"DG{number} has no hash in EF.SOD")
            return result("invalid", f"DG{number} hash mismatch: the data group was altered")
    status, reason, signer, csca, revoked_on = verify_signer(
        sod, trust, issuing_state=issuing_state, now=now
    )
    return PassiveAuthResult(
        status, reason, algorithm, results, signer, csca, revoked_on=revoked_on
    )


Verdict = tuple[Status, str, str, str, str]  # status, reason, signer, CSCA, revoked on


def verify_signer(
    sod: SecurityObject,
    trust: TrustStore | None,
    *,
    issuing_state: str,
    now: datetime,
    where: str = "EF.SOD",
    content_type: str = LDS_SECURITY_OBJECT_OID,
) -> Verdict:
    """The signature of a Document Signer's SignedData (EF.SOD, EF.CardSecurity) and the
    signer's chain: message digest, signature, trusted CSCA, validity, country, CRL."""
    hash_class = _HASH_CLASSES.get(sod.digest_algorithm)
    if hash_class is None:
        reason = f"{where} digest algorithm {sod.digest_algorithm!r} not supported"
        return "invalid", reason, "", "", ""
    if sod.content_type_attribute != content_type:
        name = _CONTENT[content_type]
        return "invalid", f"{where} signed content-type attribute is not {name}", "", "", ""
    digest = hash_data(sod.digest_algorithm, sod.econtent)
    if sod.message_digest is None or not hmac.compare_digest(digest, sod.message_digest):
        name = _CONTENT[content_type]
        return "invalid", f"{where} message digest does not match the {name}", "", "", ""
    signer_cert = _find_signer(sod)
    if signer_cert is None:
        return "invalid", f"{where} does not carry the Document Signer certificate", "", "", ""
    signer = signer_cert.subject.rfc4514_string()
    try:
        _verify_signature(signer_cert, sod, hash_class)
    except (InvalidSignature, ValueError, TypeError) as exc:
        reason = f"{where} signature does not verify with the DS key {exc}".strip()
        return "invalid", reason, signer, "", ""
    if trust is None:
        reason = f"no trust store given: {_SIGNED[where]} verified, the signer is not checked"
        return "not_checked", reason, signer, "", ""
    csca = _trusted_issuer(signer_cert, trust)
    if csca is None:
        return "invalid", f"Document Signer not issued by a trusted CSCA ({signer})", signer, "", ""
    csca_name = csca.subject.rfc4514_string()
    for cert, what in ((signer_cert, "Document Signer"), (csca, "CSCA")):
        problem = _validity(cert, what, now)
        if problem:
            return "invalid", problem, signer, csca_name, ""
    try:
        state = alpha2(issuing_state)
    except DocumentError as exc:
        return "invalid", str(exc), signer, csca_name, ""
    if _country(signer_cert) != state or _country(csca) != state:
        reason = (
            f"issuing state {issuing_state} of DG1 differs from the DS/CSCA country "
            f"{_country(signer_cert)}/{_country(csca)}"
        )
        return "invalid", reason, signer, csca_name, ""
    revocation = _revocation(signer_cert, csca, trust, now)
    if revocation is not None:
        status, reason, when = revocation
        return status, reason, signer, csca_name, when
    return (
        "valid",
        f"{_SIGNED[where]} and certificate chain verified",
        signer,
        csca_name,
        "",
    )


_SIGNED = {"EF.SOD": "hashes and SOD signature", "EF.CardSecurity": "EF.CardSecurity signature"}
_CONTENT = {LDS_SECURITY_OBJECT_OID: "LDSSecurityObject", SECURITY_OBJECT_OID: "SecurityObject"}


def _revocation(
    signer: x509.Certificate, csca: x509.Certificate, trust: TrustStore, now: datetime
) -> tuple[Status, str, str] | None:
    """("revoked" | "crl_stale", reason, date) from the CSCA's CRLs; None when clear."""
    crls = trust.crls_of(csca)
    for crl in crls:
        entry = crl.get_revoked_certificate_by_serial_number(signer.serial_number)
        if entry is not None:
            when = f"{entry.revocation_date_utc:%Y-%m-%d}"
            return "revoked", f"Document Signer revoked on {when} (CSCA CRL)", when
    stale = [crl for crl in crls if crl.next_update_utc is not None and crl.next_update_utc < now]
    if crls and len(stale) == len(crls):
        assert stale[0].next_update_utc is not None
        return (
            "crl_stale",
            f"the CSCA's CRL is past its next update ({stale[0].next_update_utc:%Y-%m-%d}): "
            "revocation cannot be checked",
            "",
        )
    return None


def _find_signer(sod: SecurityObject) -> x509.Certificate | None:
    for der in sod.certificates:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        if (
            cert.serial_number == sod.signer_serial
            and cert.issuer.public_bytes() == sod.signer_issuer.dump()
        ):
            return cert
    return None


def _trusted_issuer(certificate: x509.Certificate, trust: TrustStore) -> x509.Certificate | None:
    for candidate in trust.issuers_of(certificate):
        try:
            certificate.verify_directly_issued_by(candidate)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return candidate
    return None


# A certificate or master list is small; a FIFO or device in the folder must not block.
MAX_TRUST_FILE_BYTES = 16 << 20


def _load_crl(file: Path) -> x509.CertificateRevocationList:
    data = _read(file)
    try:
        if b"-----BEGIN X509 CRL-----" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ConfigError(f"trust store: {file} is not a CRL: {exc}") from exc


def _read(file: Path) -> bytes:
    return read_regular_file(file, "trust store file", max_bytes=MAX_TRUST_FILE_BYTES)
