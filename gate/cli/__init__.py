"""The ``egate`` command line.

Each command family lives in its own module with ``register(registry)``; ``COMMANDS`` below
lists them as plain imports, so every tool (and reader) sees the table. The modules keep
heavy imports (OpenCV, ONNX Runtime, pyscard) inside their handlers so ``egate --help``
stays fast; what they share lives in ``gate.cli.base`` (exit codes, the registry, one-line
errors, SIGTERM), ``gate.cli.args`` (checked value types) and ``gate.cli.options`` (the
options several commands take, declared once). A command module never imports another.

Every ``GateError`` is reported as one line on stderr and a non-zero exit, never a traceback;
so is every argument error (argparse's usage block is not printed: ``egate CMD --help`` has it)
and an ``OSError`` from a file the user named (a directory given as ``-o``, a full disk).
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from gate.cli import (
    audit_cmd,
    bench_cmd,
    bench_lane_cmd,
    camera_cmd,
    chip_cmd,
    console_cmd,
    face_cmd,
    gate_cmd,
    models_cmd,
    mrz_cmd,
    pki_cmd,
    render_cmd,
    turnstile_cmd,
    watchlist_cmd,
)
from gate.cli.base import (
    EXIT_ERROR,
    EXIT_FAILURE,
    EXIT_OK,
    Handler,
    OneLineArgumentParser,
    Registry,
    Terminated,
    UsageError,
    one_line,
    print_error,
    raise_terminated,
    sigterm_sets,
)
from gate.errors import GateError

# One module per command family, in the order ``egate --help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    models_cmd,
    face_cmd,
    bench_cmd,
    bench_lane_cmd,
    render_cmd,
    mrz_cmd,
    chip_cmd,
    pki_cmd,
    turnstile_cmd,
    camera_cmd,
    gate_cmd,
    audit_cmd,
    console_cmd,
    watchlist_cmd,
)


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="egate", description="Open-source e-gate: kiosk runtime, simulator and benchmarks."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.set_defaults(egate_handler=None, egate_group=parser)
    registry = Registry(parser)
    for module in COMMANDS:
        module.register(registry)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_ERROR
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    handler: Handler | None = args.egate_handler
    if handler is None:
        args.egate_group.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return handler(args)
    except GateError as exc:
        print_error(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        # A file the user named cannot be used (a directory as output, no permission, a
        # full disk): the system's reason and the file, not a traceback.
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print_error(f"{where}{exc.strerror or exc}")
        return EXIT_ERROR
    except Terminated:
        print("egate: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("egate: interrupted", file=sys.stderr)
        return 130


__all__ = [
    "COMMANDS",
    "EXIT_ERROR",
    "EXIT_FAILURE",
    "EXIT_OK",
    "Registry",
    "UsageError",
    "build_parser",
    "main",
    "one_line",
    "print_error",
    "sigterm_sets",
]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
