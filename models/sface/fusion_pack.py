"""The ``fusion`` pack (the default): one YuNet pass, dlib's ResNet and SFace on every face.

YuNet finds the faces (a few ms where dlib's MMOD takes tens). Each box is turned into the
square box MMOD would have drawn for that face (``MMOD_BOX``, measured on lfw-dev), and
dlib's own 5-point model finds dlib's points in it: so dlib's chip is cut exactly as in
the dlib-cc0 pack, and quality and liveness, tuned on dlib's points, see the same points.
SFace's 112x112 ArcFace chip is cut by YuNet's own 5 points (kept in the detection). The
embedding is [dlib 128 | sface 128]; the distance is ``models.fusion``'s weighted sum of
the two distances z-normalised on lfw-dev's impostor comparisons (the manifest's
``fusion``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from gate.errors import ModelError
from gate.types import Box, Detection, Face, FloatArray, ImageBGR
from models.dlib import pack as dlib_pack
from models.manifest import (
    FusionComponent,
    FusionSpec,
    InputSpec,
    PackManifest,
    describe_file,
    role_paths,
)
from models.runtime import PackRuntime
from models.sface import pack as sface_pack

PACK_ID = "fusion"
ROLES = ("detector", "embedder", "dlib_embedder", "landmarks")
INPUT_SPEC = InputSpec(
    chip_size=dlib_pack.CHIP_SIZE,
    colour_order="RGB",
    normalisation="per component: dlib (x - mean) / 256, SFace (x - 127.5) / 128",
    alignment=(
        "dlib-get-face-chip(150, 0.25) by dlib's 5 points in YuNet's box; "
        "arcface-5-point-similarity(112) by YuNet's points"
    ),
    # dlib's part is not flip-averaged (dlib-cc0's is): the mirror pass cost 3.3 ms a face, and
    # without it the fused TAR on lfw-dev moved from 0.9922 / 0.9756 to 0.9933 / 0.9722 at FMR
    # 1e-3 / 1e-4 (EER 0.44 % both ways), which kept one face's fused embedding under 25 ms.
    flip_average=False,
)
# MMOD's box for a face, placed by YuNet's 5 points (steadier from frame to frame than
# YuNet's box): its centre and side in the 112x112 ArcFace template's frame, the median
# over 300 lfw-dev faces found by both detectors.
MMOD_BOX = (52.33, 65.11, 83.22)
PACK_SPEC = "6"
# Impostor mean and sd of each distance over lfw-dev's 2,565,753 cross-identity comparisons
# of this pack's own embeddings (`egate bench calibrate --pack fusion` measures them again).
# Equal weights, fixed beforehand, not fitted: for dlib weights 0.3 to 0.6 (SFace 1 - w) the
# TAR on lfw-dev is 0.991-0.993 at 1e-3 and 0.971-0.976 at 1e-4; 0.5 is the middle.
FUSION = FusionSpec(
    components=(
        FusionComponent("dlib", 128, "euclidean", 0.8218, 0.0887, 0.5),
        FusionComponent("sface", 128, "cosine", 0.9049, 0.0883, 0.5),
    ),
    source=(
        "impostor mean/sd: lfw-dev (LFW View 2 folds 2-4), every cross-identity pair of the "
        "2,267 images (2,565,753 comparisons); weights 0.5/0.5 fixed, not fitted"
    ),
)
# Fused distances (lower = more alike), calibrated on lfw-dev like dlib-cc0's:
#   egate bench calibrate --pack fusion --dataset ../shared/datasets/lfw-dev/pairs.txt --dry-run
THRESHOLDS: dict[str, float] = {"1e-2": -1.947216, "1e-3": -2.629027, "1e-4": -3.203872}
CALIBRATION = (
    "calibrated on lfw-dev (LFW View 2 folds 2-4: 2,267 images of 150x150, 1,800 listed "
    "pairs) with `egate bench calibrate --pack fusion`: 900 genuine pairs and 2,565,753 "
    "impostor comparisons (every cross-identity pair), 0 images failed to acquire; "
    "threshold = the largest fused distance whose FMR does not exceed the target (match "
    "when distance <= threshold); TAR 0.9967 / 0.9933 / 0.9722 at FMR 1e-2 / 1e-3 / 1e-4; "
    "EER 0.44 %"
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
    dlib = prepare_dlib_files(folder, roles=("embedder", "landmarks"))
    produced["dlib_embedder"], produced["landmarks"] = dlib["embedder"], dlib["landmarks"]
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


class MmodBoxes:
    """``FaceDetector``: YuNet's faces with the box MMOD would draw (YuNet's points kept)."""

    def __init__(self, yunet: object) -> None:
        from models.sface.yunet import YunetDetector

        assert isinstance(yunet, YunetDetector)
        self.yunet = yunet

    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]:
        from models.dlib.align import similarity_transform
        from models.sface.align import ARCFACE_TEMPLATE_112

        out = []
        for found in self.yunet.detect(image, min_face=min_face):
            to_image = similarity_transform(ARCFACE_TEMPLATE_112, np.asarray(found.landmarks))
            scale = float(np.hypot(to_image[0, 0], to_image[1, 0]))
            cx, cy = to_image[:, :2] @ np.array(MMOD_BOX[:2]) + to_image[:, 2]
            half = MMOD_BOX[2] * scale / 2
            square = Box(float(cx - half), float(cy - half), float(cx + half), float(cy + half))
            out.append(replace(found, box=square))
        return out


class FusionEmbedder:
    """[dlib | sface] for each face: dlib's chip by dlib's points, SFace's by YuNet's."""

    def __init__(self, dlib: object, sface: object) -> None:
        from models.dlib.embedder import DlibEmbedder
        from models.sface.embedder import SfaceEmbedder

        assert isinstance(dlib, DlibEmbedder) and isinstance(sface, SfaceEmbedder)
        self.dlib = dlib
        self.sface = sface

    def __call__(self, image: ImageBGR, faces: Sequence[Face]) -> FloatArray:
        from gate.types import Landmarks5
        from models.dlib.align import dlib_chip
        from models.sface.align import arcface_chip

        if not faces:
            return np.zeros((0, 256), np.float32)
        for face in faces:
            if face.detection.landmarks is None or len(face.detection.landmarks) != 5:
                raise ModelError("pack fusion: a face without YuNet's 5 points")
        size, padding = dlib_pack.CHIP_SIZE, dlib_pack.CHIP_PADDING
        dlib = self.dlib.embed([dlib_chip(image, f.landmarks, size, padding) for f in faces])
        sface = self.sface.embed(
            [arcface_chip(image, Landmarks5(f.detection.landmarks or ())) for f in faces]
        )
        return np.concatenate([dlib, sface], axis=1).astype(np.float32)


def open_runtime(folder: Path, manifest: PackManifest, *, threads: int = 0) -> PackRuntime:
    from models.dlib.align import dlib_chip
    from models.dlib.embedder import DlibEmbedder
    from models.dlib.shape_predictor import ShapePredictor5
    from models.sface.embedder import SfaceEmbedder
    from models.sface.yunet import YunetDetector

    paths = role_paths(folder, manifest, ROLES)
    if manifest.fusion is None:
        raise ModelError(f"pack {manifest.id}: the manifest has no fusion normalisation")
    sface = SfaceEmbedder(paths["embedder"], threads=threads)
    dlib = DlibEmbedder(paths["dlib_embedder"], threads=threads)
    yunet = YunetDetector(paths["detector"], threads=threads)
    return PackRuntime(
        detector=MmodBoxes(yunet),
        landmarks=ShapePredictor5(paths["landmarks"]),
        aligner=dlib_chip,
        embedder=dlib,
        face_embedder=FusionEmbedder(dlib, sface),
        trackable=True,
    )
