"""InsightFace packs: a folder in the buffalo_l layout used through insightface's own classes.

Each ``*.onnx`` in the folder is routed by its signature the way insightface's model_zoo
does it (a model with >= 5 outputs is an SCRFD detector; a square input of >= 112 px, a
multiple of 16, is an ArcFace recogniser; 192x192 landmark and 96x96 attribute models are
ignored). The detector must give the 5 key points (9 or 15 outputs): they drive the
``norm_crop`` 112x112 ArcFace alignment. A folder without ``manifest.json`` gets a
synthesised manifest (files hashed, cosine distance, the DEFAULT_THRESHOLDS below).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gate.errors import ModelError
from gate.types import Box, Detection, FloatArray, ImageBGR, Landmarks5
from models.manifest import InputSpec, PackManifest, describe_file
from models.runtime import PackRuntime

log = logging.getLogger(__name__)

# Cosine DISTANCES (1 - cos). Uncalibrated starting points: ArcFace R50/R100 models trained
# on large sets typically give impostor similarities below ~0.2-0.3; these are conservative
# guesses to be replaced by `egate bench calibrate` on the user's own data.
DEFAULT_THRESHOLDS = {"1e-2": 0.80, "1e-3": 0.72, "1e-4": 0.64}
DEFAULT_CALIBRATION = (
    "uncalibrated defaults for ArcFace models (cosine similarity 0.20 / 0.28 / 0.36 for "
    "FMR 1e-2 / 1e-3 / 1e-4); run `egate bench calibrate --pack <folder>` on your own data"
)
DETECTOR_INPUT_SIZE = (640, 640)
DETECTOR_SCORE_THRESHOLD = 0.5


@dataclass(frozen=True)
class OnnxSignature:
    """What routing looks at: the first input's shape and the number of inputs/outputs."""

    path: Path
    input_shape: tuple[int | str, ...]
    inputs: int
    outputs: int
    output_shape: tuple[int | str, ...]


def read_signature(path: Path) -> OnnxSignature:
    import onnx

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ValueError ...
        raise ModelError(f"{path}: not a readable ONNX model ({exc})") from exc
    graph = model.graph
    initialisers = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    if not inputs or not graph.output:
        raise ModelError(f"{path}: ONNX graph has no inputs or no outputs")

    def dims(value: Any) -> tuple[int | str, ...]:
        return tuple(
            int(d.dim_value) if d.dim_value > 0 else (d.dim_param or "?")
            for d in value.type.tensor_type.shape.dim
        )

    return OnnxSignature(
        path, dims(inputs[0]), len(inputs), len(graph.output), dims(graph.output[0])
    )


def route(signature: OnnxSignature) -> str | None:
    """ "detector", "recognition", or None (a model the engine does not use)."""
    shape = signature.input_shape
    if signature.outputs >= 5:
        return "detector"
    if len(shape) != 4:
        return None
    height, width = shape[2], shape[3]
    if (height, width) in ((192, 192), (96, 96)):
        return None  # 2d106det / genderage: not needed for verification
    if signature.inputs == 2 and (height, width) == (128, 128):
        return None  # inswapper
    if isinstance(height, int) and height == width and height >= 112 and height % 16 == 0:
        return "recognition"
    return None


def looks_like(folder: Path) -> bool:
    """A folder of .onnx models (no manifest): taken for an InsightFace pack."""
    return any(folder.glob("*.onnx"))


def find_models(folder: Path) -> tuple[OnnxSignature, OnnxSignature]:
    """The (detector, recogniser) signatures of a pack folder; ModelError says what is wrong."""
    detectors: list[OnnxSignature] = []
    recognisers: list[OnnxSignature] = []
    unused: list[str] = []
    for path in sorted(folder.glob("*.onnx")):
        signature = read_signature(path)
        role = route(signature)
        if role == "detector":
            detectors.append(signature)
        elif role == "recognition":
            recognisers.append(signature)
        else:
            unused.append(f"{path.name} (input {_shape_text(signature.input_shape)})")
    if not detectors:
        raise ModelError(
            f"{folder}: no SCRFD detector (an .onnx with >= 5 outputs, like det_10g.onnx)"
            + (f"; not used: {', '.join(unused)}" if unused else "")
        )
    if not recognisers:
        raise ModelError(
            f"{folder}: no ArcFace recognition model (an .onnx with a square input of >= 112 "
            "px, a multiple of 16, like 1x3x112x112)"
            + (f"; not used: {', '.join(unused)}" if unused else "")
        )
    detector, recogniser = detectors[0], recognisers[0]
    if detector.outputs not in (9, 15):
        raise ModelError(
            f"{detector.path}: SCRFD detector with {detector.outputs} outputs gives no key "
            "points (9 or 15 outputs needed for the 5-point alignment)"
        )
    if len(detector.input_shape) != 4 or detector.input_shape[1] != 3:
        raise ModelError(
            f"{detector.path}: detector input shape {_shape_text(detector.input_shape)}, "
            "expected 1x3xHxW"
        )
    if recogniser.input_shape[1] != 3:
        raise ModelError(
            f"{recogniser.path}: recognition input shape {_shape_text(recogniser.input_shape)}, "
            "expected Nx3xSxS"
        )
    if not isinstance(recogniser.output_shape[-1], int) or len(recogniser.output_shape) != 2:
        raise ModelError(
            f"{recogniser.path}: recognition output shape "
            f"{_shape_text(recogniser.output_shape)}, expected Nxd with a fixed d"
        )
    if len(detectors) > 1 or len(recognisers) > 1:
        log.warning(
            "%s: several candidates; using %s and %s",
            folder,
            detector.path.name,
            recogniser.path.name,
        )
    return detector, recogniser


def _shape_text(shape: Sequence[int | str]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def synthesise_manifest(folder: Path) -> PackManifest:
    """A manifest for a bare InsightFace folder: the routed files hashed, default thresholds."""
    import insightface

    detector, recogniser = find_models(folder)
    chip = int(recogniser.input_shape[2])
    return PackManifest(
        id=folder.resolve().name,
        kind="insightface",
        files={
            "detector": describe_file(folder, detector.path.name),
            "recognition": describe_file(folder, recogniser.path.name),
        },
        input=InputSpec(
            chip_size=chip,
            colour_order="RGB",
            normalisation="(x - 127.5) / 127.5, or none for MXNet-converted models "
            "(insightface ArcFaceONNX decides from the graph)",
            alignment=f"arcface-norm-crop({chip})",
        ),
        embedding_size=int(recogniser.output_shape[-1]),
        distance="cosine",
        thresholds=dict(DEFAULT_THRESHOLDS),
        calibration=DEFAULT_CALIBRATION,
        created_with={"insightface": str(insightface.__version__), "manifest": "synthesised"},
    )


# ---------------------------------------------------------------------------- runtime


def _session(path: Path, threads: int) -> Any:
    """A raw onnxruntime session (insightface's classes want one) with egate's thread policy."""
    import onnxruntime as ort

    from models.onnx_session import session_options

    try:
        return ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(f"{path}: ONNX Runtime cannot load it ({exc})") from exc


class InsightFaceDetector:
    """``FaceDetector`` over insightface's SCRFD class; detections carry the 5 key points."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        from insightface.model_zoo.scrfd import SCRFD

        session = _session(path, threads)
        try:
            # One dynamic session for every input size (newer insightface would otherwise
            # build a static-shape clone without our thread settings).
            self._model = SCRFD(model_file=str(path), session=session, static_shape_sessions=False)
        except TypeError:  # insightface 0.7 has no static_shape_sessions
            self._model = SCRFD(model_file=str(path), session=session)
        self._model.prepare(0, input_size=DETECTOR_INPUT_SIZE, det_thresh=DETECTOR_SCORE_THRESHOLD)
        if not self._model.use_kps:
            raise ModelError(f"{path}: SCRFD model gives no key points")

    def detect(self, image: ImageBGR, min_face: int = 0) -> list[Detection]:
        boxes, points = self._model.detect(image, input_size=DETECTOR_INPUT_SIZE)
        found: list[Detection] = []
        for index in range(boxes.shape[0]):
            x1, y1, x2, y2, score = (float(v) for v in boxes[index])
            if min(x2 - x1, y2 - y1) < min_face:
                continue
            kps = tuple((float(x), float(y)) for x, y in points[index])
            found.append(Detection(Box(x1, y1, x2, y2), score, kps))
        found.sort(key=lambda d: d.score, reverse=True)
        return found


class ArcFaceEmbedder:
    """``Embedder`` over insightface's ArcFaceONNX (BGR chips in, (n, d) float32 out)."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX

        self._model = ArcFaceONNX(model_file=str(path), session=_session(path, threads))
        batch = self._model.input_shape[0]
        self._batches = not (isinstance(batch, int) and batch == 1)
        self.embedding_size = int(self._model.output_shape[-1])

    def embed(self, chips: Sequence[ImageBGR]) -> FloatArray:
        if self._batches:
            out = self._model.get_feat(list(chips))
        else:  # a graph with a fixed batch of 1
            out = np.concatenate([self._model.get_feat([chip]) for chip in chips], axis=0)
        return np.asarray(out, dtype=np.float32).reshape(len(chips), -1)


def arcface_aligner(chip_size: int) -> Any:
    from insightface.utils.face_align import norm_crop

    def align(image: ImageBGR, landmarks: Landmarks5) -> ImageBGR:
        points = landmarks.as_array().astype(np.float32)
        with warnings.catch_warnings():
            # scikit-image 0.26 deprecates SimilarityTransform.estimate used inside norm_crop
            warnings.simplefilter("ignore", FutureWarning)
            chip: ImageBGR = norm_crop(image, points, image_size=chip_size)
        return chip

    return align


def open_runtime(folder: Path, manifest: PackManifest, *, threads: int = 0) -> PackRuntime:
    """The ``PackRuntime`` of an InsightFace pack (files as listed in the manifest)."""
    for role in ("detector", "recognition"):
        if role not in manifest.files:
            raise ModelError(f"pack {manifest.id}: the manifest lists no {role!r} file")
    detector_path = folder / manifest.files["detector"].path
    recogniser_path = folder / manifest.files["recognition"].path
    for path, role in ((detector_path, "detector"), (recogniser_path, "recognition")):
        signature = read_signature(path)
        if route(signature) != role:
            raise ModelError(
                f"{path}: input shape {_shape_text(signature.input_shape)} with "
                f"{signature.outputs} outputs is not an InsightFace {role} model"
            )
    embedder = ArcFaceEmbedder(recogniser_path, threads)
    if embedder.embedding_size != manifest.embedding_size:
        raise ModelError(
            f"{recogniser_path}: gives {embedder.embedding_size}-D embeddings, the manifest "
            f"says {manifest.embedding_size}"
        )
    return PackRuntime(
        detector=InsightFaceDetector(detector_path, threads),
        landmarks=None,
        aligner=arcface_aligner(manifest.input.chip_size),
        embedder=embedder,
    )
