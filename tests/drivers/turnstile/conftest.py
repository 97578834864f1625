"""Lanes for the turnstile contract suite: each emulator on a real pty, and real hardware
when EGATE_HIL_TURNSTILE names its address."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from drivers.turnstile.emulator import EmulatorHandle, Faults, Physics, start_emulator
from drivers.turnstile.registry import open_turnstile
from gate.turnstile import EventKind, Turnstile, TurnstileEvent

# fast enough for the 2-core budget, slow enough that a 20 ms Modbus poll sees every beam
TEST_PHYSICS = Physics(time_scale=0.25)
HIL_ENV = "EGATE_HIL_TURNSTILE"


@dataclass
class Lane:
    protocol: str
    driver: Turnstile
    handle: EmulatorHandle | None  # None on real hardware: the world cannot be scripted
    seen: list[TurnstileEvent] = field(default_factory=list)

    def wait_for(
        self,
        kind: EventKind,
        timeout: float = 5.0,
        where: Callable[[TurnstileEvent], bool] = lambda e: True,
    ) -> TurnstileEvent:
        """The first event of ``kind`` (already seen or arriving within ``timeout``)."""
        for old in self.seen:
            if old.kind is kind and where(old):
                return old
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ev = self.driver.next_event(end - time.monotonic())
            if ev is None:
                break
            self.seen.append(ev)
            if ev.kind is kind and where(ev):
                return ev
        kinds = [e.kind.value for e in self.seen]
        raise AssertionError(f"no {kind.value} within {timeout} s; saw {kinds}")

    def drain(self, seconds: float = 0.0) -> None:
        end = time.monotonic() + seconds
        while (ev := self.driver.next_event(max(0.0, end - time.monotonic()))) is not None:
            self.seen.append(ev)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.seen]

    def scripted(self) -> EmulatorHandle:
        if self.handle is None:
            pytest.skip(f"{HIL_ENV}: real hardware cannot be scripted (needs a person)")
        return self.handle


class LogWatch(logging.Handler):
    """Collects the drivers' log records and lets a test wait for one (no sleeping)."""

    def __init__(self, logger: str = "drivers.turnstile") -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._cv = threading.Condition()
        self._logger = logging.getLogger(logger)

    def __enter__(self) -> LogWatch:
        self._level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        with self._cv:
            self.records.append(record)
            self._cv.notify_all()

    def count(self, level: int, start: int = 0) -> int:
        with self._cv:
            return sum(1 for r in self.records[start:] if r.levelno == level)

    def mark(self) -> int:
        with self._cv:
            return len(self.records)

    def wait(self, level: int, n: int, start: int = 0, timeout: float = 10.0) -> None:
        """Until ``n`` records of ``level`` were logged since ``start``."""
        with self._cv:
            if not self._cv.wait_for(lambda: self.count(level, start) >= n, timeout):
                raise AssertionError(
                    f"fewer than {n} {logging.getLevelName(level)} records in {timeout} s"
                )


def make_lane(
    protocol: str, faults: Faults | None = None, options: str = "", link: str | None = None
) -> Iterator[Lane]:
    handle = start_emulator(protocol, physics=TEST_PHYSICS, faults=faults, link=link)
    driver = None
    try:
        sep = "&" if "?" in handle.address else "?"
        driver = open_turnstile(f"{handle.address}{sep}backoff=0.02{options}")
        yield Lane(protocol, driver, handle)
    finally:
        if driver is not None:
            driver.close()
        handle.close()


@pytest.fixture(
    params=[
        "gatectl",
        "modbus",
        "lcus",
        "modbus-tcp",  # the Modbus emulator behind socket://, as an RTU-over-TCP gateway
        pytest.param("hil", marks=pytest.mark.hil),
    ]
)
def lane(request: pytest.FixtureRequest) -> Iterator[Lane]:
    if request.param == "hil":
        address = os.environ.get(HIL_ENV)
        if not address:
            pytest.skip(f"set {HIL_ENV} to a turnstile address (e.g. gatectl:/dev/ttyUSB0)")
        driver = open_turnstile(address)
        try:
            yield Lane(address.partition(":")[0], driver, None)
        finally:
            driver.close()
        return
    if request.param == "modbus-tcp":
        yield from make_lane("modbus", link="tcp://127.0.0.1:0")
        return
    yield from make_lane(request.param)
