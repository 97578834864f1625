"""The console's durable state: open referrals, alarms and every officer's decision attempt,
in SQLite in the console's state folder (``--state``), so a restarted console shows what
was open. Never a photo: the chip photo and the best shot stay in memory (a lane re-sends
them with its retained referrals); never a document number.

The folder is made 0700 and must be owned by this user and not writable by others; the
database file is created 0600 (``O_EXCL | O_NOFOLLOW``) before SQLite opens it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Any

from gate.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
  rid TEXT PRIMARY KEY, site TEXT, lane TEXT, reason TEXT, decision TEXT, at REAL,
  checks TEXT, left INTEGER, claim TEXT, closed INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS alarms (
  aid TEXT PRIMARY KEY, site TEXT, lane TEXT, tid TEXT, detail TEXT, at REAL,
  acknowledged_by TEXT);
CREATE TABLE IF NOT EXISTS attempts (
  n INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, rid TEXT, lane TEXT, officer TEXT,
  role TEXT, decision TEXT, result TEXT);
"""
MAX_KEPT = 2000  # closed referrals and alarms kept for "who decided"; the oldest go


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "egate" / "console"


def _safe_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"console state {folder}: not a folder")
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise ConfigError(
            f"console state {folder}: not ours alone (owner or mode {info.st_mode & 0o777:o})"
        )


def _safe_file(path: Path) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        os.close(os.open(path, flags, 0o600))
    except FileExistsError:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077:
            raise ConfigError(f"console state {path}: not a private file") from None


class Store:
    """Thread-safe (one connection behind a lock); every write is committed at once."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "console.db"
        try:
            _safe_folder(folder)
            _safe_file(self.path)
        except OSError as exc:
            raise ConfigError(f"console state {folder}: {exc.strerror or exc}") from exc
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"console state {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- referrals ----------------------------------------------------------------------------
    def put_referral(self, r: dict[str, Any]) -> None:
        self._run(
            "INSERT OR REPLACE INTO referrals VALUES (?,?,?,?,?,?,?,?,?,0)",
            (r["id"], r["site"], r["lane"], r["reason"], r["decision"], r["at"],
             json.dumps(r["checks"]), int(r["left"]), json.dumps(r.get("claim") or {})),
        )  # fmt: skip

    def update_referral(self, rid: str, left: bool, claim: dict[str, Any] | None) -> None:
        self._run(
            "UPDATE referrals SET left=?, claim=? WHERE rid=?",
            (int(left), json.dumps(claim or {}), rid),
        )

    def close_referral(self, rid: str, claim: dict[str, Any] | None) -> None:
        self._run(
            "UPDATE referrals SET closed=1, claim=? WHERE rid=?", (json.dumps(claim or {}), rid)
        )
        self._run(
            "DELETE FROM referrals WHERE closed=1 AND rid NOT IN "
            "(SELECT rid FROM referrals WHERE closed=1 ORDER BY at DESC LIMIT ?)",
            (MAX_KEPT,),
        )

    def open_referrals(self) -> list[dict[str, Any]]:
        rows = self._run(
            "SELECT rid, site, lane, reason, decision, at, checks, left, claim FROM referrals "
            "WHERE closed=0 ORDER BY at"
        )
        return [
            {"id": r[0], "site": r[1], "lane": r[2], "reason": r[3], "decision": r[4],
             "at": r[5], "checks": json.loads(r[6]), "left": bool(r[7]),
             "claim": json.loads(r[8]) or None}
            for r in rows
        ]  # fmt: skip

    def closed_claim(self, rid: str) -> dict[str, Any] | None:
        rows = self._run("SELECT claim FROM referrals WHERE rid=? AND closed=1", (rid,))
        return (json.loads(rows[0][0]) or None) if rows else None

    # -- alarms -------------------------------------------------------------------------------
    def put_alarm(self, a: dict[str, Any]) -> None:
        self._run(
            "INSERT OR REPLACE INTO alarms VALUES (?,?,?,?,?,?,?)",
            (a["id"], a["site"], a["lane"], a["tid"], a["detail"], a["at"], a["acknowledged_by"]),
        )
        self._run(
            "DELETE FROM alarms WHERE aid NOT IN (SELECT aid FROM alarms ORDER BY at DESC LIMIT ?)",
            (MAX_KEPT,),
        )

    def alarms(self) -> list[dict[str, Any]]:
        rows = self._run(
            "SELECT aid, site, lane, tid, detail, at, acknowledged_by FROM alarms ORDER BY at"
        )
        keys = ("id", "site", "lane", "tid", "detail", "at", "acknowledged_by")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- the officers' attempts ---------------------------------------------------------------
    def attempt(
        self, rid: str, lane: str, officer: str, role: str, decision: str, result: str
    ) -> None:
        self._run(
            "INSERT INTO attempts (at, rid, lane, officer, role, decision, result) "
            "VALUES (?,?,?,?,?,?,?)",
            (time.time(), rid, lane, officer, role, decision, result[:200]),
        )

    def attempts(self, rid: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE rid=?", (rid,)) if rid else ("", ())
        rows = self._run(
            f"SELECT at, rid, lane, officer, role, decision, result FROM attempts {where} "
            "ORDER BY n DESC LIMIT 500",
            args,
        )
        keys = ("at", "rid", "lane", "officer", "role", "decision", "result")
        return [dict(zip(keys, row, strict=True)) for row in rows]
