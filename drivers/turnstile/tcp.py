"""A device link over TCP, for emulators reached through pyserial's ``socket://`` URLs (as a
serial-to-Ethernet converter or a Modbus RTU-over-TCP gateway would be).

Same interface as ``PtyLink``: one client at a time (a new connection replaces the old
one), ``unplug`` closes the listener and the client (connections are refused until
``plug``), ``baud`` emulates line speed.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time

from drivers.turnstile.pty import line_time
from gate.errors import ConfigError

_EMPTY = b""


class TcpLink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, baud: int | None = None):
        self.host = host
        self._port = port
        self.baud = baud
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._injected = bytearray()
        self.plugged = False
        self.plug()

    @classmethod
    def from_url(cls, url: str, baud: int | None = None) -> TcpLink:
        """``tcp://HOST:PORT`` (port 0: any free port)."""
        rest = url.removeprefix("tcp://")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"emulator link {url!r} must look like tcp://127.0.0.1:5020")
        return cls(host or "127.0.0.1", int(port), baud)

    @property
    def port(self) -> str:
        """The pyserial URL a driver connects to."""
        return f"socket://{self.host}:{self._port}"

    def plug(self) -> None:
        if self.plugged:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._port))
        listener.listen(1)
        self._port = listener.getsockname()[1]  # keep the port across unplug/replug
        self._listener = listener
        self.plugged = True

    def unplug(self) -> None:
        self.plugged = False
        for sock in (self._client, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._client = self._listener = None

    def read(self, timeout: float) -> bytes:
        if self._injected:
            data = bytes(self._injected)
            self._injected.clear()
            return data
        listener, client = self._listener, self._client
        if not self.plugged or listener is None:
            time.sleep(timeout)
            return _EMPTY
        watch = [listener] if client is None else [listener, client]
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
            if listener in ready:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._client is not None:
                    self._client.close()
                self._client = client = conn
                return _EMPTY
            if client is None or client not in ready:
                return _EMPTY
            data = client.recv(4096)
        except (OSError, ValueError):
            return _EMPTY  # unplugged from another thread
        if not data:
            self._client = None  # the driver hung up
            return _EMPTY
        if self.baud:
            time.sleep(line_time(len(data), self.baud))
        return data

    def write(self, data: bytes) -> None:
        client = self._client
        if self.baud:
            time.sleep(line_time(len(data), self.baud))
        if client is None:
            return  # nobody connected: the bytes are lost, as on a line without listener
        try:
            client.sendall(data)
        except OSError:
            self._client = None

    def inject_to_device(self, data: bytes) -> None:
        self._injected += data

    def close(self) -> None:
        self.unplug()
