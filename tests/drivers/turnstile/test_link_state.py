"""The link's reconnection policy: exponential backoff, and one log line per change of
state rather than one per attempt."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import serial

from drivers.turnstile.gatectl_driver import GatectlTurnstile
from drivers.turnstile.link import Backoff
from drivers.turnstile.modbus_driver import ModbusTurnstile
from gate.errors import DeviceGoneError, DeviceTimeoutError
from tests.drivers.turnstile.conftest import LogWatch


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.05, 2.0)
    delays = [backoff.next() for _ in range(9)]
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next() == 0.05


class HangingUpPort:
    """A port that opens and hangs up at once (a serial server that accepts and closes)."""

    timeout = 0.01
    in_waiting = 0

    def read(self, size: int = 1) -> bytes:
        raise serial.SerialException("socket disconnected")

    def write(self, data: bytes) -> int:
        raise serial.SerialException("socket disconnected")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize("driver", [GatectlTurnstile, ModbusTurnstile])
def test_a_port_that_opens_and_hangs_up_is_retried_with_backoff_quietly(driver: Any) -> None:
    """The delay grows although every open succeeds (the set-up is what fails), so a
    one-second connect makes a handful of attempts, not twenty; none is a WARNING."""
    opened = 0
    lock = threading.Lock()

    def factory() -> HangingUpPort:
        nonlocal opened
        with lock:
            opened += 1
        return HangingUpPort()

    with LogWatch() as logs, pytest.raises((DeviceGoneError, DeviceTimeoutError)) as err:
        driver(factory, url="hangs-up", backoff=0.05, connect_timeout=1.0)
    # 0.05 + 0.1 + 0.2 + 0.4 = 0.75 s: at most 5 opens fit in 1 s (a slow machine makes fewer)
    assert 1 <= opened <= 5
    assert logs.count(logging.WARNING) == 0, [r.getMessage() for r in logs.records]
    assert "hangs-up" in str(err.value)
