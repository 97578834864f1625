"""An ASGI app served by uvicorn on a daemon thread of its own: the officer console's and the
traveller's screen's web servers (``gate.console.server``, ``gate.screen.server``)."""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from typing import TYPE_CHECKING, Any

from gate.errors import DeviceError

if TYPE_CHECKING:
    import uvicorn


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address without brackets) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebServerThread:
    """``server`` run on a daemon thread called ``name``: ``start`` returns once its socket
    listens, or raises ``DeviceError(failure)`` when it stops first or takes too long."""

    def __init__(self, server: uvicorn.Server, name: str, failure: str) -> None:
        self.server = server
        self.name = name
        self.failure = failure
        self._thread: threading.Thread | None = None

    def url(self, scheme: str = "http") -> str:
        """Where the socket listens (the port the system chose for port 0)."""
        sockets: list[Any] = [s for server in self.server.servers for s in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DeviceError(self.failure)
            time.sleep(0.02)

    def _serve(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn's exit when it cannot bind
            self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(5.0)
