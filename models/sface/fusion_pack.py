"""The ``fusion`` pack (the default): one YuNet pass, SFace and dlib's ResNet on every face.

Both chips are cut from the same face and the same 5 points: SFace's 112x112 ArcFace chip,
and dlib's 150x150 chip through ``YUNET_IN_DLIB_CHIP`` (where YuNet's points sit in dlib's
chip), so dlib's own detector and landmark model are not run at all. The embedding is
[dlib 128 | sface 128]; the distance is ``models.fusion``'s weighted sum of the two
distances z-normalised on lfw-dev's impostor comparisons (the manifest's ``fusion``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gate.errors import ModelError
from gate.types import FloatArray, ImageBGR, Landmarks5
from models.dlib import pack as dlib_pack
from models.manifest import FusionComponent, FusionSpec, InputSpec, PackManifest, describe_file
from models.runtime import PackRuntime
from models.sface import pack as sface_pack

PACK_ID = "fusion"
ROLES = ("detector", "embedder", "dlib_embedder")
INPUT_SPEC = InputSpec(
    chip_size=112,
    colour_order="RGB",
    normalisation="per component: SFace (x - 127.5) / 128, dlib (x - mean) / 256",
    alignment="arcface-5-point-similarity(112) + dlib-get-face-chip(150, 0.25) from YuNet points",
)
PACK_SPEC = "2"
# Impostor mean and sd of each distance over lfw-dev's 2,565,753 cross-identity comparisons
# of this pack's own embeddings (`egate bench calibrate --pack fusion` measures them again).
# Equal weights, fixed beforehand, not searched: on lfw-dev any dlib weight from 0.3 to 0.6
# (SFace 1 - w) gives TAR@1e-3 0.992-0.994; 0.5 is the middle, not the best of the four.
FUSION = FusionSpec(
    components=(
        FusionComponent("dlib", 128, "euclidean", 0.8061, 0.0897, 0.5),
        FusionComponent("sface", 128, "cosine", 0.9049, 0.0883, 0.5),
    ),
    source=(
        "impostor mean/sd: lfw-dev (LFW View 2 folds 2-4), every cross-identity pair of the "
        "2,267 images (2,565,753 comparisons); weights 0.5/0.5 fixed, not fitted"
    ),
)
# Fused distances (lower = more alike), calibrated on lfw-dev like dlib-cc0's:
#   egate bench calibrate --pack fusion --dataset ../shared/datasets/lfw-dev/pairs.txt --dry-run
THRESHOLDS: dict[str, float] = {"1e-2": -1.949179, "1e-3": -2.625056, "1e-4": -3.213095}
CALIBRATION = (
    "calibrated on lfw-dev (LFW View 2 folds 2-4: 2,267 images of 150x150, 1,800 listed "
    "pairs) with `egate bench calibrate --pack fusion`: 900 genuine pairs and 2,565,753 "
    "impostor comparisons (every cross-identity pair), 0 images failed to acquire; "
    "threshold = the largest fused distance whose FMR does not exceed the target (match "
    "when distance <= threshold); TAR 0.9978 / 0.9944 / 0.9733 at FMR 1e-2 / 1e-3 / 1e-4"
)


def converter_versions() -> dict[str, str]:
    versions = sface_pack.converter_versions()
    versions["pack_spec"] = PACK_SPEC
    versions["dlib"] = dlib_pack.converter_versions()["source"]
    return versions


def build_into(folder: Path) -> PackManifest:
    from models.dlib.prepare import prepare_dlib_files
    from models.sface.convert import write_files

    produced = write_files(folder)
    produced["dlib_embedder"] = prepare_dlib_files(folder, roles=("embedder",))["embedder"]
    files = {role: describe_file(folder, produced[role].name) for role in ROLES}
    return PackManifest(
        id=PACK_ID,
        kind="fusion",
        files=files,
        input=INPUT_SPEC,
        embedding_size=sum(c.size for c in FUSION.components),
        distance="fused",
        thresholds=dict(THRESHOLDS),
        calibration=CALIBRATION,
        created_with=converter_versions(),
        fusion=FUSION,
    )


class FusionEmbedder:
    """[dlib | sface] for each face, both chips cut from the picture by the same 5 points."""

    def __init__(self, dlib: object, sface: object, flip_dlib: bool = True) -> None:
        from models.dlib.embedder import DlibEmbedder
        from models.sface.embedder import SfaceEmbedder

        assert isinstance(dlib, DlibEmbedder) and isinstance(sface, SfaceEmbedder)
        self.dlib = dlib
        self.sface = sface
        self.flip_dlib = flip_dlib

    def __call__(self, image: ImageBGR, faces: Sequence[Landmarks5]) -> FloatArray:
        from models.dlib.align import YUNET_IN_DLIB_CHIP, dlib_chip
        from models.sface.align import arcface_chip

        if not faces:
            return np.zeros((0, 256), np.float32)
        chips = [
            dlib_chip(
                image, points, dlib_pack.CHIP_SIZE, dlib_pack.CHIP_PADDING, YUNET_IN_DLIB_CHIP
            )
            for points in faces
        ]
        if self.flip_dlib:
            mirrored = [np.ascontiguousarray(chip[:, ::-1]) for chip in chips]
            both = self.dlib.embed([*chips, *mirrored])
            dlib = (both[: len(chips)] + both[len(chips) :]) / np.float32(2.0)
        else:
            dlib = self.dlib.embed(chips)
        sface = self.sface.embed([arcface_chip(image, points) for points in faces])
        return np.concatenate([dlib, sface], axis=1).astype(np.float32)


def open_runtime(folder: Path, manifest: PackManifest, *, threads: int = 0) -> PackRuntime:
    from models.dlib.embedder import DlibEmbedder
    from models.sface.align import arcface_chip
    from models.sface.embedder import SfaceEmbedder
    from models.sface.yunet import YunetDetector

    for role in ROLES:
        if role not in manifest.files:
            raise ModelError(f"pack {manifest.id}: the manifest lists no {role!r} file")
    if manifest.fusion is None:
        raise ModelError(f"pack {manifest.id}: the manifest has no fusion normalisation")
    sface = SfaceEmbedder(folder / manifest.files["embedder"].path, threads=threads)
    dlib = DlibEmbedder(folder / manifest.files["dlib_embedder"].path, threads=threads)
    return PackRuntime(
        detector=YunetDetector(folder / manifest.files["detector"].path, threads=threads),
        landmarks=None,
        aligner=arcface_chip,
        embedder=sface,
        face_embedder=FusionEmbedder(dlib, sface),
    )
