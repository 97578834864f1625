"""Stand-in face engines for the capture tests.

``TruthEngine`` answers from the synthetic scene's ground truth (fast, exact) and counts its
whole-frame detections (``analyzed``) and tracks (``tracked``); ``DlibOracle`` runs the real
dlib (dlib-bin, a test-only dependency: HOG detector, 5-point predictor, ResNet embedder) so
the synthetic scenes are checked against a real face detector. Both implement the capture
pipeline's engine protocol (``gate.interfaces.CaptureEngine``), tracking included.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, MutableMapping, Sequence
from types import SimpleNamespace

import numpy as np

from drivers.camera.synthetic import SyntheticFrame
from gate.types import Box, Detection, Face, FloatArray, ImageBGR, Landmarks5


def image_key(image: ImageBGR) -> str:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=12).hexdigest()


class TruthEngine:
    """Finds exactly the faces the renderer put in each frame; embeds by photo identity.

    ``tracking``: it can also follow a face between whole-frame detections (the truth's
    largest face, as a real tracker finds the one it follows)."""

    manifest = SimpleNamespace(kind="dlib-cc0", id="truth")
    landmark_layout = "dlib-cc0"

    def __init__(
        self, frames: Iterable[SyntheticFrame], identity: int = 0, tracking: bool = False
    ) -> None:
        self._truth = {image_key(f.image): f for f in frames}
        self.identity = identity
        self.tracking = tracking
        self.analyzed = 0  # whole-frame detections
        self.tracked = 0  # tracks asked for

    @property
    def can_track(self) -> bool:
        return self.tracking

    def _faces(self, image: ImageBGR, min_face: int) -> list[Face]:
        frame = self._truth.get(image_key(image))
        if frame is None:
            return []
        faces = [
            Face(Detection(box, 0.99), Landmarks5(points))
            for box, points in zip(frame.boxes, frame.landmarks, strict=False)
            if box.width >= min_face
        ]
        return sorted(faces, key=lambda f: f.detection.box.area, reverse=True)

    def analyze(
        self,
        image: ImageBGR,
        *,
        min_face: int = 40,
        timings: MutableMapping[str, float] | None = None,
    ) -> list[Face]:
        self.analyzed += 1
        return self._faces(image, min_face)

    def track(
        self,
        image: ImageBGR,
        previous: Face,
        *,
        min_face: int = 40,
        timings: MutableMapping[str, float] | None = None,
    ) -> Face | None:
        if not self.tracking:
            return None
        self.tracked += 1
        faces = self._faces(image, min_face)
        return faces[0] if faces else None

    def embed(
        self,
        image: ImageBGR,
        faces: Sequence[Face],
        *,
        timings: MutableMapping[str, float] | None = None,
    ) -> FloatArray:
        rng = np.random.default_rng(self.identity)
        base = rng.normal(size=128).astype(np.float32)
        return np.stack([base for _ in faces]).astype(np.float32)


class DlibOracle:
    """dlib-bin's HOG detector, 5-point predictor and embedder behind the engine's API."""

    manifest = SimpleNamespace(kind="dlib-cc0", id="dlib-bin")
    landmark_layout = "dlib-cc0"
    can_track = False  # HOG needs whole frames

    def __init__(self) -> None:
        import dlib
        import face_recognition_models

        folder = os.path.join(os.path.dirname(face_recognition_models.__file__), "models")
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(
            os.path.join(folder, "shape_predictor_5_face_landmarks.dat")
        )
        self._embedder = dlib.face_recognition_model_v1(
            os.path.join(folder, "dlib_face_recognition_resnet_model_v1.dat")
        )
        self._shapes: dict[tuple[float, float, float, float], object] = {}

    def analyze(
        self,
        image: ImageBGR,
        *,
        min_face: int = 40,
        timings: MutableMapping[str, float] | None = None,
    ) -> list[Face]:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        faces = []
        for rect in self._detector(rgb, 0):
            box = Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
            if box.width < min_face:
                continue
            shape = self._predictor(rgb, rect)
            points = tuple((float(p.x), float(p.y)) for p in shape.parts())
            faces.append(Face(Detection(box, 1.0), Landmarks5(points)))
        return sorted(faces, key=lambda f: f.detection.box.area, reverse=True)

    def track(
        self,
        image: ImageBGR,
        previous: Face,
        *,
        min_face: int = 40,
        timings: MutableMapping[str, float] | None = None,
    ) -> Face | None:
        return None

    def embed(
        self,
        image: ImageBGR,
        faces: Sequence[Face],
        *,
        timings: MutableMapping[str, float] | None = None,
    ) -> FloatArray:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        out = []
        for face in faces:
            b = face.detection.box
            rect = self._dlib.rectangle(
                int(b.left), int(b.top), int(b.right) - 1, int(b.bottom) - 1
            )
            shape = self._predictor(rgb, rect)
            out.append(np.asarray(self._embedder.compute_face_descriptor(rgb, shape)))
        return np.asarray(out, dtype=np.float32).reshape(len(faces), 128)
