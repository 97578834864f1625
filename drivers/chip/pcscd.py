"""Start (or reuse) the PC/SC daemon with the vsmartcard ``vpcd`` virtual readers.

On a shared machine several processes may need pcscd. ``PcscDaemon`` reuses a running daemon
that already lists the vpcd readers; otherwise it starts ``pcscd --foreground`` (no systemd
here). ``PcscDaemon.ensure`` is called again when the daemon may have died: one it started is
restarted, someone else's is waited for (then started here if it does not come back). Only
the daemon this process started is ever stopped, and only when no other egate process of
this user is using it: each holds a shared ``flock`` on ``pcscd.lock`` in the private runtime
folder (``drivers.runtime_dir``); the starter stops the daemon only if it then gets the lock
exclusively, else it leaves it running for the others (the next ``ensure_pcscd`` reuses it).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from drivers.runtime_dir import RuntimeLock
from gate.errors import DeviceError, DeviceTimeoutError

log = logging.getLogger(__name__)
VPCD_READER = "Virtual PCD"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
USERS_LOCK = "pcscd.lock"  # in the private runtime folder


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


class PcscDaemon:
    """The pcscd with the vpcd readers this process uses; ``start``, ``ensure``, ``close``."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._users = RuntimeLock(USERS_LOCK)
        self._process: subprocess.Popen[bytes] | None = None
        self._reused = False  # the daemon in use is someone else's
        self.restarts = 0  # daemons started here after the first one went away

    @property
    def pid(self) -> int | None:
        """The pid of the pcscd this object started, while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> PcscdStatus:
        self._users.acquire(shared=True, timeout=self.timeout, what="the pcscd users' lock")
        try:
            return self.ensure()
        except BaseException:
            self.close()
            raise

    def ensure(self) -> PcscdStatus:
        """A daemon listing the vpcd readers: the running one, or one (re)started here."""
        readers = _vpcd_readers()
        if readers:
            self._reused = self._process is None
            return PcscdStatus(readers, self._process is not None, self.pid)
        process = self._process
        if process is not None:
            if process.poll() is None and _waited_for_readers(self.timeout):
                return self.ensure()  # ours is alive and only slow to list the readers
            how = "stopped listing the readers" if process.poll() is None else "died"
            log.warning("pcscd (pid %d) %s: restarting it", process.pid, how)
            _terminate(process)
            self._process = None
            self.restarts += 1
        elif self._reused:
            # Someone else's daemon was in use: give its owner time to bring it back.
            log.warning("pcscd is gone: waiting up to %g s for it, then starting one", self.timeout)
            if _waited_for_readers(self.timeout):
                return self.ensure()
            self.restarts += 1
        return self._start_process()

    def close(self) -> None:
        """Stop the daemon started here unless other egate processes still use it."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                if self._users.try_exclusive():
                    _terminate(process)
                else:
                    log.info("pcscd (pid %d) still in use by another process: left running",
                             process.pid)  # fmt: skip
        finally:
            self._users.release()

    def _start_process(self) -> PcscdStatus:
        problem = pcscd_available()
        if problem:
            raise DeviceError(f"cannot start pcscd: {problem}")
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        # Its own session: a Ctrl-C at the terminal must not stop a daemon others may share.
        process = subprocess.Popen(
            [binary, "--foreground"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.timeout
        readers = _vpcd_readers()
        while not readers:
            if time.monotonic() > deadline:
                _terminate(process)
                raise DeviceTimeoutError(
                    f"pcscd started but listed no vpcd reader in {self.timeout} s"
                )
            time.sleep(0.02)
            readers = _vpcd_readers()
            if process.poll() is not None and not readers:
                # Someone else's pcscd won the race for the socket: wait for theirs.
                log.debug("our pcscd exited (%s); waiting for another one", process.returncode)
        started_here = process.poll() is None
        self._process = process if started_here else None
        self._reused = not started_here
        return PcscdStatus(readers, started_here, process.pid if started_here else None)


def _waited_for_readers(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _vpcd_readers():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def ensure_pcscd(timeout: float = 5.0) -> Iterator[PcscdStatus]:
    """A pcscd that lists the vpcd readers for the duration of the block."""
    daemon = PcscDaemon(timeout)
    status = daemon.start()
    try:
        yield status
    finally:
        daemon.close()


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


def pcscd_sockets(pid: int) -> int:
    """How many sockets process ``pid`` holds to pcscd: one per open PC/SC context (its
    socket inodes in ``/proc/PID/fd`` whose peer is a connection pcscd accepted on its
    socket, as ``ss -x`` lists them). A leak of contexts shows up here first."""
    own: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            own.add(target[len("socket:[") : -1])
    listing = subprocess.run(["ss", "-x", "-a"], capture_output=True, text=True, check=True)
    clients = set()
    for line in listing.stdout.splitlines():
        fields = line.split()
        # u_str ESTAB 0 0 /run/pcscd/pcscd.comm <daemon's inode> * <client's inode>
        if len(fields) >= 8 and fields[4].endswith("pcscd.comm") and fields[7] != "0":
            clients.add(fields[7])
    return len(own & clients)
