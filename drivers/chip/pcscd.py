"""Start (or reuse) the PC/SC daemon with the vsmartcard ``vpcd`` virtual readers.

On a shared machine several people may need pcscd. ``ensure_pcscd`` reuses a running daemon
that already lists the vpcd readers; otherwise it starts ``pcscd -f`` (no systemd here) and
stops it on exit. Only the daemon this process started is ever stopped, and only when no other
process is using it: every user holds a shared ``flock`` on ``/tmp/egate-pcscd.lock``; the
starter stops the daemon only if it then gets the lock exclusively, else it leaves it running
for the others (the next ``ensure_pcscd`` reuses it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gate.errors import DeviceError, DeviceTimeoutError

log = logging.getLogger(__name__)
VPCD_READER = "Virtual PCD"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
USERS_LOCK = "/tmp/egate-pcscd.lock"


@dataclass(frozen=True)
class PcscdStatus:
    readers: tuple[str, ...]
    started_here: bool
    pid: int | None


def list_readers() -> list[str]:
    """PC/SC reader names, or an empty list when no daemon answers."""
    try:
        from smartcard import scard
    except ImportError as exc:
        raise DeviceError("pyscard is not installed (pip install 'egate[pcsc]')") from exc
    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if result != scard.SCARD_S_SUCCESS:
        return []
    try:
        result, readers = scard.SCardListReaders(context, [])
        return list(readers) if result == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(context)


def pcscd_available() -> str | None:
    """Why the PC/SC + vpcd path cannot run here, or None when it can."""
    try:
        import smartcard  # noqa: F401
    except ImportError:
        return "pyscard is not installed"
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return "pcscd is not installed (Debian package pcscd)"
    if not VPCD_DRIVER.exists():
        return "the vpcd driver is not installed (Debian package vsmartcard-vpcd)"
    return None


def _vpcd_readers() -> tuple[str, ...]:
    return tuple(r for r in list_readers() if r.startswith(VPCD_READER))


@contextmanager
def ensure_pcscd(timeout: float = 5.0) -> Iterator[PcscdStatus]:
    """A pcscd that lists the vpcd readers for the duration of the block."""
    users = os.open(USERS_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(users, fcntl.LOCK_SH)
        with _running_pcscd(timeout, users) as status:
            yield status
    finally:
        os.close(users)  # releases the lock


@contextmanager
def _running_pcscd(timeout: float, users: int) -> Iterator[PcscdStatus]:
    readers = _vpcd_readers()
    if readers:
        log.debug("reusing the running pcscd: %s", readers)
        yield PcscdStatus(readers, False, None)
        return
    problem = pcscd_available()
    if problem:
        raise DeviceError(f"cannot start pcscd: {problem}")
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    process = subprocess.Popen(
        [binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout
        while not readers:
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"pcscd started but listed no vpcd reader in {timeout} s")
            time.sleep(0.02)
            readers = _vpcd_readers()
            if process.poll() is not None and not readers:
                # Someone else's pcscd won the race for the socket: wait for theirs.
                log.debug("our pcscd exited (%s); waiting for another one", process.returncode)
        started_here = process.poll() is None
        yield PcscdStatus(readers, started_here, process.pid if started_here else None)
    finally:
        if process.poll() is None:
            fcntl.flock(users, fcntl.LOCK_UN)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info(
                    "pcscd (pid %d) still in use by another process: left running", process.pid
                )
            else:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_for_reader(reader: str, *, present: bool, timeout: float = 3.0) -> bool:
    """Wait until pcscd reports a card present (or absent) on ``reader``; False on timeout.

    pcscd polls vpcd about every 400 ms, so a card link that just came or went is seen late;
    waiting here keeps a quick remove/insert from reaching a stale card handle.
    """
    from smartcard import scard

    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if result != scard.SCARD_S_SUCCESS:
        return False
    try:
        deadline = time.monotonic() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while (remaining := deadline - time.monotonic()) > 0:
            result, states = scard.SCardGetStatusChange(
                context, int(remaining * 1000) + 1, [(reader, state)]
            )
            if result != scard.SCARD_S_SUCCESS:
                return False
            event = states[0][1]
            if bool(event & scard.SCARD_STATE_PRESENT) == present:
                return True
            state = event & ~scard.SCARD_STATE_CHANGED
        return False
    finally:
        scard.SCardReleaseContext(context)
