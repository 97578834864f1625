"""Where egate keeps what it builds on the user's machine (packs, fetched wheels).

Its own module, below ``models.pack``, so that a kind's builder can find the folder without
importing the pack registry that imports it.
"""

from __future__ import annotations

import os
from pathlib import Path


def egate_home() -> Path:
    """``$EGATE_HOME``, default ``~/.cache/egate``."""
    configured = os.environ.get("EGATE_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "egate"
