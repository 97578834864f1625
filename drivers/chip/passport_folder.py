"""The passport folder: what ``egate passport issue`` writes and the virtual chip reads.

A passport folder holds ``MANIFEST`` (``passport.json``: the ``FORMAT`` string, which file is
which FID, the MRZ, options), the LDS files as issued, and ``AA_KEY`` (``aa-key.pem``: the
chip's private Active Authentication key; in a real passport it never leaves the chip, here
it is the virtual chip's secret on disk). The issuing side writes these names; this module
is the device side that reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.chip.emulator import VirtualPassport

MANIFEST = "passport.json"
FORMAT = "egate-virtual-passport/1"
AA_KEY = "aa-key.pem"


def load_passport_folder(folder: Path, **faults: Any) -> VirtualPassport:
    """A ``VirtualPassport`` holding the passport in ``folder``.

    ``faults`` are the chip's fault and link options (``remove_after_apdus``, ``bad_mac``,
    ``link_kbps`` ...); raises ``DocumentError`` naming the folder when it cannot be loaded.
    """
    return VirtualPassport.from_folder(folder, **faults)
