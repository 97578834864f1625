"""What ``tests/`` and ``bench/`` share: one running pcscd with the vpcd readers, and one
skip rule for everything that needs it.

A test that needs the real PC/SC path is marked ``@pytest.mark.pcsc`` (or asks for the
``pcscd`` fixture); where pcscd, vpcd or pyscard is missing it is skipped with the reason
(``PC/SC path unavailable: ...``). A test that runs a PC/SC stack of its own in private
namespaces (``tests.drivers.chip.isolated``: it may kill or limit that pcscd) is marked
``@pytest.mark.pcsc_isolated`` and skipped with the reason where that cannot be made.
Nothing else hand-writes these checks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

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
    if item.get_closest_marker("pcsc_isolated") is not None:
        from tests.drivers.chip.isolated import isolation_problem

        problem = isolation_problem()
        if problem:
            pytest.skip(problem)


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscdStatus]:
    """A running pcscd listing the vpcd readers (one reused, or one started for the module)."""
    problem = pcsc_problem()
    if problem:
        pytest.skip(PCSC_SKIP + problem)
    with ensure_pcscd() as status:
        yield status


@pytest.fixture(scope="module")
def pack_folder() -> Path:
    """The default face pack's folder (skips with the reason where it is not prepared)."""
    from gate.errors import ModelError
    from models.pack import pack_dir

    try:
        return pack_dir(None)
    except ModelError as exc:
        pytest.skip(f"face model pack not prepared ({exc})")
