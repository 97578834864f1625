"""Serving the screen (uvicorn, on its own thread) and tying it to a lane.

``--screen`` binds to loopback unless told otherwise: the page is for the lane's own
display (Chromium in kiosk mode), not for the network."""

from __future__ import annotations

import re
import sys
from typing import Any

from gate.errors import ConfigError
from gate.lane import Lane
from gate.screen.screen import NationalityTap, Screen
from gate.web_server import WebServerThread, is_loopback

DEFAULT_LISTEN = "127.0.0.1:8090"
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
_PORT = re.compile(r"[0-9]{1,5}")


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8090`` for IPv6); ``ConfigError`` naming what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not _HOST.fullmatch(host) or not _PORT.fullmatch(port) or int(port) > 65535:
        raise ConfigError(f"--screen {text[:80]!r}: use HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host.strip("[]"), int(port)


def allowed_hosts(host: str) -> frozenset[str] | None:
    """The names a request to a screen on ``host`` may give: loopback's, and ``host``
    itself; any for a screen on every address (0.0.0.0, ::)."""
    if host in ("0.0.0.0", "::", ""):  # every address: the user asked for it
        return None
    return frozenset({"127.0.0.1", "localhost", "::1", host.lower()})


def attach(screen: Screen, lane: Lane) -> None:
    """Show ``lane`` on ``screen`` (already one of its observers): its live frames, DG1's
    nationality as soon as the chip is read, and whether an officer has closed it."""
    lane.show_previews()
    if not isinstance(lane.chip_reader, NationalityTap):
        lane.chip_reader = NationalityTap(lane.chip_reader, screen.note_nationality)
    screen.set_in_service(lane.in_service)


class ScreenServer:
    """The screen's page on ``listen`` (``start``/``stop``; a context manager)."""

    def __init__(self, screen: Screen, listen: str = DEFAULT_LISTEN, stream: Any = None):
        import uvicorn

        from gate.screen.app import create_app

        host, port = parse_listen(listen)
        if not is_loopback(host):
            print(f"warning: the traveller's screen listens on {host}:{port}, beyond this "
                  "machine", file=stream or sys.stderr, flush=True)  # fmt: skip
        self.screen = screen
        config = uvicorn.Config(
            create_app(screen, lambda: bool(self.server.should_exit), allowed_hosts(host)),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._web = WebServerThread(
            self.server,
            "screen-web",
            "the traveller's screen could not listen (is the port in use?)",
        )

    @property
    def url(self) -> str:
        return self._web.url()

    def start(self, timeout: float = 10.0) -> ScreenServer:
        self._web.start(timeout)
        return self

    def stop(self) -> None:
        self._web.stop()

    def __enter__(self) -> ScreenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
