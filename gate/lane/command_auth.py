"""Officer commands that a lane may believe: signed, bound to one lane and one referral, fresh.

A command travels as JSON (``SIGNED_VERSION``)::

    {"v": 2, "action", "officer", "role", "reason", "subject", "lane", "nonce",
     "expires", "key", "sig"}

``sig`` is an Ed25519 signature (base64) over the canonical JSON of every other field
(sorted keys, no spaces); ``key`` names the console key (the first 16 hex digits of the
SHA-256 of its raw public key). The lane believes a command only when

- it is signed by a console key the lane trusts (``ConsoleTrust``),
- it names this lane (a command for another lane is not replayable here),
- it has not expired, and does not claim to live longer than ``MAX_LIFETIME_S``,
- its nonce was never seen before (nonces are remembered until their command expires).

What the command may then do is the lane's state machine's call (``gate.lane.officer``):
whether the referral is still open and its traveller still in the lane, and which role may
override which outcome. A refusal is a ``CommandRefused`` naming why; it never holds a key.
This module only verifies: the console's side (keys, signing) is ``gate.console.signing``,
which uses ``canonical`` and ``key_id`` from here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gate.errors import ConfigError, InputError
from gate.pem_files import load_public_key

SIGNED_VERSION = 2
MAX_LIFETIME_S = 60.0  # a command may claim at most this long a life: bounds the nonce memory
DEFAULT_LIFETIME_S = 30.0
MAX_NONCES = 10_000  # more live nonces than this: refuse (a flood), never forget early
MAX_COMMAND = 4096
FIELDS = ("action", "officer", "role", "reason", "subject", "lane", "nonce", "key")
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEY_ID = re.compile(r"[0-9a-f]{16}")


class CommandRefused(InputError):
    """A command the lane does not believe; ``claimed`` is what it said (for the audit log,
    checked to be printable and short), ``str()`` why it was refused."""

    def __init__(self, why: str, claimed: Mapping[str, str] | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.claimed: dict[str, str] = dict(claimed or {})


@dataclass(frozen=True)
class VerifiedCommand:
    """A command whose signature, lane, nonce and expiry were checked."""

    action: str
    officer: str
    role: str
    reason: str
    subject: str
    lane: str
    key: str


def canonical(body: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: every field but ``sig``, sorted, compact JSON."""
    fields = {k: v for k, v in body.items() if k != "sig"}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_keys(path: Path) -> list[Ed25519PublicKey]:
    """The console public keys in a PEM file, or in every ``*.pub`` file of a folder."""
    files = sorted(path.glob("*.pub")) if path.is_dir() else [path]
    keys: list[Ed25519PublicKey] = []
    for file in files:
        key = load_public_key(file, "console key")  # a regular file, bounded: never a FIFO
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"console key {file}: not an Ed25519 public key")
        keys.append(key)
    if not keys:
        raise ConfigError(f"console keys {path}: no *.pub file in the folder")
    return keys


@dataclass
class ConsoleTrust:
    """The console keys a lane believes, and the nonces it has seen (until they expire).
    ``now`` is the wall clock the expiry is read against (injectable for tests); it is the
    real time by default because the console signs with the real time, even when the lane
    runs on a faster simulated clock."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    now: Callable[[], float] = time.time
    _seen: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(
        cls, keys: Iterable[Ed25519PublicKey], now: Callable[[], float] = time.time
    ) -> ConsoleTrust:
        return cls({key_id(k): k for k in keys}, now)

    def verify(self, payload: bytes, lane: str) -> VerifiedCommand:
        """The command in ``payload`` for ``lane``, believed; raises ``CommandRefused``."""
        body = _body(payload)
        claimed = {k: _printable(body.get(k)) for k in ("action", "officer", "role", "subject")}
        if body.get("v") != SIGNED_VERSION or "sig" not in body:
            raise CommandRefused("not a signed command (no v=2 signature)", claimed)
        texts = {k: body.get(k) for k in FIELDS}
        if not all(isinstance(v, str) for v in texts.values()):
            raise CommandRefused(f"a signed command needs the strings {', '.join(FIELDS)}", claimed)
        expires = body.get("expires")
        if not isinstance(expires, (int, float)) or isinstance(expires, bool):
            raise CommandRefused("a signed command needs a numeric 'expires'", claimed)
        public = self.keys.get(str(texts["key"]))
        if not self.keys:
            raise CommandRefused("this lane trusts no console key", claimed)
        if public is None:
            raise CommandRefused("signed by a key this lane does not trust", claimed)
        try:
            signature = base64.b64decode(str(body["sig"]), validate=True)
            public.verify(signature, canonical(body))
        except (InvalidSignature, binascii.Error, ValueError, TypeError):
            raise CommandRefused("the signature does not verify", claimed) from None
        command = VerifiedCommand(**{k: str(texts[k]) for k in FIELDS if k != "nonce"})
        if command.lane != lane:
            raise CommandRefused(f"signed for lane {command.lane[:32]!r}, not this lane", claimed)
        self._fresh(str(texts["nonce"]), float(expires), claimed)
        return command

    def _fresh(self, nonce: str, expires: float, claimed: Mapping[str, str]) -> None:
        now = self.now()
        if not NONCE.fullmatch(nonce):
            raise CommandRefused("the nonce is not 16-64 letters or digits", claimed)
        if expires <= now:
            raise CommandRefused(f"expired {now - expires:.0f} s ago", claimed)
        if expires - now > MAX_LIFETIME_S:
            raise CommandRefused(f"claims to live over {MAX_LIFETIME_S:.0f} s", claimed)
        with self._lock:
            for old in [n for n, until in self._seen.items() if until <= now]:
                del self._seen[old]
            if nonce in self._seen:
                raise CommandRefused("a replay: this nonce was used before", claimed)
            if len(self._seen) >= MAX_NONCES:
                raise CommandRefused("too many commands in flight; try again", claimed)
            self._seen[nonce] = expires


def _body(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_COMMAND:
        raise CommandRefused(f"a command of {len(payload)} bytes (at most {MAX_COMMAND})")
    try:
        body = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CommandRefused("not JSON") from None
    if not isinstance(body, dict):
        raise CommandRefused("not a JSON object")
    return body


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _printable(value: Any) -> str:
    """A claimed field, fit for an audit row: short, printable, else empty."""
    if not isinstance(value, str):
        return ""
    text = value[:64]
    return text if text.isprintable() else ""
