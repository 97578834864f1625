"""Stopping a kiosk lane at SIGTERM or SIGINT, within moments, in whatever state it is.

A lane waits on devices in every state (the card on the reader, a face in front of the
camera, the traveller walking out); waiting for the traveller in the lane to finish could
take a minute. So the first signal sets the stop event and raises ``LaneStopping`` in the
lane's (main) thread if a traveller is in the lane: the transaction in progress ends as a
referral (REFER_DEVICE, doors locked, recorded in the audit log like any other), and the
lane serves no one else. An idle lane only has the event set: it looks at it after each
``idle_poll_s``. Further signals only set the event again, so the referral is recorded in
peace.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class LaneStopping(BaseException):  # not an Exception: no handler may swallow it
    """Raised in the lane's thread by a stop signal; its text names the signal."""


@contextmanager
def stop_on_signals(stop: threading.Event, busy: Callable[[], bool]) -> Iterator[threading.Event]:
    """Within the block, SIGTERM and SIGINT set ``stop`` and, the first time, raise
    ``LaneStopping`` where the lane is if it is ``busy()`` with a traveller. Outside the
    main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        first = not stop.is_set()
        stop.set()
        if first and busy():
            raise LaneStopping(f"lane stopped ({signal.Signals(signum).name})")

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
