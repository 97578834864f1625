"""What every serial turnstile driver shares: opening any pyserial URL, translating its
exceptions, reconnecting with backoff in a service thread, and the event queue."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError, GateError
from gate.turnstile import Door, EventKind, TurnstileEvent

log = logging.getLogger(__name__)

SerialFactory = Callable[[], Any]  # returns an open pyserial-like port


def serial_factory(url: str, baudrate: int, timeout: float = 0.05) -> SerialFactory:
    """Opens ``url`` with ``serial.serial_for_url`` (any pyserial URL works)."""

    def open_port() -> Any:
        try:
            return serial.serial_for_url(
                url, baudrate=baudrate, timeout=timeout, write_timeout=1.0, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceGoneError(f"cannot open serial port {url!r}: {exc}") from exc

    return open_port


class SerialDriver:
    """Base: a service thread keeps the port open (reconnecting with exponential backoff)
    and calls ``_service`` while connected; subclasses put protocol work there."""

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
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._events: queue.Queue[TurnstileEvent] = queue.Queue()
        self._port: Any = None
        self._write_lock = threading.Lock()
        self._lost_lock = threading.Lock()
        self._connected = threading.Event()
        self._closing = threading.Event()
        self._ever_connected = False
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name=f"egate-{self.name}", daemon=True)
        self._thread.start()
        if not self._connected.wait(connect_timeout):
            self.close()
            raise DeviceGoneError(
                f"{self.name}: cannot open {url or 'the port'} within {connect_timeout:.1f} s"
                + (f" ({self._last_error})" if self._last_error else "")
            )

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

    # ---- the port ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _require_port(self) -> Any:
        port = self._port
        if port is None or not self._connected.is_set():
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
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial on a port closed under it by another thread
            self._lost(exc)
            raise DeviceGoneError(f"{self.name}: {self._url} vanished: {exc}") from exc

    def read(self, size: int = 0) -> bytes:
        """Whatever has arrived (waiting up to the port timeout for the first byte)."""
        port = self._require_port()
        try:
            return bytes(port.read(max(1, size or port.in_waiting)))
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            self._lost(exc)
            raise DeviceGoneError(f"{self.name}: {self._url} vanished: {exc}") from exc

    def _lost(self, exc: BaseException) -> None:
        with self._lost_lock:  # reader and writer threads may both notice the hang-up
            if not self._connected.is_set():
                return
            self._connected.clear()
        log.warning("%s: lost %s: %s", self.name, self._url, exc)
        port, self._port = self._port, None
        with contextlib.suppress(Exception):  # closing a dead port may fail in any way
            port.close()
        self.emit(EventKind.DEVICE_FAULT, detail=f"link lost: {exc}")
        self._on_lost()

    # ---- the service thread ---------------------------------------------------------------
    def _run(self) -> None:
        delay = self._backoff
        while not self._closing.is_set():
            if not self._connected.is_set():
                try:
                    self._port = self._factory()
                except GateError as exc:
                    self._last_error = str(exc)
                    self._closing.wait(delay)
                    delay = min(self._max_backoff, delay * 2)
                    continue
                delay = self._backoff
                self._connected.set()
                reconnect = self._ever_connected
                self._ever_connected = True
                try:
                    self._on_connect(reconnect)
                except Exception as exc:  # GateError, or a bug: never run unlocked
                    # the doors could not be put in the safe state: drop the port and try
                    # again after the backoff
                    log.warning("%s: setting up after connect failed: %s", self.name, exc)
                    self._last_error = str(exc)
                    self._lost(exc)
                    self._closing.wait(delay)
                    delay = min(self._max_backoff, delay * 2)
                continue
            try:
                self._service()
            except DeviceGoneError:
                pass  # _lost already ran; the loop reconnects
            except GateError as exc:
                log.warning("%s: %s", self.name, exc)
            except Exception as exc:  # a bug must not kill the thread that keeps doors safe
                log.exception("%s: service error", self.name)
                self._lost(exc)

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
            if self._connected.is_set():
                self._fail_safe()
        except GateError as exc:
            log.warning("%s: could not lock on close: %s", self.name, exc)
        self._closing.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        port, self._port = self._port, None
        self._connected.clear()
        if port is not None:
            with contextlib.suppress(Exception):  # best effort on the way out
                port.close()

    def _fail_safe(self) -> None:
        """Lock the doors (subclasses)."""


def nak_error(name: str, what: str, reason: str) -> DeviceError:
    return DeviceError(f"{name}: device refused {what}: {reason}")
