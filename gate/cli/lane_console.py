"""Watching a lane that runs in this process: the lane's reporter (events to a broker, officer
commands back) and, with ``--console``, the officer console's web server beside it; with
``--screen``, the traveller's screen (``gate.cli.lane_screen``).

``egate run``, ``simulate`` and ``demo`` take the options (``options.add_lane_options``);
``egate console`` shares the accounts file. Heavy imports (the console, MQTT) happen only
when a console or broker is asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli.lane_screen import LaneScreen, lane_screen

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from gate.console.reporter import LaneReporter
    from gate.console.web import Console
    from gate.lane import Lane, Observer


def users_path(users: str | None) -> Path:
    """The console accounts file: ``--users`` or the installation's default."""
    from gate.console.users import default_users_path

    return Path(users) if users else default_users_path()


@dataclass(frozen=True)
class LaneWatch:
    """Who watches the lane: an in-process console (its HOST:PORT), a broker, the site's
    name in the event topics and the console's accounts file."""

    console: str | None = None
    broker: str | None = None
    site: str = "site"
    users: str | None = None
    trust_console: tuple[str, ...] = ()  # console public keys (files or folders of *.pub)
    screen: str | None = None  # the traveller's screen's HOST:PORT

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LaneWatch:
        """The options of ``options.add_lane_options``."""
        return cls(
            console=args.console,
            broker=args.broker,
            site=args.site,
            users=args.users,
            trust_console=tuple(args.trust_console),
            screen=getattr(args, "screen", None),
        )

    def trusted(self, configured: Path | None = None) -> tuple[Ed25519PublicKey, ...]:
        """The console keys of ``--trust-console`` and the config's lane.trusted_consoles."""
        from gate.lane import load_public_keys

        paths = [Path(value) for value in self.trust_console]
        keys: list[Ed25519PublicKey] = []
        for path in [*paths, *([configured] if configured is not None else [])]:
            keys += load_public_keys(path)
        return tuple(keys)

    @property
    def watched(self) -> bool:
        return bool(self.console or self.broker)

    def given(self) -> list[str]:
        """The options that ask for a watcher (for "not with --lanes" messages)."""
        asked = (("--console", self.console), ("--broker", self.broker), ("--screen", self.screen))
        return [flag for flag, value in asked if value is not None]


@dataclass
class LaneConsole:
    """What ``lane_console`` gives the command: the lane's reporter (``None`` with neither
    --console nor --broker) and the in-process console, if any."""

    reporter: LaneReporter | None = None
    console: Console | None = None
    screen: LaneScreen = field(default_factory=LaneScreen)

    @property
    def observers(self) -> tuple[Observer, ...]:
        """What the lane is built with: the reporter and the traveller's screen, if any."""
        return (*((self.reporter,) if self.reporter is not None else ()), *self.screen.observers)

    def attach(self, lane: Lane, audit: Path | None) -> None:
        """Take officer commands for ``lane``; its audit log is shown to auditors; the
        traveller's screen shows it."""
        self.screen.attach(lane)
        if self.reporter is not None:
            self.reporter.attach(lane)
        if self.console is not None and audit is not None and self.reporter is not None:
            self.console.audit_logs[self.reporter.lane_id] = audit


@contextmanager
def lane_console(watch: LaneWatch, lane: str, trusted: Path | None = None) -> Iterator[LaneConsole]:
    """The lane's reporter and, with a console, the console's web server, for the block;
    the traveller's screen with ``--screen``. The lane believes officer commands signed by
    the in-process console, by the keys of ``--trust-console`` and by those in ``trusted``
    (the config's lane.trusted_consoles)."""
    with lane_screen(watch.screen) as shown, _watched(watch, lane, trusted) as linked:
        linked.screen = shown
        yield linked


@contextmanager
def _watched(watch: LaneWatch, lane: str, trusted: Path | None) -> Iterator[LaneConsole]:
    if not watch.watched:
        yield LaneConsole()
        return
    from gate.console.server import ConsoleServer, Wiring, demo_users, lane_reporter, make_console

    wiring = Wiring.make(watch.broker, trusted=watch.trusted(trusted))
    reporter = lane_reporter(wiring, watch.site, lane, own_console=bool(watch.console))
    if not watch.console and not wiring.trusted:
        print(f"{lane}: no --trust-console key: every officer command will be refused",
              file=sys.stderr)  # fmt: skip
    linked = LaneConsole(reporter)
    server = link = None
    try:
        if watch.console:
            users = demo_users(users_path(watch.users))
            linked.console, link = make_console(wiring, users)
            server = ConsoleServer(linked.console, watch.console).start()
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
