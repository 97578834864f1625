"""Console accounts, sessions and the login rate limit.

Accounts live in a JSON file (mode 0600, replaced atomically) holding each user's role and
argon2id hash; passwords are read from the terminal or stdin, never from argv. Sessions are
random tokens kept in memory only (a restarted console logs everyone out), each with its own
CSRF token and an idle expiry.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gate.errors import ConfigError, InputError
from gate.json_files import load_json_object
from gate.lane import OFFICER_NAME

if TYPE_CHECKING:
    from argon2 import PasswordHasher

Role = Literal["officer", "supervisor", "auditor"]
ROLES: tuple[Role, ...] = ("officer", "supervisor", "auditor")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
SESSION_IDLE_S = 30 * 60.0
MAX_USERS_FILE_BYTES = 4 * 1024 * 1024  # some thousand accounts


def default_users_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "egate" / "console-users.json"


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@dataclass(frozen=True)
class User:
    name: str
    role: Role


class Users:
    """The accounts, from a file (``load``) or in memory only (a demo's one-off account)."""

    def __init__(self, accounts: dict[str, tuple[Role, str]], path: Path | None = None) -> None:
        self._accounts = accounts
        self.path = path
        self._dummy = _hasher().hash(secrets.token_hex(16))  # equal work for unknown users

    @classmethod
    def load(cls, path: Path) -> Users:
        if not os.path.lexists(path):
            return cls({}, path)
        # A regular file of bounded size, JSON nested a few levels: never a FIFO (which
        # would block the console's start) nor a traceback.
        data = load_json_object(path, "console users file", max_bytes=MAX_USERS_FILE_BYTES)
        try:
            listed = data["users"]
            if not isinstance(listed, dict):
                raise TypeError("'users' is not an object")
            accounts = {
                str(name): (_role(entry["role"]), _hash_text(entry["hash"]))
                for name, entry in listed.items()
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"console users file {path}: unreadable ({exc})") from exc
        return cls(accounts, path)

    def __len__(self) -> int:
        return len(self._accounts)

    def add(self, name: str, role: str, password: str) -> None:
        if not OFFICER_NAME.fullmatch(name):
            raise InputError(f"user name {name[:40]!r}: lower-case letters, digits, . _ - (<=32)")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InputError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        self._accounts[name] = (_role(role), _hasher().hash(password))
        if self.path is not None:
            self._save(self.path)

    def check(self, name: str, password: str) -> User | None:
        from argon2.exceptions import VerificationError, VerifyMismatchError

        entry = self._accounts.get(name)
        hashed = entry[1] if entry is not None else self._dummy
        try:
            _hasher().verify(hashed, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, ValueError):
            return None
        return None if entry is None else User(name, entry[0])

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {"users": {n: {"role": r, "hash": h} for n, (r, h) in self._accounts.items()}}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(body, out, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _hash_text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a hash is {type(value).__name__}, not text")
    return value


def _role(value: object) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise InputError(f"role {str(value)[:20]!r}: one of {', '.join(ROLES)}")


@dataclass
class Session:
    token: str
    user: User
    csrf: str
    expires: float


class Sessions:
    def __init__(self, idle_s: float = SESSION_IDLE_S) -> None:
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, user: User) -> Session:
        session = Session(
            secrets.token_urlsafe(32),
            user,
            secrets.token_urlsafe(32),
            time.monotonic() + self.idle_s,
        )
        with self._lock:
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle expiry renewed); None when unknown or
        expired (an expired one is forgotten)."""
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires <= now:
                del self._sessions[token]
                return None
            session.expires = now + self.idle_s
            return session

    def alive(self, token: str) -> bool:
        """Whether ``token``'s session is still live, without renewing it (an open event
        stream does not keep a session alive by itself)."""
        with self._lock:
            session = self._sessions.get(token)
            return session is not None and session.expires > time.monotonic()

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def expire_all(self) -> None:
        """For tests and a supervisor's "log everyone out"."""
        with self._lock:
            for session in self._sessions.values():
                session.expires = 0.0


class LoginLimiter:
    """Failed logins in ``window_s``: at most ``per_account`` for one account name (from
    anywhere) and ``per_peer`` from one socket peer (a proxy's header counts only when a
    trusted proxy is configured). The peer's limit is the higher one, so one person's typos
    behind a shared address do not lock out everyone there, while guessing one account is
    held to ``per_account`` whatever the addresses."""

    def __init__(self, per_account: int = 5, per_peer: int = 20, window_s: float = 60.0) -> None:
        self.per_account = per_account
        self.per_peer = per_peer
        self.window_s = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _count(self, key: str, now: float) -> int:
        failures = self._failures.get(key)
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return len(failures) if failures else 0

    def blocked(self, peer: str, account: str = "") -> bool:
        now = time.monotonic()
        with self._lock:
            return self._count(f"peer {peer}", now) >= self.per_peer or (
                bool(account) and self._count(f"user {account[:64]}", now) >= self.per_account
            )

    def failed(self, peer: str, account: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"peer {peer}", f"user {account[:64]}" if account else ""):
                if not key:
                    continue
                if len(self._failures) > 10_000:  # a flood of names: forget the oldest
                    self._failures.pop(next(iter(self._failures)))
                self._failures.setdefault(key, deque()).append(now)
