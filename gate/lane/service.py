"""Out of service means it (issue 25): a kiosk lane whose turnstile, camera or chip reader
does not answer takes no traveller, says which device since when, and comes back by itself
once every device answers.

``DeviceGuard`` sits between the page scanner's documents and the lane
(``gate.lane.build`` wraps the MRZ source in it). Before a document is handed to the lane,
and every ``CHECK_EVERY_S`` while the lane is idle, each device is asked (the turnstile its
status, the camera a frame, the reader whether pcscd lists it). While one does not answer,
a document scanned is refused with a log line (the traveller sees the lane out of service;
a scan minutes old must not start a transaction when the lane comes back). Each change is
one log line and one lane event (``service``) for the console.

``ReopeningTurnstile``: a turnstile missing at start-up is the same as one lost later
(out of service, not exit 2); it is opened again when asked.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from gate.errors import DeviceError, DeviceGoneError, GateError
from gate.lane.ports import DocumentSource
from gate.transaction import PresentedDocument
from gate.turnstile import DEFAULT_TIMEOUT, Turnstile, TurnstileEvent, TurnstileStatus

log = logging.getLogger("gate.lane")

T = TypeVar("T")
CHECK_EVERY_S = 2.0  # how often an idle lane asks its devices
PROBE_TIMEOUT_S = 1.0
REOPEN_S = 5.0  # a turnstile that could not be opened is tried again after this long

Probe = Callable[[], None]  # raises when the device does not answer
Emit = Callable[[str, str], None]  # (kind, detail): a lane event


class DeviceGuard:
    """A ``DocumentSource`` that hands on documents only while every device answers."""

    def __init__(
        self,
        documents: DocumentSource,
        probes: Mapping[str, Probe],
        *,
        check_every_s: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._documents = documents
        self._probes = dict(probes)
        self._check_every_s = check_every_s
        self._clock = clock
        self._checked_at: float | None = None
        self.down: dict[str, tuple[float, str]] = {}  # device -> (Unix time down since, why)
        self.emit: Emit = lambda kind, detail: None  # set to the lane's events once built
        self.heartbeat: Callable[[], None] = lambda: None  # the idle lane is alive
        self._stopped = threading.Event()

    @property
    def ended(self) -> bool:
        return self._documents.ended

    @property
    def in_service(self) -> bool:
        return not self.down

    def close(self) -> None:
        self._stopped.set()

    def wait_document(self, timeout: float) -> PresentedDocument | None:
        self.heartbeat()
        now = self._clock()
        if self.down or self._checked_at is None or now - self._checked_at >= self._check_every_s:
            self.check()  # while out of service, at every poll: back as soon as it can be
        if self.down:  # no traveller taken: wait briefly for a scan, only to refuse it
            document = self._documents.wait_document(min(timeout, 0.1))
            if document is None:
                self._stopped.wait(max(0.0, timeout - 0.1))
                return None
        else:
            document = self._documents.wait_document(timeout)
            if document is None:
                return None
        self.check()  # the traveller is taken only by a lane whose devices answer now
        if self.down:  # a scan is refused, not kept: minutes later it is no traveller's
            log.warning("document scanned while out of service (%s): refused",
                        ", ".join(self.down))  # fmt: skip
            return None
        return document

    def check(self) -> None:
        """Ask every device; a change of state is logged and sent as a lane event."""
        self._checked_at = self._clock()
        was_down = dict(self.down)
        for name, probe in self._probes.items():
            try:
                probe()
            except Exception as exc:  # any failure of a device is "down", named
                if name not in self.down:
                    self.down[name] = (time.time(), str(exc))
            else:
                self.down.pop(name, None)
        if self.down and self.down.keys() != was_down.keys():
            detail = self.describe()
            log.warning("lane out of service: %s", detail)
            self.emit("service", f"out of service: {detail}")
        elif was_down and not self.down:
            log.warning("lane back in service: every device answers")
            self.emit("service", "in service")

    def describe(self) -> str:
        """``camera down since 04:50:01 UTC (why); ...``."""
        return "; ".join(
            f"{name} down since "
            f"{dt.datetime.fromtimestamp(since, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC ({why})"
            for name, (since, why) in sorted(self.down.items())
        )


class ReopeningTurnstile:
    """A turnstile that may be missing at start-up: opened when first needed, and after a
    failed open, calls fail at once for ``REOPEN_S`` (an open waits seconds). Once opened,
    the driver's own reconnection handles a port that vanishes and comes back."""

    def __init__(
        self, open_turnstile: Callable[[], Turnstile], description: str, reopen_s: float = REOPEN_S
    ) -> None:
        self._open = open_turnstile
        self.description = description
        self._reopen_s = reopen_s
        self._inner: Turnstile | None = None
        self._lock = threading.Lock()
        self._failed: tuple[float, str] | None = None  # the last failed open: when, why
        try:
            self._current()
        except DeviceError as exc:  # out of service until it answers, not exit 2
            log.warning("%s: not there at start-up: %s", description, exc)

    def _current(self) -> Turnstile:
        with self._lock:
            if self._inner is None:
                if self._failed is not None and time.monotonic() - self._failed[0] < self._reopen_s:
                    raise DeviceGoneError(self._failed[1])  # opening takes seconds: not yet
                try:
                    self._inner = self._open()
                except DeviceError as exc:
                    self._failed = (time.monotonic(), str(exc))
                    raise
                except GateError:  # a config error: exit 2 at start-up
                    raise
                except Exception as exc:  # e.g. an OSError of a port that is gone
                    raise DeviceGoneError(f"{self.description}: cannot open: {exc}") from exc
            return self._inner

    def _call(self, call: Callable[[Turnstile], T]) -> T:
        # Once opened, the driver is kept: each driver reconnects by itself after its port
        # vanishes (with backoff, locking first), so dropping it here would only add a
        # REOPEN_S blackout after the device is back.
        return call(self._current())

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._call(lambda t: t.open_entry(timeout))

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._call(lambda t: t.open_exit(timeout))

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._call(lambda t: t.lock(timeout))

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus:
        return self._call(lambda t: t.status(timeout))

    def next_event(self, timeout: float) -> TurnstileEvent | None:
        return self._call(lambda t: t.next_event(timeout))

    def close(self) -> None:
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            inner.close()
