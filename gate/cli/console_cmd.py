"""``egate console`` (the officer console) and ``egate console user add``.

A lane watched from its own process (``egate run --console``) is ``gate.cli.lane_console``."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from gate.cli.base import EXIT_OK, Registry
from gate.cli.lane_console import users_path
from gate.cli.options import DEFAULT_LISTEN, add_broker_option, add_users_option
from gate.errors import ConfigError, InputError


def _read_password() -> str:
    """From the terminal (asked twice), or the first line of stdin; never from argv."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise InputError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _user_add(args: argparse.Namespace) -> int:
    from gate.console.users import Users

    path = users_path(args.users)
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


def _console(args: argparse.Namespace) -> int:
    from gate.console.server import ConsoleServer, Wiring, make_console
    from gate.console.users import Users

    path = users_path(args.users)
    users = Users.load(path)
    if not len(users):
        raise ConfigError(f"no console accounts in {path}: add one with 'egate console user add'")
    console, link = make_console(Wiring.make(args.broker), users, _audit_logs(args.audit))
    server = ConsoleServer(console, args.listen, _opt_path(args.tls_cert), _opt_path(args.tls_key))
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


def register(registry: Registry) -> None:
    p = registry.command("console", "the officer console: a hall of lanes in the browser", _console)
    p.add_argument("--listen", default=DEFAULT_LISTEN, help="HOST:PORT to serve on")
    add_broker_option(p, "mqtt[s]://[user@]host[:port] of the lanes")
    add_users_option(p, "accounts file (egate console user add)")
    p.add_argument(
        "--audit", action="append", default=[], help="LANE=PATH of a lane's audit log (auditors)"
    )
    p.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", default=None, help="... and this private key (PEM)")

    p = registry.command(
        "console user add", "add or replace a console account (password from tty/stdin)", _user_add
    )
    p.add_argument("name", help="user name (lower-case letters, digits, . _ -)")
    p.add_argument("--role", required=True, choices=("officer", "supervisor", "auditor"))
    add_users_option(p, "accounts file")
