"""The options several commands take, each declared once: its flag, value type, default and
wording. A command module calls ``add_*`` for the options it takes and adds its own beside
them; ``help`` overrides the wording where a command means something narrower.

Only ``argparse``, ``pathlib`` and ``gate.cli.args`` are imported here: the parser is built
for every ``egate`` call, ``--help`` included.
"""

from __future__ import annotations

import argparse

from gate.cli import args as argtypes

MAX_TRAVELLERS = 100_000  # a scenario is expanded in memory; weeks of lane time at speed 1
DEFAULT_LISTEN = "127.0.0.1:8080"  # the officer console's address
SCREEN_LISTEN = "127.0.0.1:8090"  # the traveller's screen (gate.screen.DEFAULT_LISTEN)

# An ArgumentParser or a group of it (a mutually exclusive one): both take add_argument.
Parser = argparse._ActionsContainer  # noqa: SLF001 - argparse has no public name for it


def add_pack_option(
    p: Parser,
    help: str = "face model pack id or folder (default: fusion)",
    *,
    required: bool = False,
    default: str | None = None,
    many: bool = False,
) -> None:
    """``--pack P``: a face model pack id (``fusion``, ``sface``, ``dlib-cc0``) or folder;
    with ``many``, one or more packs (repeatable) compared side by side."""
    if many:
        p.add_argument("--pack", nargs="+", action="extend", metavar="P", help=help)
    else:
        p.add_argument("--pack", required=required, default=default, metavar="P", help=help)


def add_json_output(p: Parser, what: str = "the summary") -> None:
    """``--json OUT``: write ``what`` as JSON to the file OUT, or to stdout with ``-``."""
    p.add_argument(
        "--json",
        type=argtypes.output_file,
        default=None,
        metavar="OUT",
        help=f"write {what} as JSON here ('-': stdout)",
    )


def add_json_flag(p: Parser, help: str = "print JSON instead of text") -> None:
    """``--json``: the command prints its answer as JSON on stdout."""
    p.add_argument("--json", action="store_true", help=help)


def json_on_stdout(target: str | None) -> bool:
    """True when ``--json -`` sends the JSON to stdout (so the text lines stay off it)."""
    return target == "-"


def add_report_option(p: Parser, help: str) -> None:
    """``--report DIR``: write a report into the folder DIR (made when missing)."""
    p.add_argument("--report", type=argtypes.report_folder, default=None, metavar="DIR", help=help)


def add_audit_option(p: Parser, help: str = "audit database (default: a temporary one)") -> None:
    """``--audit PATH``: the audit log a run writes, checked before the run (an egate log
    or a new file; never a folder or another program's database)."""
    p.add_argument("--audit", type=argtypes.audit_log, default=None, metavar="PATH", help=help)


def add_output_option(p: Parser, *flags: str, help: str) -> None:
    """An output file (``--photo-out``, ``-o/--output``): refused at once when it is a
    folder or its folder does not exist, so a long run never ends in "cannot write"."""
    p.add_argument(*flags, type=argtypes.output_file, default=None, metavar="FILE", help=help)


def add_seed_option(p: Parser, help: str = "random seed (default 0)") -> None:
    """``--seed N``: 0..2**32-1, default 0, so runs repeat unless asked otherwise."""
    p.add_argument("--seed", type=argtypes.seed, default=0, metavar="N", help=help)


def add_threads_option(p: Parser) -> None:
    p.add_argument(
        "--threads", type=argtypes.threads, default=0, help="ONNX Runtime threads (0: auto)"
    )


def add_no_progress_option(p: Parser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_no_pcsc_option(p: Parser) -> None:
    p.add_argument("--no-pcsc", action="store_true", help="chips in process, not via pcscd")


def add_scenario_option(p: Parser) -> None:
    p.add_argument(
        "--scenario",
        type=argtypes.scenario_file,
        default=None,
        help="scenario TOML (default: the built-in one)",
    )


def add_travellers_option(p: Parser, default: int | None, help: str) -> None:
    p.add_argument(
        "--travellers",
        type=argtypes.int_range(1, MAX_TRAVELLERS, "travellers"),
        default=default,
        help=help,
    )


def add_capture_timeout_option(p: Parser) -> None:
    p.add_argument(
        "--capture-timeout",
        type=argtypes.timeout,
        default=8.0,
        help="seconds before failure to acquire",
    )


def add_tls_options(p: Parser, what: str) -> None:
    """``--tls-cert``/``--tls-key``: both read and parsed while the arguments are."""
    p.add_argument(
        "--tls-cert",
        type=argtypes.pem_certificate,
        default=None,
        help=f"serve {what} with this certificate (PEM)",
    )
    p.add_argument(
        "--tls-key",
        type=argtypes.pem_private_key,
        default=None,
        help="... and this private key (PEM)",
    )


def add_broker_option(p: Parser, help: str) -> None:
    p.add_argument("--broker", default=None, metavar="URL", help=help)


def add_users_option(p: Parser, help: str = "console accounts file") -> None:
    p.add_argument("--users", type=argtypes.users_file, default=None, help=help)


def add_screen_option(p: Parser) -> None:
    """``--screen [HOST:PORT]``: serve the traveller's screen (``gate.cli.lane_screen``)."""
    p.add_argument(
        "--screen",
        nargs="?",
        const=SCREEN_LISTEN,
        default=None,
        metavar="HOST:PORT",
        help=f"serve the traveller's screen for the lane's display (default {SCREEN_LISTEN})",
    )


def add_lane_options(p: argparse.ArgumentParser) -> None:
    """``--console``, ``--broker``, ``--site``, ``--users``: watching a lane that runs in
    this process (``egate run``, ``simulate``, ``demo``); ``gate.cli.lane_console`` reads
    them (``LaneWatch.from_args``); and ``--screen``, the traveller's screen."""
    add_screen_option(p)
    p.add_argument(
        "--console",
        nargs="?",
        const=DEFAULT_LISTEN,
        default=None,
        metavar="HOST:PORT",
        help=f"serve the officer console in this process (default {DEFAULT_LISTEN})",
    )
    add_broker_option(
        p, "publish lane events to mqtt[s]://host:port (or a broker init credentials file)"
    )
    p.add_argument("--site", default="site", help="site name in the event topics")
    add_users_option(p)
    p.add_argument(
        "--trust-console",
        type=argtypes.console_public_keys,
        action="append",
        default=[],
        metavar="PUB",
        help="believe officer commands signed by this console public key (file or folder "
        "of *.pub; repeatable); the in-process --console is always believed",
    )
