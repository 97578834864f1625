"""What every serial turnstile driver shares: opening any pyserial URL, translating its
exceptions, reconnecting with backoff in a service thread, the link's up/down state and the
event queue."""

from __future__ import annotations

import contextlib
import enum
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import serial
from serial.urlhandler import protocol_socket

try:  # pyserial's posix port lets termios.error (not an OSError) out of flush() on a hang-up
    from termios import error as _TermiosError

    _PORT_ERRORS: tuple[type[BaseException], ...] = (_TermiosError,)
except ImportError:  # no termios (not POSIX): pyserial raises SerialException there
    _PORT_ERRORS = ()

from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError, GateError
from gate.turnstile import Door, DoorState, EventKind, TurnstileEvent, TurnstileStatus

log = logging.getLogger(__name__)

SerialFactory = Callable[[], Any]  # returns an open pyserial-like port


def serial_factory(url: str, baudrate: int, timeout: float = 0.05) -> SerialFactory:
    """Opens ``url`` with ``serial.serial_for_url`` (any pyserial URL works)."""

    def open_port() -> Any:
        try:
            if url.startswith("socket://"):
                port = _SocketPort(
                    None, baudrate=baudrate, timeout=timeout, write_timeout=1.0, exclusive=True
                )
                port.port = url  # as serial_for_url does: set the URL, then open
                port.open()
                return port
            return serial.serial_for_url(
                url, baudrate=baudrate, timeout=timeout, write_timeout=1.0, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceGoneError(f"cannot open serial port {url!r}: {exc}") from exc

    return open_port


class _SocketPort(protocol_socket.Serial):  # type: ignore[misc]  # pyserial is untyped
    """pyserial's ``socket://`` port, closed without the 0.3 s its ``close`` sleeps "in case
    of quick reconnects" (the link reopens only after its backoff anyway): a driver closing
    or losing a TCP link does not hold its thread for it."""

    is_open: bool  # pyserial's own attributes
    _socket: socket.socket | None

    def close(self) -> None:
        if not self.is_open:
            return
        sock, self._socket = self._socket, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.is_open = False


class Backoff:
    """Delays between reconnection attempts: ``first``, doubling up to ``cap``; back to
    ``first`` once the device worked again (``reset``)."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first = first
        self.cap = max(first, cap)
        self._next = first

    def next(self) -> float:
        """The delay to wait now; the one after is twice as long (up to the cap)."""
        delay = self._next
        self._next = min(self.cap, delay * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first


class LinkState(enum.Enum):
    NEVER = "never"  # not yet set up since the driver started
    UP = "up"  # set up, and the device answers
    DOWN = "down"  # was up, then the port vanished or the device stopped answering


class SerialDriver:
    """Base: a service thread keeps the port open (reconnecting with exponential backoff)
    and calls ``_service`` while it is open; subclasses put protocol work there.

    The link is *up* once a subclass has put the doors in the safe state on a fresh port
    (``_mark_up``) and *down* when the port vanished or the device stopped answering
    (``_mark_down``). Each change is logged once and queued as an event (DEVICE_FAULT,
    RECONNECTED); the attempts in between are logged at DEBUG only.
    """

    name = "turnstile"

    def __init__(
        self,
        factory: SerialFactory,
        *,
        url: str = "",
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self._factory = factory
        self._url = url
        self._backoff = Backoff(backoff, max_backoff)
        self._events: queue.Queue[TurnstileEvent] = queue.Queue()
        self._port: Any = None
        self._write_lock = threading.Lock()
        self._lost_lock = threading.Lock()
        self._link_lock = threading.Lock()
        self._state = LinkState.NEVER
        self._down_since = 0.0
        self._down_reason = ""
        self._port_open = threading.Event()
        self._closing = threading.Event()
        self._ever_opened = False
        self._last_exc: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"egate-{self.name}", daemon=True)
        self._thread.start()
        if not self._port_open.wait(connect_timeout):
            self.close()
            raise DeviceGoneError(
                f"{self.name}: cannot open {url or 'the port'} within {connect_timeout:.1f} s"
                + (f" ({self._last_error})" if self._last_error else "")
            )

    @property
    def _last_error(self) -> str:
        return str(self._last_exc) if self._last_exc is not None else ""

    # ---- events ------------------------------------------------------------------------
    def emit(
        self, kind: EventKind, door: Door | None = None, detail: str = "", assumed: bool = False
    ) -> None:
        self._events.put(TurnstileEvent(kind, time.monotonic(), door, detail, assumed))

    def next_event(self, timeout: float) -> TurnstileEvent | None:
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    # ---- the link's state ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """The device answered its set-up and has not been lost since."""
        return self._state is LinkState.UP

    @property
    def port_open(self) -> bool:
        return self._port_open.is_set()

    def _mark_up(self, detail: str, assumed: bool = False) -> None:
        """The doors are in the safe state on a working link. After a loss: one line in the
        log and a RECONNECTED event."""
        with self._link_lock:
            was, self._state = self._state, LinkState.UP
            self._backoff.reset()
        if was is LinkState.DOWN:
            log.warning(
                "%s: %s is back after %.1f s: %s",
                self.name,
                self._url or "the device",
                time.monotonic() - self._down_since,
                detail,
            )
            self.emit(EventKind.RECONNECTED, detail=detail, assumed=assumed)

    def _mark_down(self, reason: str) -> bool:
        """The link failed: one line in the log and a DEVICE_FAULT event, the first time
        only (False when it was not up)."""
        with self._link_lock:
            if self._state is not LinkState.UP:
                return False
            self._state = LinkState.DOWN
            self._down_since = time.monotonic()
            self._down_reason = reason
        log.warning(
            "%s: lost %s: %s (retrying every %.2f..%.1f s)",
            self.name,
            self._url or "the device",
            reason,
            self._backoff.first,
            self._backoff.cap,
        )
        self.emit(EventKind.DEVICE_FAULT, detail=reason)
        return True

    def _down_status(self, assumed: bool = False) -> TurnstileStatus:
        """What ``status`` says while the link is down: nothing is known of the doors."""
        reason = self._down_reason or self._last_error or "not connected"
        return TurnstileStatus(
            DoorState.UNKNOWN, DoorState.UNKNOWN, assumed=assumed, connected=False, fault=reason
        )

    def _retry_later(self) -> None:
        """Wait before the next attempt to bring the link up (exponential backoff)."""
        self._closing.wait(self._backoff.next())

    # ---- the port ----------------------------------------------------------------------
    def _require_port(self) -> Any:
        port = self._port
        if port is None or not self._port_open.is_set():
            raise DeviceGoneError(f"{self.name}: {self._url or 'port'} is disconnected")
        return port

    def write(self, data: bytes) -> None:
        port = self._require_port()
        try:
            with self._write_lock:
                port.write(data)
                port.flush()
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeoutError(f"{self.name}: write to {self._url} timed out") from exc
        except (serial.SerialException, OSError, TypeError, AttributeError, *_PORT_ERRORS) as exc:
            # TypeError/AttributeError: pyserial on a port closed under it by another thread
            self._lost(exc)
            raise DeviceGoneError(f"{self.name}: {self._url} vanished: {exc}") from exc

    def read(self, size: int = 0) -> bytes:
        """Whatever has arrived (waiting up to the port timeout for the first byte)."""
        port = self._require_port()
        try:
            return bytes(port.read(max(1, size or port.in_waiting)))
        except (serial.SerialException, OSError, TypeError, AttributeError, *_PORT_ERRORS) as exc:
            self._lost(exc)
            raise DeviceGoneError(f"{self.name}: {self._url} vanished: {exc}") from exc

    def _lost(self, exc: BaseException) -> None:
        with self._lost_lock:  # reader and writer threads may both notice the hang-up
            if not self._port_open.is_set():
                return
            self._port_open.clear()
        log.debug("%s: port %s closed: %s", self.name, self._url, exc)
        port, self._port = self._port, None
        with contextlib.suppress(Exception):  # closing a dead port may fail in any way
            port.close()
        self._mark_down(f"link lost: {exc}")
        self._on_lost()

    # ---- the service thread ---------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            if not self._port_open.is_set():
                self._open_port()
                continue
            try:
                self._service()
            except DeviceGoneError:
                # _lost already ran; reopen after the backoff (a port that opens and hangs
                # up at once must not be reopened in a tight loop)
                self._retry_later()
            except GateError as exc:
                log.debug("%s: %s", self.name, exc)
            except Exception as exc:  # a bug must not kill the thread that keeps doors safe
                log.exception("%s: service error", self.name)
                self._lost(exc)

    def _open_port(self) -> None:
        """One attempt to (re)open the port and put the doors in the safe state."""
        try:
            self._port = self._factory()
        except GateError as exc:
            self._last_exc = exc
            log.debug("%s: %s", self.name, exc)
            self._retry_later()
            return
        self._port_open.set()
        reconnect, self._ever_opened = self._ever_opened, True
        try:
            self._on_connect(reconnect)
        except Exception as exc:  # GateError, or a bug: never run unlocked
            # the doors could not be put in the safe state: drop the port and try again
            # after the backoff
            log.debug("%s: setting up after connect failed: %s", self.name, exc)
            self._last_exc = exc
            self._lost(exc)
            self._retry_later()

    def _on_connect(self, reconnect: bool) -> None:
        """Called in the service thread after the port opened: put doors in a safe state."""

    def _on_lost(self) -> None:
        """Called when the port vanished."""

    def _service(self) -> None:
        """One round of protocol work while connected (must not block for long)."""
        self._closing.wait(0.05)

    def close(self) -> None:
        if self._closing.is_set():
            return
        try:
            if self._port_open.is_set():
                self._fail_safe()
        except GateError as exc:
            log.warning("%s: could not lock on close: %s", self.name, exc)
        self._closing.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        port, self._port = self._port, None
        self._port_open.clear()
        if port is not None:
            with contextlib.suppress(Exception):  # best effort on the way out
                port.close()

    def _fail_safe(self) -> None:
        """Lock the doors (subclasses)."""


def nak_error(name: str, what: str, reason: str) -> DeviceError:
    return DeviceError(f"{name}: device refused {what}: {reason}")


def other_door(door: Door) -> Door:
    return Door.EXIT if door is Door.ENTRY else Door.ENTRY
