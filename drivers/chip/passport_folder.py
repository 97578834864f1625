"""The passport folder: what ``egate passport issue`` writes and the virtual chip reads.

A passport folder holds ``MANIFEST`` (``passport.json``: the ``FORMAT`` string, which file is
which FID, the MRZ, options), the LDS files as issued, and ``AA_KEY`` (``aa-key.pem``: the
chip's private Active Authentication key; in a real passport it never leaves the chip, here
it is the virtual chip's secret on disk). The issuing side writes these names; this module
is the device side that reads them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drivers.chip.emulator import VirtualPassport, mrz_information
from gate.errors import DocumentError
from gate.files import read_regular_file

MANIFEST = "passport.json"
FORMAT = "egate-virtual-passport/1"
AA_KEY = "aa-key.pem"


def load_passport_folder(folder: Path, **faults: Any) -> VirtualPassport:
    """A ``VirtualPassport`` holding the passport in ``folder``.

    ``faults`` are the chip's fault and link options (``remove_after_apdus``, ``bad_mac``,
    ``link_kbps`` ...); raises ``DocumentError`` naming the folder when it cannot be loaded.
    """
    try:
        manifest = json.loads(_read(folder / MANIFEST))
        files = {int(fid, 16): _read(folder / name) for fid, name in manifest["files"].items()}
        key = None
        if manifest.get("aa_key"):
            loaded = serialization.load_pem_private_key(
                _read(folder / manifest["aa_key"]), password=None
            )
            if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise DocumentError(f"virtual passport {folder}: AA key is not RSA or EC")
            key = loaded
        lines = list(manifest["mrz"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"virtual passport {folder}: cannot load: {exc}") from exc
    faults.setdefault("pace_only", bool(manifest.get("pace_only", False)))
    return VirtualPassport(files, mrz_information(lines), aa_key=key, **faults)


MAX_FILE_BYTES = 1 << 20  # an LDS file (DG2 included) is tens of kilobytes


def _read(path: Path) -> bytes:
    """One file of the folder; a FIFO, device or folder in its place is refused, not read."""
    return read_regular_file(path, "passport file", max_bytes=MAX_FILE_BYTES, error=DocumentError)
