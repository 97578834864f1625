"""Serving the console (uvicorn) and wiring it to the lanes: in process through a
``LocalHub``, or through a broker (``MqttLink``)."""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gate.console.hall import Hall
from gate.console.hub import LocalHub
from gate.console.mqtt import BrokerAddress, MqttLink
from gate.console.reporter import LaneReporter, Link, last_will
from gate.console.signing import ConsoleKey
from gate.console.store import Store
from gate.console.users import Users
from gate.console.web import Console, create_app
from gate.errors import ConfigError, DeviceError
from gate.lane import ConsoleTrust
from gate.web_server import WebServerThread, is_loopback

log = logging.getLogger("gate.console")
SUBSCRIPTION = "egate/+/+/+"
RETAINED = "egate/+/+/referral/+"  # the lanes' open referrals, re-announced to a new console


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")  # ASCII digits only: '²' and '٤' are digits to isdigit()


def _valid_host(host: str) -> bool:
    """A bracketed IPv6 address, or a name or IPv4 address of DNS labels (1-63 ASCII
    letters, digits and inner hyphens each, 253 characters in all)."""
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    labels = host.split(".")
    return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not _valid_host(host) or not _PORT.fullmatch(port) or int(port) > 65535:
        raise ConfigError(f"--listen {text[:80]!r}: use HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _check_free(host: str, port: int) -> None:
    """Refuse a taken address in one line before uvicorn tries (and logs a traceback-ish
    error and exits on its own)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--listen {host}:{port}: {exc.strerror}") from exc
    except UnicodeError as exc:  # the IDNA codec refuses what a name cannot be
        raise ConfigError(f"--listen {host[:80]}:{port}: not a host name ({exc})") from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise DeviceError(f"--listen {host}:{port}: {exc.strerror}") from exc


@dataclass
class Wiring:
    """How this process's lanes and console meet: a hub, or a broker link per side."""

    broker: BrokerAddress | None
    hub: LocalHub | None = None
    key: ConsoleKey = field(default_factory=ConsoleKey.generate)  # this process's console
    trusted: tuple[Ed25519PublicKey, ...] = ()  # other consoles' keys this process's lanes trust

    @classmethod
    def make(
        cls,
        broker_url: str | None,
        key: ConsoleKey | None = None,
        trusted: tuple[Ed25519PublicKey, ...] = (),
    ) -> Wiring:
        """A hub (no broker) or a broker link; ``key`` signs this process's console's
        commands (a key for this run only when not given)."""
        made = cls(broker_address(broker_url)) if broker_url else cls(None, LocalHub())
        made.trusted = trusted
        if key is not None:
            made.key = key
        return made

    def trust(self, own_console: bool) -> ConsoleTrust:
        """What this process's lanes believe: the given keys, and this process's own
        console's key when it serves one."""
        own = (self.key.public,) if own_console else ()
        return ConsoleTrust.of((*own, *self.trusted))

    def lane_link(self, name: str, site: str = "site") -> Link:
        if self.hub is not None:
            return self.hub
        assert self.broker is not None
        link = MqttLink(self.broker, f"egate-lane-{name}-{secrets.token_hex(4)}")
        link.will(*last_will(site, name))  # the broker says "offline" for a lane that dies
        return link.start()


def broker_address(text: str) -> BrokerAddress:
    """``mqtt[s]://[user@]host[:port]``, or a credentials file of ``egate broker init``."""
    if "://" in text:
        return BrokerAddress.parse(text)
    from gate.console.broker_setup import read_credentials

    url, password = read_credentials(Path(text))
    return replace(BrokerAddress.parse(url), password=password)


class ConsoleServer:
    """The console's web server on its own thread (``start``) or the caller's (``run``)."""

    def __init__(
        self,
        console: Console,
        listen: str,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        trusted_proxy: str | None = None,
        stream: Any = None,
    ) -> None:
        """``trusted_proxy``: the one address whose X-Forwarded-For (and -Proto) is
        believed; with none, every header of that kind is ignored and the socket's peer
        is the client (the login limits count by it)."""
        import uvicorn

        if (certfile is None) != (keyfile is None):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        host, port = parse_listen(listen)
        _check_free(host, port)
        if certfile is None and not is_loopback(host):
            print(
                f"warning: the console listens on {host}:{port} beyond this machine without "
                "TLS: passwords and session cookies cross the network in clear "
                "(give --tls-cert and --tls-key)",
                file=stream or sys.stderr,
                flush=True,
            )
        console.tls = certfile is not None
        self.console = console
        config = uvicorn.Config(
            create_app(console),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            timeout_graceful_shutdown=1,
            proxy_headers=trusted_proxy is not None,
            forwarded_allow_ips=trusted_proxy or "",
        )
        self.server = uvicorn.Server(config)
        console.stopping = lambda: bool(self.server.should_exit)
        self._web = WebServerThread(
            self.server, "console", "the console's web server did not start (is the port in use?)"
        )

    @property
    def url(self) -> str:
        return self._web.url("https" if self.console.tls else "http")

    def start(self, timeout: float = 10.0) -> ConsoleServer:
        self._web.start(timeout)
        return self

    def run(self, on_listening: Callable[[], None] | None = None) -> None:
        """Serve in this thread until stopped; ``on_listening`` is called once the socket
        accepts connections (not before: a browser sent there earlier is refused)."""
        if on_listening is not None:
            startup = self.server.startup

            async def announced(sockets: list[socket.socket] | None = None) -> None:
                await startup(sockets=sockets)
                if self.server.started:
                    on_listening()

            self.server.startup = announced  # type: ignore[method-assign]
        self.server.run()

    def stop(self) -> None:
        self._web.stop()


def make_console(
    wiring: Wiring,
    users: Users,
    audit_logs: dict[str, Path] | None = None,
    state: Path | None = None,
) -> tuple[Console, MqttLink | None]:
    """The console's state (kept in ``state``, a folder, when given), fed by the hub or a
    broker subscription; its sweep runs until ``console.hall.close()``."""
    hall = Hall(Store(state) if state is not None else None)
    link: MqttLink | None = None
    if wiring.hub is not None:
        wiring.hub.subscribe(hall.receive)
        commands: Any = wiring.hub
    else:
        assert wiring.broker is not None
        link = MqttLink(wiring.broker, f"egate-console-{secrets.token_hex(4)}", console=True)
        link.subscribe(SUBSCRIPTION, hall.receive)
        link.subscribe(RETAINED, hall.receive)
        hall.link_status = link.status
        link.start()
        commands = link
    hall.watch()
    return Console(hall, users, commands, dict(audit_logs or {}), key=wiring.key), link


def demo_users(path: Path | None, stream: Any = sys.stderr) -> Users:
    """The accounts in ``path``; with none there, one-off accounts for this run only
    (their passwords printed once on ``stream``, never stored)."""
    users = Users.load(path) if path is not None and path.exists() else Users({})
    if len(users):
        return users
    users = Users({})
    for name, role in (("officer", "officer"), ("auditor", "auditor")):
        password = secrets.token_urlsafe(9)
        users.add(name, role, password)
        print(f"console account for this run: {name} / {password}", file=stream)
    return users


def lane_reporter(wiring: Wiring, site: str, lane: str, own_console: bool) -> LaneReporter:
    """The lane's reporter; its lane believes ``wiring.trust(own_console)``."""
    return LaneReporter(site, lane, wiring.lane_link(lane, site), trust=wiring.trust(own_console))
