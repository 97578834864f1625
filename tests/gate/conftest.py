"""Fixtures of the gate tests: a test PKI per module, a real lane per test (fault tests) and
the face model pack (end-to-end simulations skip with the reason when it is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.turnstile.emulator import Physics, start_emulator
from gate.audit import AuditLog
from gate.simulate.pki import TestPki, init_pki
from tests.gate.lane.real_lane import RealLane


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def lane(tmp_path: Path, pki: TestPki) -> Iterator[RealLane]:
    emulator = start_emulator("gatectl", physics=Physics(time_scale=0.05))
    audit = AuditLog.open(tmp_path / "audit.db")
    try:
        real = RealLane(tmp_path, pki, emulator, audit)
        with real.controller:
            yield real
    finally:
        audit.close()
        emulator.close()
