"""A benchmark-like check (marked slow): ``/api/hall`` stays quick for every user while four
login loops run, because argon2 runs in a worker thread, not on the event loop. With argon2
on the loop (as before) each request waited for the hashes queued ahead of it: 575 ms
instead of 2 ms.

It measures latency, so it is written not to flake on a shared machine. The control is the
same run's p95 while four threads do the same argon2 work *outside* the console (the same
CPU pressure, no login): the bound is the issue's 50 ms, or three times that control,
whichever is larger. On an idle machine that is 50 ms; on an overloaded one (the shared
2-core development box at load 12) the control rises with it, while argon2 on the event
loop would still be far above it (every request behind whole hashes): put back on the loop
for a try, this check failed with p95 3,061 ms against a bound of 261 ms, while with the
worker thread it passed at 34.5 ms beside a control of 97.8 ms (load 14, 2 cores). The
numbers are printed (``-s``)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.console.server import ConsoleServer
from gate.console.users import LoginLimiter
from tests.gate.console.apps import PASSWORDS, ConsoleWithLane
from tests.gate.console.broker import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def made(tmp_path: Path) -> Iterator[ConsoleWithLane]:
    with ConsoleWithLane(tmp_path) as console:
        yield console


def _p95(client: httpx.Client, count: int) -> tuple[float, float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/api/hall")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        time.sleep(0.01)  # a browser's pace, not a flood
    times.sort()
    return times[len(times) // 2], times[int(0.95 * (len(times) - 1))]


def _hash_loop(stop: threading.Event, done: list[int]) -> None:
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    hashed = hasher.hash("control-password")
    while not stop.is_set():
        hasher.verify(hashed, "control-password")
        done.append(1)


def _under(target: Any, args: tuple[Any, ...], client: httpx.Client) -> tuple[float, float, int]:
    """p50, p95 of /api/hall while four threads run ``target``, and how much they did."""
    stop, done = threading.Event(), []
    loops = [
        threading.Thread(target=target, args=(*args, stop, done), daemon=True) for _ in range(4)
    ]
    for loop in loops:
        loop.start()
    try:
        while len(done) < 4:  # they are hashing
            time.sleep(0.05)
        p50, p95 = _p95(client, 100)
        return p50, p95, len(done)
    finally:
        stop.set()
        for loop in loops:
            loop.join(30)


def _login_loop(url: str, user: str, stop: threading.Event, done: list[int]) -> None:
    with httpx.Client(base_url=url) as client:
        while not stop.is_set():
            form = {"username": user, "password": PASSWORDS[user]}
            assert client.post("/login", data=form).status_code in (200, 303)
            done.append(1)


def test_the_hall_stays_quick_while_four_login_loops_run(made: ConsoleWithLane) -> None:
    made.traveller("genuine")
    made.console.limiter = LoginLimiter(per_account=10_000, per_peer=10_000)
    server = ConsoleServer(made.console, f"127.0.0.1:{free_port()}").start()
    try:
        with httpx.Client(base_url=server.url) as client:
            form = {"username": "ada", "password": PASSWORDS["ada"]}
            assert client.post("/login", data=form).status_code in (200, 303)
            _p95(client, 20)  # warm up
            base_p50, base_p95 = _p95(client, 100)
            control_p50, control_p95, hashes = _under(_hash_loop, (), client)
            load_p50, load_p95, logins = _under(_login_loop, (server.url, "olga"), client)
    finally:
        server.stop()
    bound = max(50.0, 3 * control_p95)
    print(
        f"\n/api/hall p50/p95 ms: alone {base_p50:.1f}/{base_p95:.1f}; beside 4 argon2 loops "
        f"{control_p50:.1f}/{control_p95:.1f} ({hashes} hashes); with 4 login loops "
        f"{load_p50:.1f}/{load_p95:.1f} ({logins} logins); bound {bound:.0f} ms; "
        f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus"
    )
    assert logins > 4  # the loops really ran during the measurement
    assert load_p95 < bound
