"""Fixtures of the lane tests that run ``egate run`` as a process."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.chip.pcscd import PcscdStatus


@pytest.fixture(scope="module")
def kiosk_ready(pack_folder: Path, pcscd: PcscdStatus) -> None:
    """A prepared face pack and a running pcscd (each skips with its reason where missing)."""
