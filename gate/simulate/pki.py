"""A test PKI for virtual passports: a country signing CA (CSCA) and a Document Signer (DS).

The keys are written unencrypted: this is a simulation PKI, never a production one. Layout of
the folder: ``csca.pem``, ``csca-key.pem``, ``ds.pem``, ``ds-key.pem``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from gate.errors import ConfigError, DocumentError
from gate.files import read_regular_file
from gate.icao.country import alpha2

Algorithm = Literal["rsa", "ecdsa"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CSCA_CERT, CSCA_KEY, DS_CERT, DS_KEY = "csca.pem", "csca-key.pem", "ds.pem", "ds-key.pem"


@dataclass(frozen=True)
class TestPki:
    __test__ = False  # not a pytest test class despite the name

    folder: Path
    csca_certificate: x509.Certificate
    csca_key: PrivateKey
    ds_certificate: x509.Certificate
    ds_key: PrivateKey

    @property
    def signature_algorithm(self) -> str:
        """asn1crypto's name of the DS signature algorithm for the SOD's signer info."""
        return "sha256_rsa" if isinstance(self.ds_key, rsa.RSAPrivateKey) else "sha256_ecdsa"

    def sign(self, message: bytes) -> bytes:
        return sign_with(self.ds_key, message)


def sign_with(key: PrivateKey, message: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def new_key(algorithm: Algorithm, rsa_bits: int = 2048) -> PrivateKey:
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if algorithm == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    raise ConfigError(f"PKI algorithm {algorithm!r} is not 'rsa' or 'ecdsa'")


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, alpha2(country)),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "egate test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_csca(
    key: PrivateKey, country: str, *, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    name = _name(country, f"CSCA {country}")
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def make_document_signer(
    csca_certificate: x509.Certificate,
    csca_key: PrivateKey,
    key: PrivateKey,
    *,
    not_before: datetime,
    not_after: datetime,
    common_name: str = "Document Signer",
) -> x509.Certificate:
    country = csca_certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(str(country), common_name))
        .issuer_name(csca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca_key.public_key()),
            critical=False,
        )
        .sign(csca_key, hashes.SHA256())
    )


def _write_key(path: Path, key: PrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def save_document_signer(folder: Path, certificate: x509.Certificate, key: PrivateKey) -> None:
    (folder / DS_CERT).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / DS_KEY, key)


def init_pki(
    folder: Path,
    *,
    country: str = "UTO",
    algorithm: Algorithm = "ecdsa",
    now: datetime | None = None,
    ds_valid_days: int = 3 * 365,
    csca_valid_days: int = 15 * 365,
) -> TestPki:
    """Create a CSCA and one Document Signer in ``folder`` (created if missing)."""
    now = now or datetime.now(timezone.utc)
    folder.mkdir(parents=True, exist_ok=True)
    csca_key = new_key(algorithm)
    csca = make_csca(
        csca_key, country, not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=csca_valid_days),
    )  # fmt: skip
    ds_key = new_key(algorithm)
    ds = make_document_signer(
        csca, csca_key, ds_key, not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=ds_valid_days),
    )  # fmt: skip
    (folder / CSCA_CERT).write_bytes(csca.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / CSCA_KEY, csca_key)
    save_document_signer(folder, ds, ds_key)
    return TestPki(folder, csca, csca_key, ds, ds_key)


def _load_key(path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (OSError, ValueError) as exc:
        raise DocumentError(f"PKI: cannot load private key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise DocumentError(f"PKI: {path} is neither an RSA nor an EC key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except (OSError, ValueError) as exc:
        raise DocumentError(f"PKI: cannot load certificate {path}: {exc}") from exc


def load_certificate(path: Path) -> x509.Certificate:
    """A certificate file, PEM or DER; ``DocumentError`` naming it otherwise."""
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise DocumentError(f"PKI: {path} is not a certificate: {exc}") from exc


def load_pki(folder: Path) -> TestPki:
    return TestPki(
        folder,
        _load_cert(folder / CSCA_CERT),
        _load_key(folder / CSCA_KEY),
        _load_cert(folder / DS_CERT),
        _load_key(folder / DS_KEY),
    )


def _read(path: Path) -> bytes:
    """A key or certificate of the test PKI (kilobytes); a FIFO in its place is refused."""
    return read_regular_file(path, "PKI file", max_bytes=1 << 20)
