"""``egate console`` (the officer console), ``egate console user add``, ``egate console
keygen``, and the ``--console`` / ``--broker`` / ``--trust-console`` options that ``egate
run``, ``simulate`` and ``demo`` share."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli import EXIT_OK, Registry
from gate.errors import ConfigError, InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from gate.console.reporter import LaneReporter
    from gate.console.web import Console
    from gate.lane import Lane

DEFAULT_LISTEN = "127.0.0.1:8080"


def _read_password() -> str:
    """From the terminal (asked twice), or the first line of stdin; never from argv."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise InputError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _users_path(args: argparse.Namespace) -> Path:
    from gate.console.users import default_users_path

    return Path(args.users) if args.users else default_users_path()


def _user_add(args: argparse.Namespace) -> int:
    from gate.console.users import Users

    path = _users_path(args)
    users = Users.load(path)
    users.add(args.name, args.role, _read_password())
    print(f"user {args.name} ({args.role}) saved in {path}")
    return EXIT_OK


def _audit_logs(values: list[str]) -> dict[str, Path]:
    from gate.console.wire import check_name

    logs: dict[str, Path] = {}
    for value in values:
        lane, sep, path = value.partition("=")
        if not sep or not path:
            raise ConfigError(f"--audit {value!r}: use LANE=PATH")
        logs[check_name(lane, "lane")] = Path(path)
    return logs


def _keygen(args: argparse.Namespace) -> int:
    from gate.console.signing import ConsoleKey

    path = Path(args.path)
    if not path.parent.is_dir():
        raise ConfigError(f"console key {path}: the folder {path.parent} does not exist")
    public = ConsoleKey.generate().save(path)
    print(f"console key saved in {path} (mode 600); lanes trust it with --trust-console {public}")
    return EXIT_OK


def _trusted(args: argparse.Namespace, configured: Path | None) -> tuple[Ed25519PublicKey, ...]:
    """The console keys named by ``--trust-console`` and the config's lane.trusted_consoles."""
    from gate.lane.command_auth import load_public_keys

    paths = [Path(value) for value in getattr(args, "trust_console", None) or []]
    keys: list[Ed25519PublicKey] = []
    for path in [*paths, *([configured] if configured is not None else [])]:
        keys += load_public_keys(path)
    return tuple(keys)


def _console(args: argparse.Namespace) -> int:
    from gate.console.server import ConsoleServer, Wiring, make_console
    from gate.console.signing import ConsoleKey
    from gate.console.users import Users

    path = _users_path(args)
    users = Users.load(path)
    if not len(users):
        raise ConfigError(f"no console accounts in {path}: add one with 'egate console user add'")
    if args.broker and not args.key:
        raise ConfigError("--key: a console on a broker signs with a key its lanes trust")
    key = ConsoleKey.load(Path(args.key)) if args.key else None
    from gate.console.store import default_state_dir

    state = Path(args.state) if args.state else default_state_dir()
    wiring = Wiring.make(args.broker, key)
    console, link = make_console(wiring, users, _audit_logs(args.audit), state)
    tls = _opt_path(args.tls_cert), _opt_path(args.tls_key)
    server = ConsoleServer(console, args.listen, *tls, trusted_proxy=args.trusted_proxy)
    where = f"broker {args.broker}" if args.broker else "no broker: no lane can reach it"
    print(f"console on {args.listen} ({where})", file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        if link is not None:
            link.close()
    return EXIT_OK


def _opt_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def add_lane_options(p: argparse.ArgumentParser) -> None:
    """``--console`` and ``--broker`` for the commands that run a lane."""
    p.add_argument(
        "--console",
        nargs="?",
        const=DEFAULT_LISTEN,
        default=None,
        metavar="HOST:PORT",
        help=f"serve the officer console in this process (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--broker",
        default=None,
        help="publish lane events to mqtt[s]://host:port (or a broker init credentials file)",
    )
    p.add_argument("--site", default="site", help="site name in the event topics")
    p.add_argument("--users", default=None, help="console accounts file")
    p.add_argument(
        "--trust-console",
        action="append",
        default=[],
        metavar="PUB",
        help="believe officer commands signed by this console public key (file or folder "
        "of *.pub; repeatable); the in-process --console is always believed",
    )


@dataclass
class LaneConsole:
    """What ``lane_console`` gives the command: the lane's reporter (``None`` with neither
    --console nor --broker) and the in-process console, if any."""

    reporter: LaneReporter | None = None
    console: Console | None = None

    def attach(self, lane: Lane, audit: Path | None) -> None:
        """Take officer commands for ``lane``; its audit log is shown to auditors."""
        if self.reporter is not None:
            self.reporter.attach(lane)
        if self.console is not None and audit is not None and self.reporter is not None:
            self.console.audit_logs[self.reporter.lane_id] = audit


@contextmanager
def lane_console(
    args: argparse.Namespace, lane: str, trusted: Path | None = None
) -> Iterator[LaneConsole]:
    """The lane's reporter and, with --console, the console's web server, for the block.
    The lane believes officer commands signed by the in-process console, by the keys of
    ``--trust-console`` and by those in ``trusted`` (the config's lane.trusted_consoles)."""
    if not args.console and not args.broker:
        yield LaneConsole()
        return
    from gate.console.server import ConsoleServer, Wiring, demo_users, lane_reporter, make_console

    wiring = Wiring.make(args.broker, trusted=_trusted(args, trusted))
    reporter = lane_reporter(wiring, args.site, lane, own_console=bool(args.console))
    if not args.console and not wiring.trusted:
        print(f"{lane}: no --trust-console key: every officer command will be refused",
              file=sys.stderr)  # fmt: skip
    linked = LaneConsole(reporter)
    server = link = None
    try:
        if args.console:
            users = demo_users(_users_path(args))
            linked.console, link = make_console(wiring, users)
            server = ConsoleServer(linked.console, args.console).start()
            print(f"officer console: {server.url}", file=sys.stderr, flush=True)
        reporter.start()
        yield linked
    finally:
        reporter.close()
        reporter.link.close()
        if server is not None:
            server.stop()
        if link is not None:
            link.close()


def _broker_init(args: argparse.Namespace) -> int:
    from gate.console.broker_setup import BrokerPlan, init
    from gate.console.server import parse_listen

    host, port = parse_listen(args.listen)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    tls = (Path(args.tls_cert), Path(args.tls_key)) if args.tls_cert else None
    plan = BrokerPlan(args.site, tuple(args.lane), tuple(args.console), host, port, tls)
    init(Path(args.folder), plan)
    print(f"broker folder {args.folder}: egate broker serve {args.folder}; lanes run with")
    print(f"  --broker {args.folder}/credentials/LANE.env --trust-console "
          f"{args.folder}/trusted-consoles")  # fmt: skip
    print(f"consoles with --broker {args.folder}/credentials/CONSOLE.env "
          f"--key {args.folder}/credentials/CONSOLE.key")  # fmt: skip
    return EXIT_OK


def _broker_serve(args: argparse.Namespace) -> int:
    import subprocess

    from gate.console.broker_setup import serve_command

    command = serve_command(Path(args.folder))
    print(f"mosquitto on {args.folder} (Ctrl-C ends)", file=sys.stderr, flush=True)
    try:
        return subprocess.run(command, check=False).returncode
    except KeyboardInterrupt:
        return EXIT_OK


def register(registry: Registry) -> None:
    p = registry.command("console", "the officer console: a hall of lanes in the browser", _console)
    p.add_argument("--listen", default=DEFAULT_LISTEN, help="HOST:PORT to serve on")
    p.add_argument("--broker", default=None, help="mqtt[s]://[user@]host[:port] of the lanes")
    p.add_argument("--users", default=None, help="accounts file (egate console user add)")
    p.add_argument(
        "--audit", action="append", default=[], help="LANE=PATH of a lane's audit log (auditors)"
    )
    p.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", default=None, help="... and this private key (PEM)")
    p.add_argument("--state", default=None, help="folder of the console's referrals and alarms")
    p.add_argument(
        "--trusted-proxy", default=None, help="believe X-Forwarded-For from this address only"
    )
    p.add_argument(
        "--key",
        default=None,
        help="the console's signing key (egate console keygen); needed with --broker",
    )

    p = registry.command(
        "console keygen", "make the console's command-signing key (and PATH.pub)", _keygen
    )
    p.add_argument("path", help="where to write the private key (never overwritten)")

    p = registry.command(
        "console user add", "add or replace a console account (password from tty/stdin)", _user_add
    )
    p.add_argument("name", help="user name (lower-case letters, digits, . _ -)")
    p.add_argument("--role", required=True, choices=("officer", "supervisor", "auditor"))
    p.add_argument("--users", default=None, help="accounts file")

    p = registry.command(
        "broker init", "a Mosquitto folder: passwords, ACLs, per-lane credentials", _broker_init
    )
    p.add_argument("folder", help="a new folder for the broker's files")
    p.add_argument("--lane", action="append", required=True, help="a lane's name (repeatable)")
    p.add_argument("--console", action="append", default=["console"], help="a console's name")
    p.add_argument("--site", default="site", help="site name in the topics")
    p.add_argument("--listen", default="127.0.0.1:1883", help="HOST:PORT of the broker")
    p.add_argument("--tls-cert", default=None, help="serve MQTT over TLS with this certificate")
    p.add_argument("--tls-key", default=None, help="... and this private key (PEM)")

    p = registry.command("broker serve", "run Mosquitto on a broker init folder", _broker_serve)
    p.add_argument("folder", help="the folder egate broker init made")
