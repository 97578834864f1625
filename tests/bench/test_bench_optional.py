"""The bench extra's packages: a missing one is a GateError naming the extra to install."""

from __future__ import annotations

import sys

import pytest

from bench import optional
from gate.errors import GateError


def test_no_bar_needs_no_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # None in sys.modules: import fails
    assert list(optional.progress([1, 2], desc="x", unit="i", enabled=False)) == [1, 2]
    with pytest.raises(GateError, match=r"progress bars need tqdm.*pip install 'egate\[bench\]'"):
        optional.progress([1], desc="x", unit="i", enabled=True)


def test_plots_without_matplotlib_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(GateError, match=r"plots need matplotlib.*pip install 'egate\[bench\]'"):
        optional.pyplot()
