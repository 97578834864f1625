"""The card side of the vsmartcard ``vpcd`` link: a virtual card on pcscd's virtual reader.

vpcd (loaded by pcscd) listens on TCP 35963 (reader ``Virtual PCD 00 00``) and 35964
(``00 01``); the card connects as a client. Every message is a 2-byte big-endian length and a
payload; 1-byte payloads are control (0 power off, 1 power on, 2 reset, 4 get ATR), anything
else is a command APDU answered by the response APDU.

vpcd serves one card per port (a second connection waits in the listen queue unanswered), so
a port is claimed first: an exclusive ``flock`` on ``vpcd-<port>.lock`` in the private runtime
folder (``drivers.runtime_dir``). ``claim_vpcd_port`` takes the first free port among the
vpcd readers pcscd lists, or says it waits for one; a simulation holds its claim for the
whole run and presents every traveller's card on it. ``TCP_QUICKACK`` is set before every
receive: without it Nagle plus delayed ACKs cost about 44 ms per APDU.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from drivers.runtime_dir import RuntimeLock
from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError, ProtocolError

log = logging.getLogger(__name__)
VPCD_PORT = 35963
VPCD_SLOTS = 2  # vsmartcard's default: readers "Virtual PCD 00 00" and "00 01"
_READER = re.compile(r"Virtual PCD 00 (\d\d)$")
_POLL_S = 0.05  # flock has no timeout: a waiting claim retries this often
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4


class Card(Protocol):
    atr: bytes

    def reset(self) -> bytes: ...

    def transmit(self, command: bytes) -> bytes: ...


def reader_name(port: int) -> str:
    return f"Virtual PCD 00 {port - VPCD_PORT:02d}"


def vpcd_ports() -> tuple[int, ...]:
    """The ports of the vpcd readers pcscd lists (vsmartcard's default two when it lists
    none or cannot be asked)."""
    try:
        from drivers.chip.pcscd import list_readers

        names = list_readers()
    except (ImportError, DeviceError):
        names = []
    ports = sorted(VPCD_PORT + int(m.group(1)) for n in names if (m := _READER.match(n)))
    return tuple(ports) or tuple(VPCD_PORT + slot for slot in range(VPCD_SLOTS))


class VpcdPort:
    """A vpcd port claimed by this process (its lock held) until ``release``."""

    def __init__(self, port: int, lock: RuntimeLock) -> None:
        self.port = port
        self.reader_name = reader_name(port)
        self._lock = lock

    @property
    def held(self) -> bool:
        return self._lock.held

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> VpcdPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_name(port: int) -> str:
    return f"vpcd-{port}.lock"


def claim_vpcd_port(ports: Sequence[int] | None = None, *, timeout: float = 10.0) -> VpcdPort:
    """The first free port of ``ports`` (default: every vpcd reader's); when all are taken,
    says so once in the log and waits up to ``timeout`` s for one."""
    candidates = tuple(ports) if ports else vpcd_ports()
    deadline = time.monotonic() + timeout
    said = False
    while True:
        for port in candidates:
            lock = RuntimeLock(lock_name(port))
            if lock.try_acquire():
                return VpcdPort(port, lock)
        listed = ", ".join(map(str, candidates))
        if time.monotonic() > deadline:
            what = "port" if len(candidates) == 1 else "ports"
            raise DeviceTimeoutError(
                f"vpcd {what} {listed} busy: held by other egate processes for {timeout:g} s"
            )
        if not said:
            log.warning("vpcd port(s) %s in use by other egate processes: waiting", listed)
            said = True
        time.sleep(_POLL_S)


class VpcdCardLink:
    """Presents ``card`` on a vpcd reader from a background thread.

    The port is ``claim``'s (held by the caller, kept after ``stop``), or ``port``, or the
    first free vpcd port, claimed at ``start`` and released at ``stop``; ``reader_name``
    names its reader once started.
    """

    def __init__(
        self,
        card: Card,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        claim: VpcdPort | None = None,
        timeout: float = 10.0,
        sync_with_pcscd: bool = True,
    ) -> None:
        self.card = card
        self.host, self.timeout = host, timeout
        self._wanted = claim.port if claim is not None else port
        self.port = self._wanted or VPCD_PORT
        self.reader_name = reader_name(self.port)
        self.sync_with_pcscd = sync_with_pcscd
        self._given_claim = claim
        self._claim: VpcdPort | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.error: BaseException | None = None
        self.apdus = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> VpcdCardLink:
        self._acquire_port()
        try:
            self._sock = self._connect()
        except BaseException:
            self._release_port()
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
        if was_open or self._claim is not None:
            self._sync(present=False)
        self._release_port()

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
    def _acquire_port(self) -> None:
        if self._given_claim is not None:
            if not self._given_claim.held:
                raise DeviceError(f"vpcd port {self._given_claim.port}: the claim was released")
            self._claim = self._given_claim
        else:
            ports = (self._wanted,) if self._wanted else None
            self._claim = claim_vpcd_port(ports, timeout=self.timeout)
        self.port, self.reader_name = self._claim.port, self._claim.reader_name

    def _release_port(self) -> None:
        claim, self._claim = self._claim, None
        if claim is not None and claim is not self._given_claim:
            claim.release()

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
                try:
                    answer = self._handle(payload)
                except DeviceGoneError:
                    raise
                except Exception as exc:  # a card bug must not hang the reader: 6F00
                    self.error = exc
                    log.error("vpcd link %s: the card failed on an APDU: %r", self.port, exc)
                    answer = b"\x6f\x00"
                if answer is not None and len(answer) > 0xFFFF:
                    self.error = ProtocolError(f"card answer of {len(answer)} bytes")
                    answer = b"\x6f\x00"
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
