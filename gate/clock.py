"""The gate's clock, injectable so that simulations can run faster than real time.

The controller never calls ``time`` directly: it asks a ``Clock``. ``now()`` is a monotonic
reading in seconds (for timeouts and stage timings), ``wall()`` is Unix time (for the audit
log). ``SimulatedClock`` jumps forward on ``sleep`` instead of waiting, so a unit test can
walk through a 30-second passage timeout in microseconds; ``ScaledClock`` runs real time
``speed`` times faster, which is what ``egate simulate --speed X`` uses with live emulators.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from gate.errors import ConfigError, InputError


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds (arbitrary origin)."""
        ...

    def wall(self) -> float:
        """Unix time in seconds."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Real time sped up by ``speed``: one real second reads as ``speed`` gate seconds."""

    def __init__(self, speed: float) -> None:
        if not speed > 0:
            raise ConfigError(f"clock speed must be > 0, got {speed!r}")
        self.speed = float(speed)
        self._mono0 = time.monotonic()
        self._wall0 = time.time()

    def now(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.speed

    def wall(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


class SimulatedClock:
    """A clock that only moves when told: ``sleep`` advances it instantly.

    Thread-safe, because fakes driven from other threads may advance it too.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._wall_offset = float(wall_start) - float(start)

    def now(self) -> float:
        with self._lock:
            return self._now

    def wall(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise InputError(f"a simulated clock cannot go back ({seconds} s)")
        with self._lock:
            self._now += seconds


@contextmanager
def timed(timings: MutableMapping[str, float] | None, stage: str) -> Iterator[None]:
    """Add the milliseconds spent in the ``with`` block to ``timings[stage]``.

    The one stage timer of the project (chip reader, capture pipeline, face engine). It
    measures processing cost with ``perf_counter``, not gate time: a simulated clock must not
    make a slow model look fast. A stage seen twice accumulates; ``None`` times nothing.
    """
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0
