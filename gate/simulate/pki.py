"""A test PKI for virtual passports: a country signing CA (CSCA) and a Document Signer (DS).

The keys are written unencrypted: this is a simulation PKI, never a production one. Layout of
the folder: ``csca.pem``, ``csca-key.pem``, ``ds.pem``, ``ds-key.pem``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from gate.errors import ConfigError, DocumentError
from gate.files import read_regular_file
from gate.icao.country import alpha2, state_code

Algorithm = Literal["rsa", "ecdsa"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CSCA_CERT, CSCA_KEY, DS_CERT, DS_KEY = "csca.pem", "csca-key.pem", "ds.pem", "ds-key.pem"
# What belongs to one CSCA besides its keys: replaced together by ``init_pki(overwrite=True)``.
CRL_FILE, REVOKED_FILE = "csca.crl", "revoked.json"


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


def _name(country_alpha2: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country_alpha2),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "egate test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_csca(
    key: PrivateKey, country: str, *, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A self-signed CSCA of ``country`` (an ICAO issuing-state code, e.g. ``UTO``)."""
    country = state_code(country, "PKI country")
    name = _name(alpha2(country), f"CSCA {country}")
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
    country = certificate_country(csca_certificate)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(country, common_name))
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


def certificate_country(certificate: x509.Certificate) -> str:
    """The alpha-2 ``C`` of a certificate's subject (upper case); "" when it has none."""
    values = certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    return str(values[0].value).upper() if values else ""


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
    overwrite: bool = False,
) -> TestPki:
    """Create a CSCA and one Document Signer in ``folder`` (created if missing).

    A folder that already holds a PKI is refused unless ``overwrite``: its keys (and the CRL
    and revocation record of its CSCA) are then replaced."""
    country = state_code(country, "PKI country")
    if algorithm not in ("rsa", "ecdsa"):
        raise ConfigError(f"PKI algorithm {algorithm!r} is not 'rsa' or 'ecdsa'")
    existing = [
        name for name in _PKI_FILES if (folder / name).is_symlink() or (folder / name).exists()
    ]
    if existing and not overwrite:
        raise ConfigError(
            f"PKI: {folder} already holds a PKI ({', '.join(existing)}); --force replaces its keys"
        )
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
    for name in (CRL_FILE, REVOKED_FILE):  # the old CSCA's: meaningless for the new one
        (folder / name).unlink(missing_ok=True)
    (folder / CSCA_CERT).write_bytes(csca.public_bytes(serialization.Encoding.PEM))
    _write_key(folder / CSCA_KEY, csca_key)
    save_document_signer(folder, ds, ds_key)
    return TestPki(folder, csca, csca_key, ds, ds_key)


_PKI_FILES = (CSCA_CERT, CSCA_KEY, DS_CERT, DS_KEY, CRL_FILE, REVOKED_FILE)


def trust_folder(pki: TestPki, folder: Path) -> Path:
    """``folder`` made a lane's trust store for ``pki``: its CSCA and the CSCA's CRL when
    there is one; neither the keys nor the Document Signer, which is no trust anchor."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CSCA_CERT).write_bytes(pki.csca_certificate.public_bytes(serialization.Encoding.PEM))
    crl = pki.folder / CRL_FILE
    (folder / CRL_FILE).unlink(missing_ok=True)
    if crl.exists():
        (folder / CRL_FILE).write_bytes(_read(crl))
    return folder


def _load_key(path: Path) -> PrivateKey:
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # "Password was not given but private key is encrypted"
        raise DocumentError(
            f"PKI: {path} is an encrypted private key; a test PKI's keys are unencrypted"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
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
    """The PKI of ``folder``; ``DocumentError`` when its files are unreadable or do not belong
    together (a key that is not its certificate's, a DS not issued by the CSCA): whatever
    it signed would fail verification."""
    pki = TestPki(
        folder,
        _load_cert(folder / CSCA_CERT),
        _load_key(folder / CSCA_KEY),
        _load_cert(folder / DS_CERT),
        _load_key(folder / DS_KEY),
    )
    _check_key(folder / CSCA_KEY, pki.csca_key, folder / CSCA_CERT, pki.csca_certificate)
    _check_key(folder / DS_KEY, pki.ds_key, folder / DS_CERT, pki.ds_certificate)
    if not issued_by(pki.ds_certificate, pki.csca_certificate):
        raise DocumentError(f"PKI: {folder / DS_CERT} is not issued by {folder / CSCA_CERT}")
    return pki


def _public_der(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_key(
    key_path: Path, key: PrivateKey, cert_path: Path, certificate: x509.Certificate
) -> None:
    try:
        public = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DocumentError(f"PKI: {cert_path} has an unusable public key: {exc}") from exc
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) or _public_der(
        public
    ) != _public_der(key.public_key()):
        raise DocumentError(
            f"PKI: {key_path} is not the key of {cert_path}: what it signs would not verify"
        )


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``certificate``, and its authority key identifier
    (when it carries one) is the issuer's key identifier: names alone prove nothing."""
    try:
        aki = _extension(certificate, x509.AuthorityKeyIdentifier)
        if aki is not None and aki.key_identifier is not None:
            ski = _extension(issuer, x509.SubjectKeyIdentifier)
            own = ski or x509.SubjectKeyIdentifier.from_public_key(issuer.public_key())
            if aki.key_identifier != own.digest:
                return False
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


_E = TypeVar("_E", bound=x509.ExtensionType)


def _extension(certificate: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _read(path: Path) -> bytes:
    """A key or certificate of the test PKI (kilobytes); a FIFO in its place is refused."""
    return read_regular_file(path, "PKI file", max_bytes=1 << 20)
