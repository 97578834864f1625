"""The ``egate`` command line.

Each command family lives in its own module with ``register(registry)``; modules keep heavy
imports (OpenCV, ONNX Runtime, pyscard) inside their handlers so ``egate --help`` stays fast.
Every ``GateError`` is reported as one line on stderr and a non-zero exit, never a traceback;
so is every argument error (argparse's usage block is not printed: ``egate CMD --help`` has it)
and an ``OSError`` from a file the user named (a directory given as ``-o``, a full disk).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from gate.errors import GateError, InputError

Handler = Callable[[argparse.Namespace], int]
SubParsers = argparse._SubParsersAction  # noqa: SLF001 - argparse has no public name for it

# One module per command family; each owner edits only its own module.
COMMAND_MODULES = (
    "gate.cli.models_cmd",
    "gate.cli.face_cmd",
    "gate.cli.bench_cmd",
    "gate.cli.chip_cmd",
    "gate.cli.pki_cmd",
    "gate.cli.turnstile_cmd",
    "gate.cli.camera_cmd",
    "gate.cli.gate_cmd",
    "gate.cli.audit_cmd",
    "gate.cli.console_cmd",
    "gate.cli.render_cmd",
)

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and the answer is "no" (no match, a device refused ...)
EXIT_ERROR = 2  # the command could not run (bad input, missing device, invalid config)


class UsageError(InputError):
    """The command line itself is wrong (unknown option, bad value, missing argument)."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are a ``UsageError`` (one line, exit 2 from ``main``) instead of
    a usage block and ``SystemExit``; sub-command parsers inherit the class."""

    def error(self, message: str) -> typing.NoReturn:
        command = self.prog.partition(" ")[2]
        raise UsageError(f"{command}: {message}" if command else message)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so an error that
    quotes user input (a file name with a newline) stays on one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def print_error(message: str, prefix: str = "egate: error: ") -> None:
    print(prefix + one_line(message), file=sys.stderr)


class Registry:
    """Builds nested argparse sub-commands from space-separated paths ("emulate camera")."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._root = parser
        self._groups: dict[
            tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]
        ] = {}
        self._parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {(): parser}

    def _subparsers(
        self, path: tuple[str, ...]
    ) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        if path not in self._groups:
            parent = self._parser(path)
            self._groups[path] = parent.add_subparsers(
                title="commands", dest="_cmd_" + "_".join(path), metavar="COMMAND"
            )
        return self._groups[path]

    def _parser(self, path: tuple[str, ...]) -> argparse.ArgumentParser:
        if path not in self._parsers:
            group = self._subparsers(path[:-1])
            self._parsers[path] = group.add_parser(path[-1], help=f"{path[-1]} commands")
            self._parsers[path].set_defaults(egate_handler=None, egate_group=self._parsers[path])
        return self._parsers[path]

    def group(self, path: str, help: str) -> None:
        """Declare a command group (``egate emulate``) with its help text."""
        words = tuple(path.split())
        if words in self._parsers:
            return
        sub = self._subparsers(words[:-1])
        p = sub.add_parser(words[-1], help=help, description=help)
        p.set_defaults(egate_handler=None, egate_group=p)
        self._parsers[words] = p

    def command(self, path: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        """Add a command at ``path`` and return its parser for the caller's arguments."""
        words = tuple(path.split())
        for depth in range(1, len(words)):
            self._parser(words[:depth])
        sub = self._subparsers(words[:-1])
        p = sub.add_parser(words[-1], help=help, description=help)
        p.set_defaults(egate_handler=handler)
        self._parsers[words] = p
        return p


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="egate", description="Open-source e-gate: kiosk runtime, simulator and benchmarks."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.set_defaults(egate_handler=None, egate_group=parser)
    registry = Registry(parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(registry)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager stopping the kiosk) unwinds like Ctrl-C, so every command's
    clean-up runs: doors locked, emulators and the private pcscd stopped, audit closed."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_sets(stop: threading.Event) -> Iterator[threading.Event]:
    """Within the block, SIGTERM sets ``stop`` instead of unwinding, so a service (a kiosk
    lane, an emulator) finishes what it is doing (the traveller in the lane) and returns.
    The one other SIGTERM behaviour, outside such blocks, is ``Terminated`` above."""
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread; nothing to install
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
