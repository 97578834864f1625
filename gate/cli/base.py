"""What every command module shares: exit codes, the command registry, one-line errors and
SIGTERM handling. Command modules import this module (and ``gate.cli.args``,
``gate.cli.options``), never ``gate.cli`` itself or one another: ``gate.cli`` imports them.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from gate.errors import InputError

Handler = Callable[[argparse.Namespace], int]
SubParsers = argparse._SubParsersAction  # noqa: SLF001 - argparse has no public name for it

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


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager stopping the kiosk) unwinds like Ctrl-C, so every command's
    clean-up runs: doors locked, emulators and the private pcscd stopped, audit closed."""


def raise_terminated(signum: int, frame: FrameType | None) -> None:
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
