"""PEM and DER files from users (TLS certificates and keys, console keys, CSCA and
document-signer certificates), read without trusting them.

Every file goes through ``gate.files`` first (a regular file of bounded size: never a FIFO,
a device or a folder); then the ``cryptography`` loaders, whose ``ValueError``,
``TypeError`` (an encrypted key without a password) and ``UnsupportedAlgorithm`` become one
line naming the file and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gate.errors import ConfigError, GateError
from gate.files import read_regular_file

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import (
        PrivateKeyTypes,
        PublicKeyTypes,
    )

MAX_PEM_BYTES = 1024 * 1024  # a certificate chain or a key is a few kilobytes


def read_pem_bytes(
    path: Path, what: str, *, max_bytes: int = MAX_PEM_BYTES, error: type[GateError] = ConfigError
) -> bytes:
    """The bytes of a PEM or DER file: a regular, non-empty file of at most ``max_bytes``."""
    data = read_regular_file(path, what, max_bytes=max_bytes, error=error)
    if not data.strip():
        raise error(f"{what} {path}: the file is empty")
    return data


def _refusal(path: Path, what: str, expected: str, exc: Exception) -> str:
    if isinstance(exc, TypeError) and "encrypted" in str(exc).lower():
        return f"{what} {path}: the key is encrypted (a key without a password is expected)"
    return f"{what} {path}: not {expected}"


def load_certificates(
    path: Path, what: str, *, error: type[GateError] = ConfigError
) -> list[x509.Certificate]:
    """The X.509 certificates in a PEM file (one or more) or a DER file (one)."""
    from cryptography import x509

    data = read_pem_bytes(path, what, error=error)
    try:
        if b"-----BEGIN" in data:
            found = x509.load_pem_x509_certificates(data)
        else:
            found = [x509.load_der_x509_certificate(data)]
    except (ValueError, TypeError) as exc:
        raise error(_refusal(path, what, "a PEM or DER X.509 certificate", exc)) from exc
    return found


def load_private_key(
    path: Path, what: str, *, error: type[GateError] = ConfigError
) -> PrivateKeyTypes:
    """The private key in a PEM file (unencrypted)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    data = read_pem_bytes(path, what, error=error)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise error(_refusal(path, what, "a PEM private key", exc)) from exc


def load_public_key(
    path: Path, what: str, *, error: type[GateError] = ConfigError
) -> PublicKeyTypes:
    """The public key in a PEM file."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    data = read_pem_bytes(path, what, error=error)
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise error(_refusal(path, what, "a PEM public key", exc)) from exc
