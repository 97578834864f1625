"""What ``tests/`` and ``bench/`` share: one running pcscd with the vpcd readers, and one
skip rule for everything that needs it.

A test that needs the real PC/SC path is marked ``@pytest.mark.pcsc`` (or asks for the
``pcscd`` fixture); where pcscd, vpcd or pyscard is missing it is skipped with the reason
(``PC/SC path unavailable: ...``). Nothing else hand-writes that check.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from drivers.chip.pcscd import PcscdStatus, ensure_pcscd, pcscd_available

PCSC_SKIP = "PC/SC path unavailable: "


@functools.cache
def pcsc_problem() -> str | None:
    """Why the PC/SC + vpcd path cannot run here (asked once per session), or None."""
    return pcscd_available()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("pcsc") is not None:
        problem = pcsc_problem()
        if problem:
            pytest.skip(PCSC_SKIP + problem)


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscdStatus]:
    """A running pcscd listing the vpcd readers (one reused, or one started for the module)."""
    problem = pcsc_problem()
    if problem:
        pytest.skip(PCSC_SKIP + problem)
    with ensure_pcscd() as status:
        yield status
