"""The harness's optional packages: the ``bench`` extra (matplotlib for plots, tqdm for bars).

Both are imported only where they are used, so the figures themselves need neither; a missing
one is a one-line ``GateError`` naming the extra to install, not an ImportError traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from gate.errors import GateError

EXTRA = "bench"
T = TypeVar("T")


def _missing(package: str, purpose: str) -> GateError:
    return GateError(
        f"{purpose} need {package}, which is not installed: pip install 'egate[{EXTRA}]'"
    )


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend."""
    try:
        import matplotlib
    except ImportError as exc:
        raise _missing("matplotlib", "plots") from exc
    matplotlib.use("Agg")  # files only: no display on a kiosk or a CI runner
    import matplotlib.pyplot as plt

    return plt


def progress(items: Iterable[T], *, desc: str, unit: str, enabled: bool) -> Iterable[T]:
    """``items`` with a progress bar on stderr when ``enabled`` (tqdm needed only then)."""
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError as exc:
        raise _missing("tqdm", "progress bars") from exc
    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, leave=False)
