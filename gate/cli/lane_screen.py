"""The traveller's screen beside a lane that runs in this process (``--screen`` on
``egate run``, ``simulate`` and ``demo``): the screen is one more observer of the lane,
and its page is served until the command ends. ``gate.screen`` (Starlette, uvicorn, Babel)
is imported only when a screen is asked for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gate.lane import Lane, Observer
    from gate.screen import Screen


@dataclass(frozen=True)
class LaneScreen:
    """The screen (``None`` without ``--screen``): an observer to build the lane with, and
    ``attach`` once the lane is built."""

    screen: Screen | None = None

    @property
    def observers(self) -> tuple[Observer, ...]:
        return (self.screen,) if self.screen is not None else ()

    def attach(self, lane: Lane) -> None:
        if self.screen is not None:
            from gate.screen import attach

            attach(self.screen, lane)


@contextmanager
def lane_screen(listen: str | None) -> Iterator[LaneScreen]:
    """The traveller's screen on ``listen`` (HOST:PORT) for the block; nothing when None."""
    if listen is None:
        yield LaneScreen()
        return
    from gate.screen import Screen
    from gate.screen.server import ScreenServer  # (named here: the CLI fuzz test stubs it)

    screen = Screen()
    try:
        with ScreenServer(screen, listen) as server:
            print(f"traveller's screen: {server.url}", file=sys.stderr, flush=True)
            yield LaneScreen(screen)
    finally:
        screen.close()
