"""The card side of the vsmartcard ``vpcd`` link: a virtual card on pcscd's virtual reader.

vpcd (loaded by pcscd) listens on TCP 35963 (reader ``Virtual PCD 00 00``) and 35964
(``00 01``); the card connects as a client. Every message is a 2-byte big-endian length and a
payload; 1-byte payloads are control (0 power off, 1 power on, 2 reset, 4 get ATR), anything
else is a command APDU answered by the response APDU.

Two processes cannot present a card on the same port, so the link holds an exclusive
``flock`` on ``/tmp/egate-vpcd-<port>.lock`` while it runs: tests and simulations that use
vpcd serialise on it. ``TCP_QUICKACK`` is set before every receive: without it Nagle plus
delayed ACKs cost about 44 ms per APDU.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import struct
import threading
import time
from typing import Protocol

from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError

log = logging.getLogger(__name__)
VPCD_PORT = 35963
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4


class Card(Protocol):
    atr: bytes

    def reset(self) -> bytes: ...

    def transmit(self, command: bytes) -> bytes: ...


def reader_name(port: int) -> str:
    return f"Virtual PCD 00 {port - VPCD_PORT:02d}"


class VpcdCardLink:
    """Presents ``card`` on the vpcd reader of ``port`` from a background thread."""

    def __init__(
        self,
        card: Card,
        *,
        host: str = "127.0.0.1",
        port: int = VPCD_PORT,
        timeout: float = 10.0,
        lock_path: str | None = None,
        sync_with_pcscd: bool = True,
    ) -> None:
        self.card = card
        self.host, self.port, self.timeout = host, port, timeout
        self.lock_path = lock_path or f"/tmp/egate-vpcd-{port}.lock"
        self.reader_name = reader_name(port)
        self.sync_with_pcscd = sync_with_pcscd
        self._sock: socket.socket | None = None
        self._lock_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.error: BaseException | None = None
        self.apdus = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> VpcdCardLink:
        self._acquire_lock()
        try:
            self._sock = self._connect()
        except BaseException:
            self._release_lock()
            raise
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=f"vpcd-{self.port}", daemon=True)
        self._thread.start()
        self._sync(present=True)
        return self

    def _sync(self, *, present: bool) -> None:
        """Wait for pcscd to notice the card coming or going (it polls vpcd)."""
        if not self.sync_with_pcscd:
            return
        try:
            from drivers.chip.pcscd import wait_for_reader

            if not wait_for_reader(self.reader_name, present=present, timeout=self.timeout):
                log.debug("pcscd did not report %s card on %s", present, self.reader_name)
        except ImportError:
            pass

    def stop(self) -> None:
        self._stopping.set()
        was_open = self._sock is not None
        self._close_socket()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if was_open or self._lock_fd is not None:
            self._sync(present=False)
        self._release_lock()

    def swap_card(self, card: Card) -> None:
        """Put another card in the field without a removal pcscd would notice.

        A real removal costs pcscd's polling period (about 0.4 s) twice; simulations that
        present many passports in a row swap instead. The new card starts unpowered-fresh
        (no application selected, no session), as the reader's SELECT and BAC expect.
        """
        card.reset()
        self.card = card

    def remove_card(self) -> None:
        """Pull the card out of the field: the reader sees "card removed"."""
        self._close_socket()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> VpcdCardLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise DeviceTimeoutError(
                        f"vpcd port {self.port} busy: another process holds {self.lock_path}"
                    ) from None
                time.sleep(0.05)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise DeviceError(
                        f"vpcd at {self.host}:{self.port} refused the card (is pcscd running "
                        f"with vsmartcard-vpcd?): {exc}"
                    ) from exc
                time.sleep(0.05)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            if hasattr(socket, "TCP_QUICKACK"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            part = sock.recv(size - len(data))
            if not part:
                raise DeviceGoneError("vpcd closed the link")
            data += part
        return data

    def _serve(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            while not self._stopping.is_set():
                (length,) = struct.unpack(">H", self._recv_exact(sock, 2))
                payload = self._recv_exact(sock, length)
                answer = self._handle(payload)
                if answer is not None:
                    sock.sendall(struct.pack(">H", len(answer)) + answer)
        except DeviceGoneError as exc:
            if not self._stopping.is_set():
                log.info("vpcd link %s ended: %s", self.port, exc)
        except OSError as exc:
            if not self._stopping.is_set():
                self.error = exc
                log.warning("vpcd link %s failed: %s", self.port, exc)
        finally:
            self._close_socket()

    def _handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            control = payload[0]
            if control in (_POWER_ON, _RESET):
                self.card.reset()
            elif control == _GET_ATR:
                return self.card.atr
            return None
        self.apdus += 1
        # DeviceGoneError from the card (fault "removed") ends the link: vpcd sees no card.
        return self.card.transmit(payload)
