"""Micro-benchmarks of turnstile command-to-acknowledge round trips over a real pty.

Run: ``.venv/bin/pytest bench/micro/test_turnstile_micro.py --benchmark-enable --benchmark-only``

One round trip = the driver encodes a command, writes it to the pty, the emulator (another
thread) decodes it, acts on the lane and answers, the driver decodes and matches the answer:
* gatectl: ``LOCK`` -> ``ACK`` (7 + 7 bytes on the line);
* modbus: write single coil (exit relay off) -> echo (8 + 8 bytes), framed by pymodbus.
Line-speed emulation off (the pty's own speed, the baseline), at 115200 and at 9600 baud
(10 bit times per byte in each direction). p50/p99 in milliseconds and the p50 ratio against
the same protocol's line-speed-off run of this session go into ``extra_info``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.turnstile import gatectl as g
from drivers.turnstile import modbus as mb
from drivers.turnstile.emulator import Physics, start_emulator
from drivers.turnstile.gatectl_driver import GatectlTurnstile
from drivers.turnstile.modbus_driver import ModbusTurnstile
from drivers.turnstile.registry import open_turnstile

ROUNDS = {None: 400, 115200: 200, 9600: 30}  # 9600 kept short: ~17 ms a round trip
_p50: dict[str, float] = {}


@pytest.fixture(params=[None, 115200, 9600], ids=["off", "115200", "9600"])
def baud(request: pytest.FixtureRequest) -> int | None:
    param = request.param
    assert param is None or isinstance(param, int)
    return param


def _round_trip(protocol: str, baud: int | None) -> Iterator[Callable[[], object]]:
    world = start_emulator(protocol, physics=Physics(baud=baud))
    # keep background traffic (heartbeats, input polls) out of the measured window
    quiet = "heartbeat=30&watchdog=60&ack=1" if protocol == "gatectl" else "poll=30&reply=1"
    driver = open_turnstile(f"{protocol}:{world.port}?{quiet}&retries=0")
    try:
        if isinstance(driver, GatectlTurnstile):
            yield lambda: driver.command(g.Command.LOCK, b"", 2.0)
        else:
            assert isinstance(driver, ModbusTurnstile)
            request = mb.write_coil(driver.mapping.unit, driver.mapping.exit_coil, False)
            yield lambda: driver.transaction(request, 2.0)
    finally:
        driver.close()
        world.close()


def _record(benchmark: Any, protocol: str, baud: int | None) -> None:
    if benchmark.stats is None:
        return  # --benchmark-disable (make test): a smoke run, nothing timed
    data = sorted(benchmark.stats.stats.data)
    p50 = statistics.median(data)
    p99 = data[min(len(data) - 1, round(0.99 * (len(data) - 1)))]
    key = f"{protocol}-{baud or 'off'}"
    _p50[key] = p50
    info = benchmark.extra_info
    info.update(p50_ms=round(p50 * 1e3, 3), p99_ms=round(p99 * 1e3, 3), rounds=len(data))
    base = _p50.get(f"{protocol}-off")
    if baud and base:
        info["p50_vs_line_speed_off"] = round(p50 / base, 1)
    if baud:
        # what the wire alone costs: request + answer bytes at 10 bit times each
        wire = {"gatectl": 7 + 7, "modbus": 8 + 8}[protocol] * 10 / baud
        info["wire_time_ms"] = round(wire * 1e3, 3)


@pytest.mark.parametrize("protocol", ["gatectl", "modbus"])
def test_command_to_ack(benchmark: Any, protocol: str, baud: int | None) -> None:
    for call in _round_trip(protocol, baud):
        call()  # warm-up: first frame through the pty
        benchmark.pedantic(call, rounds=ROUNDS[baud], iterations=1)
        _record(benchmark, protocol, baud)
