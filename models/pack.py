"""Model packs: a folder of model files plus ``manifest.json`` saying what they are.

A pack is named by an id (``dlib-cc0``: looked up under ``<egate_home>/packs/<id>/``) or by a
path to a folder (``/models/buffalo_l``). The manifest itself (its fields, the file checks,
writing it) is ``models.manifest``; this module is the registry over the installed packs. What
depends on a pack's kind (building a pack, recognising a folder without a manifest) goes
through the kind's entry in ``models.kinds.PACK_KINDS``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from gate.errors import ModelError
from gate.files import read_regular_file
from gate.json_files import MAX_JSON_BYTES, decode_utf8
from models.home import egate_home
from models.kinds import PACK_KINDS, built_kinds, kind_module
from models.manifest import (
    MANIFEST_NAME,
    FusionSpec,
    PackManifest,
    check_files,
    write_manifest,
)

log = logging.getLogger(__name__)

DEFAULT_PACK = "fusion"


# ---------------------------------------------------------------------------- locations


def packs_root() -> Path:
    return egate_home() / "packs"


def _looks_like_path(pack: str | Path) -> bool:
    text = str(pack)
    return isinstance(pack, Path) or os.sep in text or text.startswith(".") or text.startswith("~")


def pack_dir(pack: str | Path | None) -> Path:
    """The folder of a pack given by id or path; ``ModelError`` when it does not exist."""
    if pack is None:
        pack = DEFAULT_PACK
    if _looks_like_path(pack):
        folder = Path(pack).expanduser()
        if not folder.is_dir():
            raise ModelError(f"model pack folder {folder} does not exist")
        return folder
    folder = packs_root() / str(pack)
    if not folder.is_dir() and Path(pack).is_dir():
        return Path(pack)  # a bare folder name in the working directory ("buffalo_l")
    if not folder.is_dir():
        hint = f" (run `egate models prepare --pack {pack}`)" if str(pack) in built_kinds() else ""
        raise ModelError(f"model pack {pack!r} is not installed at {folder}{hint}")
    return folder


def list_packs() -> list[Path]:
    """Installed pack folders under ``<home>/packs`` (those with a manifest), sorted by id."""
    root = packs_root()
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_NAME).is_file()
    )


def load_manifest(pack: str | Path | None) -> PackManifest:
    """The pack's manifest; a folder without one gets the manifest its kind synthesises
    (a kind with ``bare_folders``: an InsightFace folder of .onnx models)."""
    folder = pack_dir(pack)
    file = folder / MANIFEST_NAME
    if file.is_file():
        raw = read_regular_file(file, "pack manifest", max_bytes=MAX_JSON_BYTES, error=ModelError)
        text = decode_utf8(raw, str(file), ModelError)
        manifest = PackManifest.from_json(text, str(file))
        if manifest.kind not in PACK_KINDS:  # checked here: the kinds' modules import manifest
            known = ", ".join(sorted(PACK_KINDS))
            raise ModelError(f"{file}: field 'kind' is {manifest.kind!r}, expected one of {known}")
        return manifest
    for kind, entry in PACK_KINDS.items():
        if entry.bare_folders:
            module = kind_module(kind, str(folder))
            if module.looks_like(folder):
                synthesised: PackManifest = module.synthesise_manifest(folder)
                return synthesised
    bare = [kind for kind, entry in PACK_KINDS.items() if entry.bare_folders]
    raise ModelError(
        f"{folder}: no {MANIFEST_NAME}, and no pack kind ({', '.join(bare)}) recognises its files"
    )


# ---------------------------------------------------------------------------- checking


def verify_pack(pack: str | Path | None) -> PackManifest:
    """Re-hash every file of the pack against its manifest; return the manifest if all match."""
    folder = pack_dir(pack)
    manifest = load_manifest(folder)
    check_files(folder, manifest, rehash=True)
    return manifest


# ---------------------------------------------------------------------------- writing


def write_thresholds(pack: str | Path | None, thresholds: Mapping[str, float], note: str) -> Path:
    """Store calibrated thresholds (keys like "1e-3") and the calibration note in the manifest."""
    for key, value in thresholds.items():
        try:
            float(key)
        except ValueError as exc:
            raise ModelError(f"threshold key {key!r} is not an FMR like '1e-3'") from exc
        if not isinstance(value, (int, float)) or value != value:
            raise ModelError(f"threshold for FMR {key} is not a number: {value!r}")
    folder = pack_dir(pack)
    manifest = load_manifest(folder)
    merged = {**manifest.thresholds, **{k: float(v) for k, v in thresholds.items()}}
    return write_manifest(folder, replace(manifest, thresholds=merged, calibration=note))


def write_fusion(pack: str | Path | None, spec: FusionSpec) -> Path:
    """Store a fusion pack's measured normalisation (and where it came from)."""
    folder = pack_dir(pack)
    manifest = load_manifest(folder)
    if manifest.fusion is None:
        raise ModelError(f"pack {manifest.id} is not a fusion pack")
    names = [c.name for c in manifest.fusion.components]
    if [c.name for c in spec.components] != names:
        raise ModelError(f"pack {manifest.id}: fusion components must stay {names}")
    return write_manifest(folder, replace(manifest, fusion=spec))


# ---------------------------------------------------------------------------- preparing


@dataclass(frozen=True)
class PrepareResult:
    folder: Path
    manifest: PackManifest
    changed: bool  # False: the pack was already up to date


def prepare_pack(pack: str = DEFAULT_PACK, *, force: bool = False) -> PrepareResult:
    """Build a pack into ``<home>/packs/<id>``; idempotent unless ``force``.

    Up to date means: the existing files re-hash to their manifest and the manifest was
    written by the same converter version. Otherwise the pack is built in a temporary folder
    beside the target and swapped into place, so a crash never leaves half a pack.
    """
    built = built_kinds()
    if pack not in built:
        raise ModelError(
            f"cannot prepare pack {pack!r}: only {', '.join(built)} are built locally; "
            "an InsightFace pack is used from its folder (--pack /path/to/folder)"
        )
    # Imported here: only preparing a pack needs its kind's module.
    builder = kind_module(pack)

    root = packs_root()
    target = root / pack
    expected_versions = builder.converter_versions()
    if not force and (target / MANIFEST_NAME).is_file():
        try:
            current = load_manifest(target)
            check_files(target, current, rehash=True)
        except ModelError as exc:
            log.info("rebuilding pack %s: %s", pack, exc)
        else:
            if dict(current.created_with) == expected_versions:
                return PrepareResult(target, current, changed=False)
            log.info("rebuilding pack %s: converter versions changed", pack)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{pack}-new-", dir=root))
    except OSError as exc:
        raise ModelError(f"cannot create the pack folder under {root}: {exc}") from exc
    try:
        manifest: PackManifest = builder.build_into(staging)
        write_manifest(staging, manifest)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PrepareResult(target, manifest, changed=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging``; the old pack is kept until the new one is in place."""
    old: Path | None = None
    try:
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(staging, target)
    except OSError as exc:
        if old is not None and not target.exists():
            os.replace(old / target.name, target)  # put the previous pack back
        raise ModelError(f"cannot move the new pack into {target}: {exc}") from exc
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
