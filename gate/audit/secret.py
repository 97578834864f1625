"""The installation secret beside the audit log: 32 random bytes in a 0600 file.

It keys the document-number hashes (so the table alone reveals no passport number) and,
through ``gate.audit.chain.chain_key``, the MAC chain. It is never written into the rows.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from gate.errors import AuditError
from gate.files import kind_of, read_regular_file

SECRET_BYTES = 32


def load_or_create_secret(path: Path) -> bytes:
    """Read the secret, or create it (0600, exclusively) when there is none."""
    try:
        existing = load_secret(path)
        if existing is not None:
            return existing
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(SECRET_BYTES)
        # O_EXCL: two gates starting together must not overwrite each other's secret;
        # O_NOFOLLOW: a planted symlink must not redirect it.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secret)
            out.flush()
            os.fsync(out.fileno())
        return secret
    except FileExistsError:
        return load_or_create_secret(path)
    except OSError as exc:
        raise AuditError(f"cannot read or create the audit salt file {path}: {exc}") from exc


def load_secret(path: Path) -> bytes | None:
    """The secret when the file exists and is readable; ``None`` when it does not exist or
    cannot be read (an auditor who holds only the database). Anything but a regular file
    (a FIFO would block the reader for ever, a folder, a device, a symbolic link) is refused
    before it is opened."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"cannot read the audit salt file {path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise AuditError(f"cannot read the audit salt file {path}: it is a symbolic link")
    if not stat.S_ISREG(info.st_mode):
        raise AuditError(
            f"cannot read the audit salt file {path}: it is {kind_of(info.st_mode)}, "
            "not a regular file"
        )
    if not os.access(path, os.R_OK):
        return None
    secret = read_regular_file(
        path, "the audit salt file", max_bytes=SECRET_BYTES, error=AuditError
    )
    if len(secret) != SECRET_BYTES:
        raise AuditError(f"audit salt file {path} is {len(secret)} bytes, expected {SECRET_BYTES}")
    return secret


def hash_document_number(secret: bytes, number: str) -> str:
    """HMAC-SHA256 of the normalised document number (upper case, no filler '<')."""
    normalised = number.strip().upper().rstrip("<")
    return hmac.new(secret, normalised.encode("ascii", "replace"), hashlib.sha256).hexdigest()
