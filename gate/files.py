"""Reading a file the user named, safely: only a regular file, of bounded size.

Opening a FIFO blocks until a writer comes and a device can stream for ever, so a path is
checked with ``stat`` before it is opened, and again on the open file. Every refusal is one
``GateError`` line naming the file and what it was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from gate.errors import ConfigError, GateError


def kind_of(mode: int) -> str:
    """What a path is, in words, from its ``st_mode`` (for refusals)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular_file(
    path: Path, what: str, *, max_bytes: int, error: type[GateError] = ConfigError
) -> tuple[BinaryIO, int]:
    """``path`` opened for reading and its size, refused with ``error`` naming ``what`` and
    the file when it is missing, a directory, a FIFO, a device or larger than ``max_bytes``.

    The path is checked with ``stat`` before it is opened, because opening a FIFO blocks
    until a writer comes; it is opened non-blocking and checked again on the open file, in
    case the path was swapped in between.
    """
    prefix = f"cannot read {what} {path}"
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            stream = os.fdopen(fd, "rb")
            info = os.fstat(stream.fileno())
    except FileNotFoundError as exc:
        raise error(f"{prefix}: no such file") from exc
    except OSError as exc:
        raise error(f"{prefix}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL byte in the path
        raise error(f"{prefix}: not a valid path ({exc})") from exc
    if not stat.S_ISREG(mode):
        raise error(f"{prefix}: it is {kind_of(mode)}, not a regular file")
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        stream.close()
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{prefix}: it is {kind_of(info.st_mode)}, not a regular file")
        raise error(f"{prefix}: {info.st_size} bytes, over the {max_bytes}-byte limit")
    return stream, info.st_size


def read_regular_file(
    path: Path, what: str, *, max_bytes: int, error: type[GateError] = ConfigError
) -> bytes:
    """The bytes of ``path``, refused like ``open_regular_file`` refuses it."""
    stream, _ = open_regular_file(path, what, max_bytes=max_bytes, error=error)
    with stream:
        try:
            data = stream.read(max_bytes + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew while being read
        raise error(f"cannot read {what} {path}: over the {max_bytes}-byte limit")
    return data
