"""SQLite files a user names (an audit log), checked before SQLite opens them.

``sqlite3.connect`` on a FIFO blocks, on a folder fails late, and on another program's
database happily adds egate's tables to it. ``check_database_file`` looks first: a missing
or empty file is a new database; an existing one must be a regular file that starts with
SQLite's header and whose tables are all egate's own. Every refusal is one line naming the
file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Collection
from pathlib import Path

from gate.errors import ConfigError, GateError
from gate.files import kind_of, open_regular_file

SQLITE_HEADER = b"SQLite format 3\x00"


def _tables(path: Path) -> set[str]:
    uri = path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        db.close()
    return {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}


def check_database_file(
    path: Path,
    what: str,
    own_tables: Collection[str],
    *,
    error: type[GateError] = ConfigError,
) -> bool:
    """True when ``path`` holds a database of ``own_tables`` (all of its tables are among
    them), False when it is missing or empty (a new one); otherwise ``error``."""
    prefix = f"{what} {path}"
    try:
        mode = os.lstat(path).st_mode if not os.path.exists(path) else os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise error(f"{prefix}: cannot be used ({exc})") from exc
    if stat.S_ISLNK(mode):  # a dangling link: SQLite would create its target
        raise error(f"{prefix}: a link to nothing")
    if not stat.S_ISREG(mode):
        raise error(f"{prefix}: it is {kind_of(mode)}, not a database file")
    stream, size = open_regular_file(path, what, max_bytes=1 << 62, error=error)
    with stream:
        header = stream.read(len(SQLITE_HEADER))
    if size == 0:
        return False
    if header != SQLITE_HEADER:
        raise error(f"{prefix}: not an SQLite database (refusing to write into it)")
    try:
        tables = _tables(Path(path))
    except sqlite3.Error as exc:
        raise error(f"{prefix}: not a usable SQLite database ({exc})") from exc
    foreign = sorted(tables - set(own_tables))
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise error(f"{prefix}: another program's database (tables {shown}); not touched")
    return bool(tables)
