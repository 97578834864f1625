"""Fixtures of the console tests: a private Mosquitto per test that asks for one, and one
headless Chromium per module of browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.gate.console.broker import Broker, mosquitto_problem
from tests.gate.console.browser import chromium


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


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium, shared by a module's browser tests (skips where it cannot run)."""
    with chromium(tmp_path_factory) as browser:
        yield browser
