"""The recording folder on disk: created 0700, files 0600, nothing followed through a link.

Every file is created relative to an open folder descriptor with ``O_EXCL | O_NOFOLLOW``, so a
symbolic link or a file planted in the folder is never written through nor overwritten; a
manifest appears whole or not at all (written beside, then linked to its name). Old
transactions are deleted by the date in their folder's name (the retention limit).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import stat
import time
from pathlib import Path

from gate.errors import InputError

FORMAT = "egate-recording"
FORMAT_VERSION = 1
MANIFEST = "recording.json"  # the folder's: format and version
TRANSACTION_FILE = "transaction.json"  # each transaction's: what happened, what files
# A transaction's folder: its start (UTC) and the first 12 hex digits of its id.
TRANSACTION_NAME = re.compile(r"\A(\d{8}T\d{6}Z)-([0-9a-f]{12})\Z")
FRAME_NAME = re.compile(r"\Aframes/\d{6}\.png\Z")
CHIP_NAME = re.compile(r"\Achip/(EF\.COM|EF\.SOD|DG\d{1,2})\.bin\Z")
MAX_RETENTION_DAYS = 3650

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def shown(path: Path | str) -> str:
    """A path as text that can always be printed (a name that is not UTF-8 escaped)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def transaction_name(wall: float, transaction_id: str) -> str:
    stamp = dt.datetime.fromtimestamp(wall, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    digits = re.sub(r"[^0-9a-f]", "", transaction_id.lower())[:12].ljust(12, "0")
    return f"{stamp}-{digits}"


def started_of(name: str) -> float | None:
    """The Unix time in a transaction folder's name, or None for another name."""
    match = TRANSACTION_NAME.match(name)
    if match is None:
        return None
    try:
        when = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    return when.replace(tzinfo=dt.timezone.utc).timestamp()


def open_folder(path: Path) -> int:
    """The recording folder, made 0700 when missing; refused (one line) when it is a link,
    not a folder, someone else's, or open to others."""
    where = shown(path)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(f"cannot create the recording folder {where}: {exc.strerror}") from exc
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        what = "a symbolic link" if os.path.islink(path) else (exc.strerror or str(exc))
        raise InputError(f"cannot use the recording folder {where}: {what}") from exc
    info = os.fstat(fd)
    problem = ""
    if info.st_uid != os.geteuid():
        problem = "it belongs to another user"
    elif info.st_mode & 0o077:
        problem = f"it is open to others (mode {info.st_mode & 0o777:o}; chmod 700 it)"
    if problem:
        os.close(fd)
        raise InputError(f"cannot use the recording folder {where}: {problem}")
    return fd


def make_folder(parent: int, name: str) -> int:
    """A new folder ``name`` (0700) in ``parent``, opened."""
    os.mkdir(name, 0o700, dir_fd=parent)
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


def write_new(folder: int, name: str, data: bytes) -> None:
    """A new file (0600); never through a link, never over an existing file."""
    fd = os.open(name, _NEW_FILE, 0o600, dir_fd=folder)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def publish(folder: int, name: str, data: bytes) -> bool:
    """``name`` with ``data``, appearing whole: False when ``name`` already exists."""
    temporary = f".{name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    write_new(folder, temporary, data)
    try:
        os.link(temporary, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary, dir_fd=folder)


def read_small(folder: int, name: str, limit: int) -> bytes:
    """A regular file of at most ``limit`` bytes in ``folder``, not through a link."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise OSError(f"{name}: not a regular file of at most {limit} bytes")
        return os.read(fd, limit + 1)[:limit]
    finally:
        os.close(fd)


def prune(folder: int, days: int, now: float | None = None) -> int:
    """Delete the transactions started more than ``days`` days ago; how many went."""
    cutoff = (time.time() if now is None else now) - days * 86400.0
    removed = 0
    for name in os.listdir(folder):
        started = started_of(name) if isinstance(name, str) else None
        if started is None or started >= cutoff:
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
                os.unlink(name, dir_fd=folder)
            else:
                shutil.rmtree(name, dir_fd=folder)
            removed += 1
    return removed
