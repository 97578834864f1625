"""Fixtures of the console tests: a private Mosquitto per test that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gate.console.broker import Broker, mosquitto_problem


@pytest.fixture
def broker() -> Iterator[Broker]:
    problem = mosquitto_problem()
    if problem:
        pytest.skip(problem)
    running = Broker().start()
    try:
        yield running
    finally:
        running.close()
