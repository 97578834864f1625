"""The watch store's key: keyed document hashes, templates encrypted at rest, private files.

One 32-byte key, from the environment (``EGATE_WATCH_KEY``, 64 hex digits) or a key file
(the same hex, a file of mode 0600 or stricter). Two sub-keys are derived from it with
HKDF-SHA256: one for the HMAC of documents (issuing state + document number: the store never
holds a number in clear), one for AES-256-GCM over the template files. A check value (an HMAC
of a fixed label) kept in the store tells a wrong key from damaged files.

Every file the store writes is created ``O_EXCL`` at mode 0600 under a temporary name,
fsync'd and renamed into place, so it is never readable by others, never half written and
never written through a planted link.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from gate.errors import ConfigError, InputError
from gate.files import read_regular_file

KEY_ENV = "EGATE_WATCH_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_KEY_FILE = 4096


def _derive(key: bytes, label: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), KEY_BYTES, salt=b"egate-watch", info=label).derive(key)


def _parse_key(text: str, where: str) -> bytes:
    cleaned = text.strip()
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"watch key from {where}: expected {2 * KEY_BYTES} hex digits")
    return key


@dataclass(frozen=True)
class WatchKey:
    """The derived sub-keys (never printed: ``repr`` hides them)."""

    hmac_key: bytes = field(repr=False)
    aes_key: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, key: bytes) -> WatchKey:
        if len(key) != KEY_BYTES:
            raise ConfigError(f"a watch key has {KEY_BYTES} bytes, got {len(key)}")
        return cls(_derive(key, b"documents"), _derive(key, b"templates"))

    @property
    def check_value(self) -> str:
        """Identifies the key without revealing it (kept in the store)."""
        return hmac.new(self.hmac_key, b"egate watch key check", hashlib.sha256).hexdigest()[:16]

    def document_digest(self, state: str, number: str) -> bytes:
        """HMAC of the issuing state and the document number, normalised (upper case, no
        filler ``<``, no spaces)."""
        clean_state = state.strip().upper().replace("<", "")
        clean_number = number.strip().upper().replace("<", "").replace(" ", "")
        if not clean_state or not clean_number:
            raise InputError("a document entry needs an issuing state and a document number")
        text = f"{clean_state}\x1f{clean_number}".encode()
        return hmac.new(self.hmac_key, text, hashlib.sha256).digest()

    def seal(self, plain: bytes, label: bytes) -> bytes:
        """AES-256-GCM: nonce + ciphertext; ``label`` is bound as associated data."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.aes_key).encrypt(nonce, plain, label)

    def open(self, sealed: bytes, label: bytes, where: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(self.aes_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], label)
        except (InvalidTag, ValueError) as exc:
            raise InputError(f"{where}: damaged or not encrypted with this key") from exc


def new_key_hex() -> str:
    return secrets.token_bytes(KEY_BYTES).hex()


def load_key(key_file: Path | None = None) -> WatchKey:
    """The key from ``key_file`` when given, else from ``EGATE_WATCH_KEY``."""
    if key_file is not None:
        try:
            mode = os.stat(key_file).st_mode
        except OSError:
            mode = 0
        if stat.S_ISREG(mode) and mode & 0o077:
            raise ConfigError(f"watch key file {key_file}: readable by others (chmod 600)")
        data = read_regular_file(key_file, "watch key file", max_bytes=MAX_KEY_FILE)
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"watch key file {key_file}: not hex text") from exc
        return WatchKey.from_bytes(_parse_key(text, str(key_file)))
    from_env = os.environ.get(KEY_ENV)
    if not from_env:
        raise ConfigError(f"no watch key: set {KEY_ENV} (64 hex digits) or give --key-file")
    return WatchKey.from_bytes(_parse_key(from_env, KEY_ENV))


def write_private(path: Path, data: bytes) -> None:
    """``data`` into ``path`` at mode 0600: a fresh temporary file, fsync'd, renamed."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temporary, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        os.replace(temporary, path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_key_file(path: Path) -> None:
    """A fresh key as hex in a new 0600 file (refused when ``path`` exists)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise InputError(f"{path}: exists; a key file is never overwritten") from exc
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w") as stream:
        stream.write(new_key_hex() + "\n")
