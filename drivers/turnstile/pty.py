"""A virtual serial line on a real pseudo-terminal, for device emulators.

The emulator holds the master side; the driver opens the slave through a stable symlink
(``link``), so an "unplugged" device can come back on a new pty under the same name, as a
USB adapter re-enumerating would. ptys ignore the baud rate, so ``baud`` makes ``write``
take as long as the bytes would on a real line (10 bit times per byte, 8N1).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import termios
import time
import tty
from pathlib import Path

from drivers.runtime_dir import owned_temp_dir, remove_symlink, replace_symlink
from gate.errors import DeviceGoneError

BITS_PER_BYTE = 10  # start + 8 data + stop


def line_time(n_bytes: int, baud: int | None) -> float:
    """Seconds ``n_bytes`` take on a ``baud`` line (0 when line speed is not emulated)."""
    return n_bytes * BITS_PER_BYTE / baud if baud else 0.0


class PtyLink:
    def __init__(self, link: str | os.PathLike[str] | None = None, baud: int | None = None):
        self._tmpdir: Path | None = None
        if link is None:
            self._tmpdir = owned_temp_dir("egate-pty-")  # removed at the next start if killed
            link = self._tmpdir / "tty"
        self.link = Path(link)
        self._target = ""  # the pty our link points at while plugged
        self.baud = baud
        self._master = -1
        self._slave = -1
        self.plugged = False
        self.plug()

    @property
    def port(self) -> str:
        return str(self.link)

    @property
    def slave_name(self) -> str:
        return os.ttyname(self._slave) if self._slave >= 0 else ""

    def plug(self) -> None:
        """Create a fresh pty and point the link at it."""
        if self.plugged:
            return
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)  # no echo, no line discipline: bytes pass untouched
        # a read must never block the emulator's loop (the fd may change under a select)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        try:
            # Never replaces a file, or a link to anything but a pty, at --link.
            replace_symlink(os.ttyname(slave), self.link)
        except BaseException:
            for fd in (master, slave):
                os.close(fd)
            self._master = self._slave = -1
            raise
        self._target = os.ttyname(slave)
        self.plugged = True

    def unplug(self) -> None:
        """The device vanishes: the link disappears and the driver's open port hangs up."""
        if not self.plugged:
            return
        self.plugged = False
        remove_symlink(self.link, self._target)  # only our own link, still to our pty
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1

    def read(self, timeout: float) -> bytes:
        """Bytes from the driver, b"" when none came within ``timeout``.

        With line-speed emulation the caller also waits for the bytes' transmission time.
        """
        if not self.plugged:
            time.sleep(timeout)
            return b""
        try:
            ready, _, _ = select.select([self._master], [], [], timeout)
            if not ready:
                return b""
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except (OSError, ValueError):
            return b""  # unplugged from another thread, or no client: nothing arrived
        if self.baud:
            time.sleep(line_time(len(data), self.baud))
        return data

    def write(self, data: bytes) -> None:
        """Send to the driver, as slowly as the emulated line would."""
        if not self.plugged:
            raise DeviceGoneError(f"pty {self.link} is unplugged")
        if self.baud:
            time.sleep(line_time(len(data), self.baud))
        view = memoryview(data)
        give_up = time.monotonic() + 0.2
        try:
            while view:  # non-blocking master: write what fits, wait for the rest
                try:
                    view = view[os.write(self._master, view) :]
                except BlockingIOError:
                    if time.monotonic() > give_up:
                        # nobody reads the port: like a UART with no listener, the old bytes
                        # are lost (and a client opening later does not get stale ones)
                        termios.tcflush(self._slave, termios.TCIFLUSH)
                        give_up = time.monotonic() + 0.2
                    select.select([], [self._master], [], 0.05)
        except (OSError, ValueError) as exc:
            raise DeviceGoneError(f"pty {self.link}: {exc}") from exc

    def inject_to_device(self, data: bytes) -> None:
        """Bytes that arrive at the device as if the driver had sent them (line noise)."""
        if self.plugged:
            os.write(self._slave, data)

    def close(self) -> None:
        self.unplug()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
