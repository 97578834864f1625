"""Our dlib re-implementations against dlib-bin itself, on the insightface sample photos.

dlib-bin (``import dlib``) is a test-only oracle: its HOG detector finds the faces, its shape
predictor and ``get_face_chip`` make the reference points and chips, its ResNet makes the
reference descriptors. Conversions run once per module into a temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from gate.types import Box, Landmarks5
from models.dlib.align import dlib_chip
from models.dlib.embedder import DlibEmbedder
from models.dlib.shape_predictor import ShapePredictor5

dlib = pytest.importorskip("dlib", reason="dlib-bin (the test oracle) is not installed")

OracleFace = tuple[np.ndarray, Any, Any]  # BGR image, dlib.rectangle, dlib 5-point shape


@pytest.fixture(scope="module")
def dat_dir(dlib_dat_dir: Path) -> Path:
    return dlib_dat_dir


@pytest.fixture(scope="module")
def oracle_faces(sample_images: Path, dat_dir: Path) -> list[OracleFace]:
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dat_dir / "shape_predictor_5_face_landmarks.dat"))
    faces = []
    for name in ("t1.jpg", "Tom_Hanks_54745.png"):
        image = cv2.imread(str(sample_images / name), cv2.IMREAD_COLOR)
        rgb = np.ascontiguousarray(image[..., ::-1])
        for rect in detector(rgb, 0):
            faces.append((image, rect, predictor(rgb, rect)))
    assert len(faces) >= 5, "dlib's HOG detector should find most faces in the samples"
    return faces


@pytest.fixture(scope="module")
def dlib_chips(oracle_faces: list[OracleFace]) -> list[np.ndarray]:
    """dlib's own 150x150 chips (RGB) of every face."""
    return [
        dlib.get_face_chip(np.ascontiguousarray(image[..., ::-1]), shape, 150, 0.25)
        for image, _, shape in oracle_faces
    ]


@pytest.fixture(scope="module")
def embedder(dlib_files: dict[str, Path]) -> DlibEmbedder:
    return DlibEmbedder(dlib_files["embedder"], threads=2)


def test_embeddings_match_dlib(
    dat_dir: Path, dlib_chips: list[np.ndarray], embedder: DlibEmbedder
) -> None:
    dat = dat_dir / "dlib_face_recognition_resnet_model_v1.dat"
    ours = embedder.embed([chip[..., ::-1] for chip in dlib_chips])
    reference = dlib.face_recognition_model_v1(str(dat))
    theirs = np.array([reference.compute_face_descriptor(chip) for chip in dlib_chips])
    cosine = np.sum(ours * theirs, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    )
    assert cosine.min() >= 0.9999, f"cosine per face {cosine}"
    assert np.abs(ours - theirs).max() < 1e-4
    # Different people stay apart: the faces in t1.jpg are not all one person.
    assert np.linalg.norm(theirs[0] - theirs[1]) > 0.3


@pytest.fixture(scope="module")
def shape_predictor(dlib_files: dict[str, Path]) -> ShapePredictor5:
    return ShapePredictor5(dlib_files["landmarks"])


def parts(shape: Any) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def test_landmarks_match_dlib_on_detected_faces(
    shape_predictor: ShapePredictor5, oracle_faces: list[OracleFace]
) -> None:
    for image, rect, shape in oracle_faces:
        box = Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
        ours = shape_predictor.landmarks(image, box).as_array()
        assert np.abs(ours - parts(shape)).max() <= 0.5


def test_landmarks_match_dlib_on_odd_boxes(
    shape_predictor: ShapePredictor5, dat_dir: Path, sample_images: Path
) -> None:
    """Random boxes, some partly outside the picture: sampling outside must read as 0."""
    reference = dlib.shape_predictor(str(dat_dir / "shape_predictor_5_face_landmarks.dat"))
    image = cv2.imread(str(sample_images / "t1.jpg"), cv2.IMREAD_COLOR)
    rgb = np.ascontiguousarray(image[..., ::-1])
    rng = np.random.default_rng(7)
    height, width = image.shape[:2]
    for _ in range(40):
        size = int(rng.integers(16, 260))
        left = int(rng.integers(-size // 2, width - size // 2))
        top = int(rng.integers(-size // 2, height - size // 2))
        right, bottom = left + size, top + int(size * rng.uniform(0.8, 1.2))
        theirs = parts(reference(rgb, dlib.rectangle(left, top, right, bottom)))
        ours = shape_predictor.landmarks_in_rect(image, left, top, right, bottom).as_array()
        assert np.abs(ours - theirs).max() <= 0.5, (left, top, right, bottom)


def landmarks_of(shape: Any, factor: int = 1) -> Landmarks5:
    return Landmarks5(tuple((float(p.x * factor), float(p.y * factor)) for p in shape.parts()))


def test_chips_match_dlib(oracle_faces: list[OracleFace], dlib_chips: list[np.ndarray]) -> None:
    for (image, _, shape), theirs in zip(oracle_faces, dlib_chips, strict=True):
        ours = dlib_chip(image, landmarks_of(shape))[..., ::-1]
        assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_chips_match_dlib_through_the_pyramid(oracle_faces: list[OracleFace]) -> None:
    """Faces 3x and 5x bigger (crop > 2x the chip): dlib halves the image first."""
    image, rect, shape = oracle_faces[0]
    for factor in (3, 5):
        big = np.ascontiguousarray(np.repeat(np.repeat(image, factor, 0), factor, 1))
        points = [dlib.point(p.x * factor, p.y * factor) for p in shape.parts()]
        big_rect = dlib.rectangle(rect.left() * factor, rect.top() * factor, 0, 0)
        theirs = dlib.get_face_chip(
            np.ascontiguousarray(big[..., ::-1]),
            dlib.full_object_detection(big_rect, points),
            150,
            0.25,
        )
        ours = dlib_chip(big, landmarks_of(shape, factor))[..., ::-1]
        assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_chips_match_dlib_at_the_image_border(oracle_faces: list[OracleFace]) -> None:
    image, rect, shape = oracle_faces[0]
    for dx, dy in ((-60, 0), (0, -70), (40, 40)):
        moved = [dlib.point(p.x + dx, p.y + dy) for p in shape.parts()]
        detection = dlib.full_object_detection(rect, moved)
        theirs = dlib.get_face_chip(np.ascontiguousarray(image[..., ::-1]), detection, 150, 0.25)
        ours = dlib_chip(image, landmarks_of(detection))[..., ::-1]
        assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_full_pipeline_matches_dlib(
    oracle_faces: list[OracleFace],
    shape_predictor: ShapePredictor5,
    embedder: DlibEmbedder,
    dat_dir: Path,
) -> None:
    """Our landmarks -> our chip -> our ONNX embedder vs dlib end to end."""
    dat = dat_dir / "dlib_face_recognition_resnet_model_v1.dat"
    reference = dlib.face_recognition_model_v1(str(dat))
    for image, rect, shape in oracle_faces:
        box = Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
        chip = dlib_chip(image, shape_predictor.landmarks(image, box))
        ours = embedder.embed([chip])[0]
        theirs = np.array(
            reference.compute_face_descriptor(np.ascontiguousarray(image[..., ::-1]), shape)
        )
        assert np.linalg.norm(ours - theirs) < 1e-3
