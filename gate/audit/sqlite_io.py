"""Opening the SQLite file of an audit log: read-only without writing, integrity, and text
that is not UTF-8 kept as a marker instead of stopping the read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gate.audit.rows import Undecodable
from gate.errors import AuditError


def text_or_marker(raw: bytes) -> str | Undecodable:
    """SQLite text as ``str``; text that is not UTF-8 becomes a marker the row check names
    (sqlite3 would otherwise stop the whole read with its bytes in the message)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return Undecodable(len(raw))


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open without writing anything. A log whose WAL was checkpointed (no ``-wal`` file)
    is read as an immutable file: SQLite then makes no ``-wal``/``-shm`` beside it, which
    also works in a folder the auditor cannot write to. A live log (a gate writing to it)
    is read with ``mode=ro``, which sees the rows still in its WAL."""
    uri = path.resolve().as_uri()
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    return sqlite3.connect(f"{uri}?{mode}", uri=True, check_same_thread=False)


def check_integrity(db: sqlite3.Connection, path: Path) -> None:
    integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    if integrity != "ok":
        db.close()
        raise AuditError(f"audit database {path} failed its integrity check: {integrity}")
