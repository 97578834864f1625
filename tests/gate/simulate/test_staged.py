"""The set-up and tear-down the simulator's runs share (``Simulation``, ``Replay``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from gate.simulate.staged import Staged


class Run(Staged):
    """Starts steps 0, 1, 2; ``broken`` (its undo step) is registered after step 0."""

    def __init__(self, fail_at: int | None = None, broken: Callable[[], None] | None = None):
        super().__init__()
        self.fail_at = fail_at
        self.broken = broken
        self.undone: list[int] = []

    def _start(self) -> None:
        for step in range(3):
            if step == self.fail_at:
                raise RuntimeError(f"step {step} failed")
            self._cleanups.append(lambda step=step: self.undone.append(step))
            if step == 0 and self.broken is not None:
                self._cleanups.append(self.broken)


def test_what_started_is_undone_last_first() -> None:
    with Run() as run:
        run.add_cleanup(lambda: run.undone.append(9))  # added later: undone after the rest
        assert run.undone == []
    assert run.undone == [2, 1, 0, 9]


def test_a_failed_start_undoes_what_it_did() -> None:
    run = Run(fail_at=2)
    with pytest.raises(RuntimeError, match="step 2 failed"), run:
        pass
    assert run.undone == [1, 0]


def test_a_failing_step_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing() -> None:
        raise OSError("the emulator's port is gone")

    run = Run(broken=failing)
    with caplog.at_level(logging.ERROR, logger="gate.simulate.staged"), run:
        pass
    assert run.undone == [2, 1, 0]
    assert [r.getMessage() for r in caplog.records] == ["Run clean-up failed"]


def test_an_interrupt_while_closing_is_raised_once_all_are_undone() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    run = Run(broken=interrupted)
    with pytest.raises(KeyboardInterrupt), run:
        pass
    assert run.undone == [2, 1, 0]
