"""The face engine: the one public API for detect -> landmarks -> align -> embed -> compare.

Everything else (the CLI, the gate, the benchmarks) goes through ``load_engine``. A pack's
runtime (its detector, landmark model, aligner and embedder) is opened once here; sessions
are never recreated per call. Distances are LOWER = more similar for every pack; a pair is
a match when ``distance <= threshold(fmr)``.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from gate.clock import timed
from gate.errors import FaceError, InputError, ModelError, MultipleFacesError, NoFaceError
from gate.types import Box, Detection, Face, FloatArray, ImageBGR, Landmarks5
from models import fusion
from models.kinds import kind_module, pack_kind
from models.manifest import FusionSpec, PackManifest, check_files
from models.pack import load_manifest, pack_dir
from models.runtime import PackRuntime

Policy = Literal["largest", "single"]
Timings = MutableMapping[str, float]

STAGES = ("detect", "track", "landmarks", "align", "embed")
SMALL_SIDE = 400  # pictures up to this size are doubled before detection
TRACK_GRID = 32


def _check_image(image: object) -> ImageBGR:
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected an image array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"expected a uint8 BGR image (H, W, 3), got {image.dtype} with shape {image.shape}"
        )
    return image


class FaceEngine:
    """A loaded model pack. Thread-compatible, not thread-safe: one engine per thread.

    It is the capture pipeline's engine (``gate.interfaces.CaptureEngine``), tracking
    included."""

    def __init__(self, manifest: PackManifest, runtime: PackRuntime) -> None:
        self.manifest = manifest
        self.pack_id = manifest.id
        self.distance_name: str = manifest.distance
        self._runtime = runtime
        self._chip_size = manifest.input.chip_size
        # Detect on a doubled picture when it is small (longer side <= SMALL_SIDE).
        self.upsample_small = True

    def with_fusion(self, spec: FusionSpec) -> FaceEngine:
        """The same opened models with another fusion normalisation (calibration)."""
        if self.manifest.fusion is None:
            raise ModelError(f"pack {self.pack_id} is not a fusion pack")
        return FaceEngine(replace(self.manifest, fusion=spec), self._runtime)

    # -- thresholds ---------------------------------------------------------------------

    def threshold(self, fmr: str = "1e-3") -> float:
        """The pack's distance threshold for a target false-match rate ("1e-2"/"1e-3"/"1e-4")."""
        thresholds = self.manifest.thresholds
        if fmr in thresholds:
            return thresholds[fmr]
        try:
            wanted = float(fmr)
        except ValueError:
            wanted = float("nan")
        for key, value in thresholds.items():
            if float(key) == wanted:
                return value
        known = ", ".join(sorted(thresholds)) or "none"
        raise ModelError(
            f"pack {self.pack_id} has no threshold for FMR {fmr!r} (it has: {known}); "
            "run `egate bench calibrate`"
        )

    def is_match(self, distance: float, fmr: str = "1e-3") -> bool:
        return bool(distance <= self.threshold(fmr))

    # -- analysis -----------------------------------------------------------------------

    def analyze(
        self, image: ImageBGR, *, min_face: int = 40, timings: Timings | None = None
    ) -> list[Face]:
        """All faces with their 5 points (no embeddings), largest box first."""
        image = _check_image(image)
        with timed(timings, "detect"):
            if self.upsample_small and max(image.shape[:2]) <= SMALL_SIDE:
                detections = self._detect_upsampled(image, min_face)
            else:
                detections = self._runtime.detector.detect(image, min_face=min_face)
        detections = sorted(detections, key=lambda d: d.box.area, reverse=True)
        with timed(timings, "landmarks"):
            return [Face(d, self._landmarks(image, d)) for d in detections]

    @property
    def landmark_layout(self) -> str:
        """The convention of this pack's 5 points (its kind's entry in ``models.kinds``)."""
        return pack_kind(self.manifest.kind, f"pack {self.pack_id}").landmarks

    @property
    def can_track(self) -> bool:
        """Whether ``track`` works: a detector that gives its own 5 points (YuNet) finds a
        face in a small region around the last one as well as in a whole frame."""
        return self._runtime.trackable

    def track(
        self,
        image: ImageBGR,
        previous: Face,
        *,
        min_face: int = 40,
        margin: float = 0.5,
        min_score: float = 0.8,
        timings: Timings | None = None,
    ) -> Face | None:
        """The face of ``previous`` in a new frame, found by detecting only in a region
        ``margin`` face sizes around its last box: a fraction of a full frame's work.

        None (detect on the whole frame instead) when the pack cannot track, or nothing
        in the region scores ``min_score`` (the face left the region, or is turning away).
        Only the followed face is seen: the caller detects on whole frames now and then.
        """
        if not self.can_track:
            return None
        image = _check_image(image)
        box = previous.detection.box
        size = max(box.width, box.height)
        height, width = image.shape[:2]
        # The region starts on a multiple of 32 pixels (the detector's largest stride), so
        # the network sees the face on the same grid as in a whole frame: the same points.
        left = int(max(0.0, box.left - margin * size)) // TRACK_GRID * TRACK_GRID
        top = int(max(0.0, box.top - margin * size)) // TRACK_GRID * TRACK_GRID
        right = int(min(float(width), box.right + margin * size))
        bottom = int(min(float(height), box.bottom + margin * size))
        if right - left < min_face or bottom - top < min_face:
            return None
        region = np.ascontiguousarray(image[top:bottom, left:right])
        with timed(timings, "track"):
            found = self._runtime.detector.detect(region, min_face=min_face)
        if not found:
            return None
        centre = ((box.left + box.right) / 2 - left, (box.top + box.bottom) / 2 - top)

        def off(d: Detection) -> float:
            return float(
                ((d.box.left + d.box.right) / 2 - centre[0]) ** 2
                + ((d.box.top + d.box.bottom) / 2 - centre[1]) ** 2
            )

        best = min(found, key=off)
        if best.score < min_score or best.landmarks is None:
            return None
        moved = Detection(
            Box(
                best.box.left + left,
                best.box.top + top,
                best.box.right + left,
                best.box.bottom + top,
            ),
            best.score,
            tuple((x + left, y + top) for x, y in best.landmarks),
        )
        return Face(moved, self._landmarks(image, moved))

    def _detect_upsampled(self, image: ImageBGR, min_face: int) -> list[Detection]:
        """Detection on a small picture, doubled first: boxes and points mapped back.

        Detectors have a smallest face they can see (dlib's MMOD window is 80 px), larger
        than the faces of a 150x150 crop or a small document photo. Doubling every small
        picture (not only those where a first look failed) keeps landmarks and embeddings
        consistent across a data set; camera frames (640x480 and up) are never doubled.
        """
        import cv2

        bigger: ImageBGR = np.asarray(
            cv2.resize(image, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LINEAR), np.uint8
        )
        found = self._runtime.detector.detect(bigger, min_face=2 * min_face)
        halved = []
        for d in found:
            box = Box(d.box.left / 2, d.box.top / 2, d.box.right / 2, d.box.bottom / 2)
            points = None if d.landmarks is None else tuple((x / 2, y / 2) for x, y in d.landmarks)
            halved.append(Detection(box, d.score, points))
        return halved

    def _landmarks(self, image: ImageBGR, detection: Detection) -> Landmarks5:
        model = self._runtime.landmarks
        if model is not None:
            return model.landmarks(image, detection.box)
        if detection.landmarks is None or len(detection.landmarks) != 5:
            raise ModelError(f"pack {self.pack_id}: the detector gave no 5 landmarks")
        return Landmarks5(tuple((float(x), float(y)) for x, y in detection.landmarks))

    def align(self, image: ImageBGR, face: Face) -> ImageBGR:
        """The pack's aligned chip (uint8 BGR, chip_size x chip_size) for one face."""
        return self._runtime.aligner(_check_image(image), face.landmarks)

    def embed_chips(
        self, chips: Sequence[ImageBGR], *, timings: Timings | None = None
    ) -> FloatArray:
        """Embeddings (n, d) float32 of aligned chips, in one batch."""
        size = self._chip_size
        for index, chip in enumerate(chips):
            if not isinstance(chip, np.ndarray) or chip.shape != (size, size, 3):
                shape = getattr(chip, "shape", type(chip).__name__)
                raise InputError(
                    f"chip {index} has shape {shape}, the pack wants ({size}, {size}, 3)"
                )
        d = self.manifest.embedding_size
        if not chips:
            return np.zeros((0, d), dtype=np.float32)
        with timed(timings, "embed"):
            if self.manifest.input.flip_average:
                # One batch of the chips and their mirrors; the mean is the descriptor.
                mirrored = [np.ascontiguousarray(chip[:, ::-1]) for chip in chips]
                both = np.asarray(self._runtime.embedder.embed([*chips, *mirrored]), np.float32)
                out = (both[: len(chips)] + both[len(chips) :]) / np.float32(2.0)
            else:
                out = np.asarray(self._runtime.embedder.embed(chips), dtype=np.float32)
        if out.shape != (len(chips), d):
            raise ModelError(
                f"pack {self.pack_id}: embedder returned shape {out.shape}, "
                f"expected ({len(chips)}, {d})"
            )
        return out

    def embed(
        self, image: ImageBGR, faces: Sequence[Face], *, timings: Timings | None = None
    ) -> FloatArray:
        """Embeddings (n, d) of the given faces of one image, batched."""
        image = _check_image(image)
        if self._runtime.face_embedder is not None:  # each model cuts its own chip
            with timed(timings, "embed"):
                out = self._runtime.face_embedder(image, list(faces))
            return self._checked(np.asarray(out, dtype=np.float32), len(faces))
        with timed(timings, "align"):
            chips = [self._runtime.aligner(image, face.landmarks) for face in faces]
        return self.embed_chips(chips, timings=timings)

    def _checked(self, out: FloatArray, count: int) -> FloatArray:
        d = self.manifest.embedding_size
        if out.shape != (count, d):
            raise ModelError(
                f"pack {self.pack_id}: embedder returned shape {out.shape}, expected ({count}, {d})"
            )
        return out

    def embed_one(
        self,
        image: ImageBGR,
        *,
        policy: Policy = "largest",
        min_face: int = 40,
        timings: Timings | None = None,
    ) -> Face:
        """The chosen face with its embedding.

        ``policy="largest"`` takes the largest face; ``"single"`` refuses a picture with more
        than one face (``MultipleFacesError``, "2 faces found"). No face: ``NoFaceError``.
        """
        if policy not in ("largest", "single"):
            raise InputError(f"unknown face policy {policy!r} (largest or single)")
        faces = self.analyze(image, min_face=min_face, timings=timings)
        if not faces:
            raise NoFaceError(f"no face (of at least {min_face} px) found")
        if policy == "single" and len(faces) > 1:
            raise MultipleFacesError(f"{len(faces)} faces found", len(faces))
        embedding = self.embed(image, faces[:1], timings=timings)[0]
        return replace(faces[0], embedding=embedding)

    # -- comparison ---------------------------------------------------------------------

    def distances(self, a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
        """Row-wise distances between (n, d) and (n, d) (or (1, d)) embeddings."""
        left = np.atleast_2d(np.asarray(a, dtype=np.float64))
        right = np.atleast_2d(np.asarray(b, dtype=np.float64))
        d = self.manifest.embedding_size
        if left.shape[-1] != d or right.shape[-1] != d:
            raise InputError(
                f"embeddings of shape {left.shape} and {right.shape}, pack {self.pack_id} has d={d}"
            )
        if left.shape[0] != right.shape[0] and 1 not in (left.shape[0], right.shape[0]):
            raise InputError(f"cannot pair {left.shape[0]} embeddings with {right.shape[0]}")
        if self.manifest.fusion is not None:
            fused: FloatArray = fusion.fused_distances(self.manifest.fusion, left, right).astype(
                np.float32
            )
            return fused
        if self.distance_name == "cosine":
            dot = np.einsum("ij,ij->i", *np.broadcast_arrays(left, right))
            norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
            result = 1.0 - dot / np.maximum(norms, 1e-12)
        else:
            result = np.linalg.norm(left - right, axis=1)
        out: FloatArray = result.astype(np.float32)
        return out

    def distance_matrix(self, a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
        """All distances (n, m) float32 between (n, d) and (m, d) embeddings.

        The values are those ``distances`` gives row-wise (up to float rounding: both compute
        in float64 and round once to float32), computed with matrix products so that a block
        of millions of comparisons costs one BLAS call, not a Python loop.
        """
        left = np.atleast_2d(np.asarray(a, dtype=np.float64))
        right = np.atleast_2d(np.asarray(b, dtype=np.float64))
        d = self.manifest.embedding_size
        if left.ndim != 2 or right.ndim != 2 or left.shape[-1] != d or right.shape[-1] != d:
            raise InputError(
                f"embeddings of shape {left.shape} and {right.shape}, pack {self.pack_id} has d={d}"
            )
        if self.manifest.fusion is not None:
            spec = self.manifest.fusion
            fused: FloatArray = fusion.fused_distances(spec, left, right, all_pairs=True).astype(
                np.float32
            )
            return fused
        # In place on the one (n, m) product: a block of millions costs two allocations.
        dot = left @ right.T
        if self.distance_name == "cosine":
            norms = np.multiply.outer(np.linalg.norm(left, axis=1), np.linalg.norm(right, axis=1))
            dot /= np.maximum(norms, 1e-12, out=norms)
            result = np.subtract(1.0, dot, out=dot)
        else:
            # |x - y|^2 = (|x|^2 + |y|^2) - 2 x.y; rounding can leave a tiny negative for x == y.
            dot *= -2.0
            dot += np.add.outer(
                np.einsum("ij,ij->i", left, left), np.einsum("ij,ij->i", right, right)
            )
            result = np.sqrt(np.maximum(dot, 0.0, out=dot), out=dot)
        out: FloatArray = result.astype(np.float32)
        return out

    def distance(self, a: npt.ArrayLike, b: npt.ArrayLike) -> float:
        """Distance between two embeddings (lower = more similar)."""
        return float(self.distances(a, b)[0])

    def component_distances(self, a: npt.ArrayLike, b: npt.ArrayLike) -> dict[str, float]:
        """A fusion pack's raw distance per model for one pair ({} for a single-model pack)."""
        spec = self.manifest.fusion
        if spec is None:
            return {}
        left = np.atleast_2d(np.asarray(a, dtype=np.float64))
        right = np.atleast_2d(np.asarray(b, dtype=np.float64))
        parts = fusion.component_distances(spec, left[:1], right[:1])
        return {name: float(values[0]) for name, values in parts.items()}


def load_engine(
    pack: str | Path | None = None, *, threads: int = 0, verify: bool = True
) -> FaceEngine:
    """Open a pack by id (None = the default, "fusion") or folder path.

    ``verify`` re-hashes every file against the manifest first (tens of ms for the dlib pack);
    sizes are always checked. ``threads`` 0 lets ONNX Runtime choose.
    """
    folder = pack_dir(pack)
    manifest = load_manifest(folder)
    check_files(folder, manifest, rehash=verify)
    module = kind_module(manifest.kind, f"pack {manifest.id}")
    runtime = module.open_runtime(folder, manifest, threads=threads)
    if not isinstance(runtime, PackRuntime):
        raise ModelError(f"pack {manifest.id}: {module.__name__}.open_runtime gave no PackRuntime")
    return FaceEngine(manifest, runtime)


__all__ = [
    "STAGES",
    "FaceEngine",
    "FaceError",
    "load_engine",
]
