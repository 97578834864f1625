"""Model packs: a folder of model files plus ``manifest.json`` saying what they are.

A pack is named by an id (``dlib-cc0``: looked up under ``<egate_home>/packs/<id>/``) or by a
path to a folder (``/models/buffalo_l``). The manifest lists every file with its sha256 and
size, the input spec, the embedding size, the distance (LOWER = more similar everywhere;
cosine packs use 1 - cos), the thresholds per target FMR and how they were obtained.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from gate.errors import ModelError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
DEFAULT_PACK = "dlib-cc0"
FMR_KEYS = ("1e-2", "1e-3", "1e-4")

PackKind = Literal["dlib-cc0", "insightface"]
DistanceName = Literal["euclidean", "cosine"]


@dataclass(frozen=True)
class PackFile:
    """One file of a pack, relative to the pack folder."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class InputSpec:
    """What the embedder expects: the aligned chip and how pixels are normalised."""

    chip_size: int
    colour_order: str  # "RGB" or "BGR": what the network sees
    normalisation: str  # human-readable formula, e.g. "(x - 127.5) / 127.5"
    alignment: str  # "dlib-get-face-chip(150, 0.25)" or "arcface-norm-crop(112)"
    # Embed each chip and its mirror image and average the two: a standard test-time
    # augmentation that makes descriptors of small, soft faces (150x150 LFW crops) steadier.
    flip_average: bool = False


@dataclass(frozen=True)
class PackManifest:
    id: str
    kind: PackKind
    files: Mapping[str, PackFile]
    input: InputSpec
    embedding_size: int
    distance: DistanceName
    thresholds: Mapping[str, float]
    calibration: str
    created_with: Mapping[str, str] = field(default_factory=dict)
    # The model author's published operating point (dlib: 0.6), reported by benchmarks as
    # the "default threshold"; the gate itself decides at the calibrated FMR thresholds.
    nominal_threshold: float | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = MANIFEST_FORMAT
        data["files"] = {role: asdict(f) for role, f in sorted(self.files.items())}
        data["thresholds"] = dict(sorted(self.thresholds.items()))
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(text: str, source: str) -> PackManifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{source}: expected a JSON object")
        return _manifest_from_dict(data, source)


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    if key not in data:
        raise ModelError(f"{source}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ModelError(f"{source}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _manifest_from_dict(data: Mapping[str, Any], source: str) -> PackManifest:
    fmt = data.get("format", MANIFEST_FORMAT)
    if fmt != MANIFEST_FORMAT:
        raise ModelError(f"{source}: manifest format {fmt!r} is not supported")
    kind = _field(data, "kind", str, source)
    if kind not in ("dlib-cc0", "insightface"):
        raise ModelError(f"{source}: field 'kind' is {kind!r}, expected dlib-cc0 or insightface")
    distance = _field(data, "distance", str, source)
    if distance not in ("euclidean", "cosine"):
        raise ModelError(f"{source}: field 'distance' is {distance!r}, expected euclidean/cosine")
    files: dict[str, PackFile] = {}
    for role, entry in _field(data, "files", dict, source).items():
        where = f"{source}: files.{role}"
        if not isinstance(entry, dict):
            raise ModelError(f"{where}: expected an object")
        files[role] = PackFile(
            path=_field(entry, "path", str, where),
            sha256=_field(entry, "sha256", str, where),
            size=_field(entry, "size", int, where),
        )
        if Path(files[role].path).is_absolute() or ".." in Path(files[role].path).parts:
            raise ModelError(f"{where}: path {files[role].path!r} leaves the pack folder")
    spec = _field(data, "input", dict, source)
    thresholds = {}
    for key, value in _field(data, "thresholds", dict, source).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelError(f"{source}: thresholds.{key} is not a number")
        thresholds[str(key)] = float(value)
    return PackManifest(
        id=_field(data, "id", str, source),
        kind=kind,
        files=files,
        input=InputSpec(
            chip_size=_field(spec, "chip_size", int, f"{source}: input"),
            colour_order=_field(spec, "colour_order", str, f"{source}: input"),
            normalisation=_field(spec, "normalisation", str, f"{source}: input"),
            alignment=_field(spec, "alignment", str, f"{source}: input"),
            flip_average=bool(spec.get("flip_average", False)),
        ),
        embedding_size=_field(data, "embedding_size", int, source),
        distance=distance,
        thresholds=thresholds,
        calibration=_field(data, "calibration", str, source),
        created_with={str(k): str(v) for k, v in dict(data.get("created_with", {})).items()},
        nominal_threshold=_optional_number(data, "nominal_threshold", source),
    )


def _optional_number(data: Mapping[str, Any], key: str, source: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"{source}: field {key!r} is not a number")
    return float(value)


# ---------------------------------------------------------------------------- locations


def egate_home() -> Path:
    """``$EGATE_HOME``, default ``~/.cache/egate``."""
    configured = os.environ.get("EGATE_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "egate"


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
        hint = " (run `egate models prepare`)" if str(pack) == DEFAULT_PACK else ""
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
    """The pack's manifest; an InsightFace folder without one gets a synthesised manifest."""
    folder = pack_dir(pack)
    file = folder / MANIFEST_NAME
    if file.is_file():
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"{file}: cannot be read ({exc})") from exc
        return PackManifest.from_json(text, str(file))
    from models.insightface_pack import looks_like_insightface, synthesise_manifest

    if looks_like_insightface(folder):
        return synthesise_manifest(folder)
    raise ModelError(f"{folder}: no {MANIFEST_NAME} and no InsightFace .onnx models")


# ---------------------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(folder: Path, relative: str) -> PackFile:
    path = folder / relative
    return PackFile(path=relative, sha256=sha256_file(path), size=path.stat().st_size)


def check_files(folder: Path, manifest: PackManifest, *, rehash: bool = True) -> None:
    """``ModelError`` naming the first file that is missing or differs from the manifest.

    ``rehash=False`` checks presence and sizes only (cheap, for every load); ``True`` also
    compares the sha256 (``egate models verify``, and ``load_engine`` by default).
    """
    for role, entry in sorted(manifest.files.items()):
        path = folder / entry.path
        if not path.is_file():
            raise ModelError(f"pack {manifest.id}: file {path} ({role}) is missing")
        size = path.stat().st_size
        if size != entry.size:
            raise ModelError(
                f"pack {manifest.id}: file {path} ({role}) is {size} bytes, "
                f"the manifest says {entry.size}"
            )
        if rehash:
            actual = sha256_file(path)
            if actual != entry.sha256:
                raise ModelError(
                    f"pack {manifest.id}: file {path} ({role}) has sha256 {actual[:16]}..., "
                    f"the manifest says {entry.sha256[:16]}..."
                )


def verify_pack(pack: str | Path | None) -> PackManifest:
    """Re-hash every file of the pack against its manifest; return the manifest if all match."""
    folder = pack_dir(pack)
    manifest = load_manifest(folder)
    check_files(folder, manifest, rehash=True)
    return manifest


# ---------------------------------------------------------------------------- writing


def write_manifest(folder: Path, manifest: PackManifest) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename)."""
    target = folder / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(manifest.to_json())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ModelError(f"cannot write {target}: {exc}") from exc
    return target


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
    if pack != DEFAULT_PACK:
        raise ModelError(
            f"cannot prepare pack {pack!r}: only {DEFAULT_PACK!r} is built locally; "
            "an InsightFace pack is used from its folder (--pack /path/to/folder)"
        )
    # Imported by name: the dlib converter is optional at type-check time and heavy to import.
    dlib_pack = importlib.import_module("models.dlib.pack")

    root = packs_root()
    target = root / pack
    expected_versions = dlib_pack.converter_versions()
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
        manifest: PackManifest = dlib_pack.build_into(staging)
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
