"""The page scanner's output as lines, read from a file descriptor so the lane never blocks
on it: ``poll`` on the descriptor and on a wake-up pipe, so ``close`` (at SIGTERM, at the end
of a run) returns at once even while no line is coming.

How each kind of ``reader.mrz_source`` lives:

- ``stdin``: read until it ends (the scanner's pipe closed); the lane then has no source.
- a FIFO: opened read-write, so the lane is in service before any writer opens it and a
  writer closing it is no end: the next writer's lines are read as they come.
- a regular file: followed as it grows (as ``tail -F`` does); a file replaced or truncated
  by the scanner software is reopened and read from its start. It never ends.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
from pathlib import Path

from gate.errors import ConfigError

MAX_LINE = 256  # an MRZ line is 30 or 44 characters; anything far longer is not one
FILE_POLL_S = 0.2  # how often a regular file at its end is looked at for new lines


class Garbled:
    """A line that was not ASCII text (or not a line at all); ``why`` says what it was."""

    def __init__(self, why: str) -> None:
        self.why = why


class LineInput:
    """Lines from ``path`` (a FIFO or a regular file) or from standard input (``path`` None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._buffer = b""
        self._skipping = False  # inside an overlong line: dropped up to its end
        self._fd = 0
        self._ino = 0
        self._follow = False  # a regular file: wait for it to grow at its end
        self._ended = False
        if path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        try:
            mode = os.stat(self.path).st_mode
            flags = os.O_RDWR if stat.S_ISFIFO(mode) else os.O_RDONLY
            self._fd = os.open(self.path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            why = exc.strerror
            raise ConfigError(f"reader.mrz_source: cannot open {self.path}: {why}") from exc
        self._follow = not stat.S_ISFIFO(mode)
        self._ino = os.fstat(self._fd).st_ino

    def close(self) -> None:
        """Wake the reader (if it waits) and release the descriptors; returns at once."""
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")

    def release(self) -> None:
        """Close the descriptors; only once no thread reads any more."""
        for fd in (self._wake_r, self._wake_w, *((self._fd,) if self.path is not None else ())):
            with contextlib.suppress(OSError):
                os.close(fd)

    def next_line(self) -> str | Garbled | None:
        """The next line (without its end), a ``Garbled`` for one too long to be an MRZ
        line, or None when the input ended or was closed."""
        while True:
            line = self._split()
            if line is not None:
                return line
            if self._ended or self._closed:
                return None
            chunk = self._read()
            if chunk is None:
                return None
            self._buffer += chunk

    def _split(self) -> str | Garbled | None:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    self._buffer = b""
                    if not self._skipping:
                        self._skipping = True
                        return Garbled(f"more than {MAX_LINE} characters")
                return None
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if self._skipping:  # the end of an overlong line already reported
                self._skipping = False
                continue
            if len(raw) > MAX_LINE:
                return Garbled(f"more than {MAX_LINE} characters")
            return raw.decode("ascii", errors="replace").rstrip("\r")

    def _read(self) -> bytes | None:
        """Some bytes, or None once closed or at the end of standard input."""
        while not self._closed:
            ready, _, _ = select.select([self._fd, self._wake_r], [], [], self._wait_s())
            if self._wake_r in ready:
                return None
            if self._fd not in ready:
                self._check_replaced()
                continue
            try:
                chunk = os.read(self._fd, 4096)
            except BlockingIOError:
                continue
            if chunk:
                return chunk
            if not self._follow:  # standard input ended (a FIFO opened read-write never does)
                self._ended = True
                return None
            self._at_end()
        return None

    def _wait_s(self) -> float | None:
        return FILE_POLL_S if self._follow and self.path is not None else None

    def _at_end(self) -> None:
        """A regular file at its end: wait on the wake-up pipe, then look again."""
        ready, _, _ = select.select([self._wake_r], [], [], FILE_POLL_S)
        if not ready:
            self._check_replaced()

    def _check_replaced(self) -> None:
        """A followed file replaced (another inode) or truncated: read the new one."""
        if not self._follow or self.path is None:
            return
        try:
            now = os.stat(self.path)
        except OSError:
            return  # being replaced: the next look finds the new file
        if now.st_ino != self._ino or now.st_size < os.lseek(self._fd, 0, os.SEEK_CUR):
            os.close(self._fd)
            self._open()
            self._buffer = b""
