"""The passport folder: what ``egate passport issue`` writes and the virtual chip reads.

A passport folder holds ``MANIFEST`` (``passport.json``: the ``FORMAT`` string, which file
is which FID in the application (``files``; EF.CardAccess too) and in the master file
(``master_file``: EF.CardSecurity), the MRZ, the CAN, options), the LDS files as issued,
``AA_KEY`` (``aa-key.pem``: the chip's private Active Authentication key; in a real passport
it never leaves the chip, here it is the virtual chip's secret on disk) and the Chip
Authentication key (``CA_KEY_EC`` PEM or ``CA_KEY_DH`` JSON). The issuing side writes these
names; this module is the device side that reads them.

``clone=True`` presents a cloned chip: the same files, but AA and CA private keys of the
same kind that do not match DG15 and DG14 (a copy cannot extract the originals).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drivers.chip.chip_auth_side import CaKey
from drivers.chip.emulator import VirtualPassport, mrz_information
from gate.errors import DocumentError
from gate.files import read_regular_file
from gate.icao.chip_auth import DhKey
from gate.icao.pace_groups import dh_group_of
from gate.json_files import decode_utf8, parse_json

MANIFEST = "passport.json"
FORMAT = "egate-virtual-passport/1"
AA_KEY = "aa-key.pem"
CA_KEY_EC = "ca-key.pem"
CA_KEY_DH = "ca-key.json"


def load_passport_folder(folder: Path, *, clone: bool = False, **faults: Any) -> VirtualPassport:
    """A ``VirtualPassport`` holding the passport in ``folder``.

    ``faults`` are the chip's fault and link options (``remove_after_apdus``, ``bad_mac``,
    ``link_kbps`` ...); raises ``DocumentError`` naming the folder when it cannot be loaded.
    """
    try:
        manifest = _json(folder / MANIFEST)
        if not isinstance(manifest, dict):
            raise TypeError(f"{MANIFEST} is not a JSON object")
        files = {int(fid, 16): _read(folder / name) for fid, name in manifest["files"].items()}
        listed = manifest.get("master_file", {})  # EF.CardSecurity: 011D in the MF
        if not isinstance(listed, dict):
            raise TypeError("'master_file' is not a JSON object")
        master_file = {int(fid, 16): _read(folder / name) for fid, name in listed.items()}
        key = None
        if manifest.get("aa_key"):
            loaded = serialization.load_pem_private_key(
                _read(folder / manifest["aa_key"]), password=None
            )
            if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise DocumentError(f"virtual passport {folder}: AA key is not RSA or EC")
            key = loaded
        ca_key = _ca_key(folder, manifest.get("ca_key"))
        lines = list(manifest["mrz"])
        can = manifest.get("can")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"virtual passport {folder}: cannot load: {exc}") from exc
    faults.setdefault("pace_only", bool(manifest.get("pace_only", False)))
    if clone:
        key, ca_key = _fresh(key), _fresh(ca_key)
    return VirtualPassport(
        files,
        mrz_information(lines),
        aa_key=key,
        ca_key=ca_key,
        can=can,
        master_file=master_file,
        **faults,
    )


def _ca_key(folder: Path, name: str | None) -> CaKey | None:
    if not name:
        return None
    if name.endswith(".json"):
        listed = _json(folder / name)
        if not isinstance(listed, dict):
            raise TypeError(f"{name} is not a JSON object")
        numbers = {str(k): int(str(v), 16) for k, v in listed.items()}
        group = dh_group_of(numbers["p"], numbers["g"], numbers["q"])
        return DhKey(group, numbers["private"])
    loaded = serialization.load_pem_private_key(_read(folder / name), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise DocumentError(f"virtual passport {folder}: CA key is not EC")
    return loaded


def _fresh(key: Any) -> Any:
    """A new private key of the same kind: what a clone has instead of the original."""
    if isinstance(key, rsa.RSAPrivateKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=key.key_size)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    if isinstance(key, DhKey):
        return DhKey(key.group, key.group.random_private())
    return key


MAX_FILE_BYTES = 1 << 20  # an LDS file (DG2 included) is tens of kilobytes


def _json(path: Path) -> object:
    """A JSON file of the folder: nesting, long numbers and NaN refused before parsing."""
    raw = _read(path)
    return parse_json(decode_utf8(raw, str(path), DocumentError), str(path), error=DocumentError)


def _read(path: Path) -> bytes:
    """One file of the folder; a FIFO, device or folder in its place is refused, not read."""
    return read_regular_file(path, "passport file", max_bytes=MAX_FILE_BYTES, error=DocumentError)
