"""``egate console`` (the officer console), ``egate console user add``, ``egate console
keygen``, ``egate broker init`` and ``egate broker serve``.

A lane watched from its own process (``egate run --console``) is ``gate.cli.lane_console``."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from gate.cli.base import EXIT_OK, Registry
from gate.cli.lane_console import users_path
from gate.cli.options import DEFAULT_LISTEN, add_broker_option, add_tls_options, add_users_option
from gate.errors import ConfigError, InputError


def _read_password() -> str:
    """From the terminal (asked twice), or the first line of stdin; never from argv."""
    stdin = sys.stdin
    try:
        if stdin is not None and stdin.isatty():
            first = getpass.getpass("password: ")
            if getpass.getpass("again: ") != first:
                raise InputError("the two passwords differ")
            return first
        if stdin is None:
            raise ValueError("no stdin")
        stream = getattr(stdin, "buffer", None)
        raw = stream.readline(4096) if stream is not None else stdin.readline(4096)
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InputError(f"password: not UTF-8 text ({exc.reason})") from exc
    except (ValueError, OSError) as exc:  # stdin closed or unreadable
        raise InputError(f"password: stdin cannot be read ({exc})") from exc
    if not line:
        raise InputError("password: stdin is empty (give it on the first line)")
    return line.rstrip("\r\n")


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


def _keygen(args: argparse.Namespace) -> int:
    from gate.console.signing import ConsoleKey

    path = Path(args.path)
    if not path.parent.is_dir():
        raise ConfigError(f"console key {path}: the folder {path.parent} does not exist")
    public = ConsoleKey.generate().save(path)
    print(f"console key saved in {path} (mode 600); lanes trust it with --trust-console {public}")
    return EXIT_OK


def _console(args: argparse.Namespace) -> int:
    from gate.console.server import ConsoleServer, Wiring, make_console
    from gate.console.signing import ConsoleKey
    from gate.console.users import Users

    path = users_path(args.users)
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
    line = f"console on {args.listen} ({where})"
    try:
        server.run(lambda: print(line, file=sys.stderr, flush=True))  # once it is listening
    finally:
        if link is not None:
            link.close()
    return EXIT_OK


def _opt_path(value: str | None) -> Path | None:
    return Path(value) if value else None


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
    add_broker_option(p, "mqtt[s]://[user@]host[:port] of the lanes (or a credentials file)")
    add_users_option(p, "accounts file (egate console user add)")
    p.add_argument(
        "--audit", action="append", default=[], help="LANE=PATH of a lane's audit log (auditors)"
    )
    add_tls_options(p, "HTTPS")
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
    add_users_option(p, "accounts file")

    p = registry.command(
        "broker init", "a Mosquitto folder: passwords, ACLs, per-lane credentials", _broker_init
    )
    p.add_argument("folder", help="a new folder for the broker's files")
    p.add_argument("--lane", action="append", required=True, help="a lane's name (repeatable)")
    p.add_argument("--console", action="append", default=["console"], help="a console's name")
    p.add_argument("--site", default="site", help="site name in the topics")
    p.add_argument("--listen", default="127.0.0.1:1883", help="HOST:PORT of the broker")
    add_tls_options(p, "MQTT over TLS")

    p = registry.command("broker serve", "run Mosquitto on a broker init folder", _broker_serve)
    p.add_argument("folder", help="the folder egate broker init made")
