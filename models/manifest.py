"""A pack's ``manifest.json``: what each model file is, and the checks against it.

The manifest lists every file with its sha256 and size, the input spec, the embedding size,
the distance (LOWER = more similar everywhere; cosine packs use 1 - cos), the thresholds per
target FMR and how they were obtained. This module lists no pack kind and imports no
table of them: the kinds' modules build manifests with this module, and ``models.pack``
reads them and checks the kind against ``models.kinds.PACK_KINDS``, so imports go one way.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from gate.errors import ModelError
from gate.json_files import parse_json

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
FMR_KEYS = ("1e-2", "1e-3", "1e-4")

# "fused": a weighted sum of z-normalised component distances (``models.fusion``).
DistanceName = Literal["euclidean", "cosine", "fused"]
DISTANCE_NAMES = ("euclidean", "cosine", "fused")


@dataclass(frozen=True)
class FusionComponent:
    """One recogniser of a fusion pack: its slice of the embedding and its normalisation.

    The fused distance is sum(weight * (distance - impostor_mean) / impostor_sd): each
    component's distance in impostor standard deviations, weighted.
    """

    name: str  # "dlib" or "sface"
    size: int  # its embedding's length; components are concatenated in the listed order
    distance: Literal["euclidean", "cosine"]
    impostor_mean: float
    impostor_sd: float
    weight: float


@dataclass(frozen=True)
class FusionSpec:
    components: tuple[FusionComponent, ...]
    source: str  # the data the normalisation and the weights came from


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
    kind: str  # a key of ``models.kinds.PACK_KINDS``
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
    fusion: FusionSpec | None = None  # kind "fusion" only

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = MANIFEST_FORMAT
        data["files"] = {role: asdict(f) for role, f in sorted(self.files.items())}
        data["thresholds"] = dict(sorted(self.thresholds.items()))
        if self.fusion is None:
            del data["fusion"]  # single-model packs' manifests stay as they were
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @staticmethod
    def from_json(text: str, source: str) -> PackManifest:
        # Nesting, long numbers, NaN and repeated keys are refused before they can hurt.
        data = parse_json(text, source, error=ModelError)
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
    if not kind:
        raise ModelError(f"{source}: field 'kind' is empty")
    distance = _field(data, "distance", str, source)
    if distance not in DISTANCE_NAMES:
        raise ModelError(
            f"{source}: field 'distance' is {distance!r}, expected {'/'.join(DISTANCE_NAMES)}"
        )
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
        if not math.isfinite(value):  # NaN would make every comparison "no match"
            raise ModelError(f"{source}: thresholds.{key} is {value}, not a finite number")
        thresholds[str(key)] = float(value)
    if not thresholds:
        raise ModelError(f"{source}: field 'thresholds' is empty: the pack has no operating point")
    created_with = _field(data, "created_with", dict, source) if "created_with" in data else {}
    if not all(isinstance(v, str) for v in created_with.values()):
        raise ModelError(f"{source}: field 'created_with' must map names to text")
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
        created_with={str(k): str(v) for k, v in created_with.items()},
        nominal_threshold=_optional_number(data, "nominal_threshold", source),
        fusion=_fusion_from(data.get("fusion"), source),
    )


def _fusion_from(value: Any, source: str) -> FusionSpec | None:
    if value is None:
        return None
    where = f"{source}: fusion"
    if not isinstance(value, dict):
        raise ModelError(f"{where}: expected an object")
    components = []
    for index, entry in enumerate(_field(value, "components", list, where)):
        at = f"{where}.components[{index}]"
        if not isinstance(entry, dict):
            raise ModelError(f"{at}: expected an object")
        distance = _field(entry, "distance", str, at)
        if distance not in ("euclidean", "cosine"):
            raise ModelError(f"{at}: distance {distance!r} is not euclidean or cosine")
        numbers = [_number(entry, key, at) for key in ("impostor_mean", "impostor_sd", "weight")]
        if numbers[1] <= 0:
            raise ModelError(f"{at}: impostor_sd must be > 0")
        components.append(
            FusionComponent(
                _field(entry, "name", str, at),
                _field(entry, "size", int, at),
                distance,  # type: ignore[arg-type]
                *numbers,
            )
        )
    if not components:
        raise ModelError(f"{where}: no components")
    return FusionSpec(tuple(components), _field(value, "source", str, where))


def _number(data: Mapping[str, Any], key: str, source: str) -> float:
    value = _optional_number(data, key, source)
    if value is None:
        raise ModelError(f"{source}: missing field {key!r}")
    return value


def _optional_number(data: Mapping[str, Any], key: str, source: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"{source}: field {key!r} is not a number")
    return float(value)


# ---------------------------------------------------------------------------- files


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


def role_paths(folder: Path, manifest: PackManifest, roles: tuple[str, ...]) -> dict[str, Path]:
    """Each role's file path in the pack folder; ``ModelError`` names a role not listed."""
    for role in roles:
        if role not in manifest.files:
            raise ModelError(f"pack {manifest.id}: the manifest lists no {role!r} file")
    return {role: folder / manifest.files[role].path for role in roles}


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
