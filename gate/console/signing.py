"""The console's signing key: every command it sends a lane is signed, bound and fresh.

``egate console keygen PATH`` writes the private key (PEM, PKCS#8, mode 0600, created so:
never readable by others, not even for a moment) and ``PATH.pub``, the public key a lane is
told to trust (``--trust-console``). A console started with no key file (the in-process
console of ``egate run --console``) makes a key for this run only and hands its public half
to its own lanes. The wire format and what a lane checks are ``gate.lane.command_auth``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gate.errors import ConfigError
from gate.lane import DEFAULT_LIFETIME_S, SIGNED_VERSION, OfficerAction, canonical, key_id
from gate.pem_files import read_pem_bytes


@dataclass(frozen=True)
class ConsoleKey:
    """An Ed25519 key that signs officer commands; ``now`` is the wall clock of the expiry."""

    private: Ed25519PrivateKey = field(repr=False)
    lifetime_s: float = DEFAULT_LIFETIME_S
    now: Callable[[], float] = time.time

    @classmethod
    def generate(cls) -> ConsoleKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, action: OfficerAction, lane: str) -> bytes:
        """The signed command for ``lane`` carrying ``action`` (a fresh nonce, an expiry)."""
        body: dict[str, object] = {
            "v": SIGNED_VERSION,
            "action": action.kind,
            "officer": action.officer,
            "role": action.role,
            "reason": action.reason,
            "subject": action.subject,
            "lane": lane,
            "nonce": secrets.token_urlsafe(18),
            "expires": round(self.now() + self.lifetime_s, 3),
            "key": self.key_id,
        }
        body["sig"] = base64.b64encode(self.private.sign(canonical(body))).decode("ascii")
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def public_pem(self) -> bytes:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def save(self, path: Path) -> Path:
        """Write the key to ``path`` (0600, refused if it exists) and its public half to
        ``path.pub``; returns the public key's path."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise ConfigError(f"console key {path}: already exists (never overwritten)") from exc
        except OSError as exc:
            raise ConfigError(f"console key {path}: cannot create ({exc.strerror})") from exc
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        public = path.with_name(path.name + ".pub")
        public.write_bytes(self.public_pem())
        return public

    @classmethod
    def load(cls, path: Path) -> ConsoleKey:
        """The key in ``path``; refused when others may read the file."""
        data = read_pem_bytes(path, "console key")  # a regular file: never a FIFO
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise ConfigError(f"console key {path}: cannot read ({exc.strerror})") from exc
        if mode & 0o077:
            raise ConfigError(f"console key {path}: readable by others; chmod 600 it")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"console key {path}: not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"console key {path}: not an Ed25519 key")
        return cls(key)
