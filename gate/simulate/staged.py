"""What the simulator's runs (``Simulation``, ``Replay``) share: set up in ``_start``, each
thing started registered with the step that undoes it, all undone in reverse order on close."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
_S = TypeVar("_S", bound="Staged")


class Staged:
    """A context manager: entering runs ``_start`` (and undoes what it did when it fails),
    leaving runs the undo steps, last first. A step that fails is logged and the rest still
    run; an interrupt (a second SIGTERM, Ctrl-C) is raised again once all have run."""

    def __init__(self) -> None:
        self._cleanups: list[Callable[[], None]] = []

    def _start(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_cleanup(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` last on close, after every undo step of the start (e.g. for a
        server restarted by a test while the run goes on)."""
        self._cleanups.insert(0, cleanup)

    def close(self) -> None:
        interrupted: BaseException | None = None
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception:
                log.exception("%s clean-up failed", type(self).__name__)
            except BaseException as exc:
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
