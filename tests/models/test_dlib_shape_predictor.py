"""dlib 5-point shape predictor in numpy: conversion, box convention, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.errors import InputError, ModelError
from gate.interfaces import LandmarkModel
from gate.types import Box
from models.dlib.shape_predictor import (
    ShapePredictor5,
    convert_shape_predictor,
    dlib_rect,
    read_shape_predictor,
    write_npz_bytes,
)

DAT_NAME = "shape_predictor_5_face_landmarks.dat"


@pytest.fixture(scope="module")
def dat_path(dlib_dat_dir: Path) -> Path:
    return dlib_dat_dir / DAT_NAME


@pytest.fixture(scope="module")
def npz_path(dlib_files: dict[str, Path]) -> Path:
    return dlib_files["landmarks"]


@pytest.fixture(scope="module")
def npz_bytes(npz_path: Path) -> bytes:
    return npz_path.read_bytes()


@pytest.fixture(scope="module")
def predictor(npz_path: Path) -> ShapePredictor5:
    return ShapePredictor5(npz_path)


@pytest.fixture(scope="module")
def face_image(sample_images: Path) -> np.ndarray:
    return cv2.imread(str(sample_images / "Tom_Hanks_54745.png"), cv2.IMREAD_COLOR)


def test_npz_layout_and_stable_bytes(npz_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    path.write_bytes(npz_bytes)
    with np.load(path) as data:
        assert data["initial_shape"].shape == (10,)
        assert data["split_pixels"].shape == (15, 500, 15, 2)
        assert data["leaf_values"].shape == (15, 500, 16, 10)
        assert data["anchor"].shape == (15, 800)
        assert data["deltas"].shape == (15, 800, 2)
        again = write_npz_bytes({key: data[key] for key in data.files})
    # Writing the same arrays again gives the same bytes (no zip timestamps).
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(npz_bytes).hexdigest()


@pytest.mark.slow
def test_conversion_is_deterministic(dat_path: Path, npz_bytes: bytes) -> None:
    assert convert_shape_predictor(dat_path) == npz_bytes


def test_dlib_rect_convention() -> None:
    assert dlib_rect(Box(10, 20, 110, 220)) == (10, 20, 109, 219)
    assert dlib_rect(Box(10.5, 20.49, 110.5, 220.2)) == (11, 20, 110, 219)


def test_box_and_inclusive_rect_agree(predictor: ShapePredictor5, face_image: np.ndarray) -> None:
    assert isinstance(predictor, LandmarkModel)
    via_box = predictor.landmarks(face_image, Box(10, 12, 100, 102))
    via_rect = predictor.landmarks_in_rect(face_image, 10, 12, 99, 101)
    assert via_box == via_rect
    points = via_box.as_array()
    assert points.shape == (5, 2)
    # The eyes are above the nose; the image-right eye (points 0, 1) is right of the other.
    assert points[:4, 1].max() < points[4, 1]
    assert points[0:2, 0].min() > points[2:4, 0].max()
    assert np.array_equal(points, np.floor(points))  # whole pixels, like dlib


def test_points_follow_the_box(predictor: ShapePredictor5, face_image: np.ndarray) -> None:
    box = Box(10, 12, 100, 102)
    moved = predictor.landmarks(np.roll(face_image, (7, 5), axis=(0, 1)), Box(15, 19, 105, 109))
    original = predictor.landmarks(face_image, box).as_array()
    np.testing.assert_allclose(moved.as_array() - original, [[5, 7]] * 5, atol=1.0)


def test_sub_pixel_mode(npz_path: Path, face_image: np.ndarray) -> None:
    box = Box(10, 12, 100, 102)
    precise = ShapePredictor5(npz_path, integer_points=False).landmarks(face_image, box)
    rounded = ShapePredictor5(npz_path).landmarks(face_image, box)
    assert np.abs(precise.as_array() - rounded.as_array()).max() <= 0.5
    assert not np.array_equal(precise.as_array(), np.floor(precise.as_array()))


def test_box_outside_image_does_not_crash(
    predictor: ShapePredictor5, face_image: np.ndarray
) -> None:
    points = predictor.landmarks(face_image, Box(-500, -500, -300, -300)).as_array()
    assert np.isfinite(points).all()


def test_bad_inputs(predictor: ShapePredictor5, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="uint8"):
        predictor.landmarks(np.zeros((50, 50), np.uint8), Box(0, 0, 10, 10))
    with pytest.raises(InputError, match="non-finite"):
        predictor.landmarks(np.zeros((50, 50, 3), np.uint8), Box(0, 0, float("nan"), 10))
    with pytest.raises(ModelError, match="missing.npz"):
        ShapePredictor5(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, initial_shape=np.zeros(10, np.float32))
    with pytest.raises(ModelError, match="bad.npz"):
        ShapePredictor5(bad)


def test_truncated_dat_names_offset(dat_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.dat"
    broken.write_bytes(dat_path.read_bytes()[:20_000])
    with pytest.raises(ModelError, match=r"broken\.dat: .* at byte offset \d+"):
        read_shape_predictor(broken)


@pytest.mark.parametrize("mirror", [False, True])
def test_internal_similarity_agrees_with_umeyama(mirror: bool) -> None:
    """The closed-form 2x2 used per cascade level equals the general SVD solution,
    including the reflection case (a mirrored shape)."""
    from models.dlib.align import similarity_transform
    from models.dlib.shape_predictor import _similarity_2x2

    rng = np.random.default_rng(5)
    reference = rng.uniform(0, 1, (5, 2))
    current = reference @ np.array([[0.9, -0.2], [0.2, 0.9]]).T + rng.normal(0, 0.02, (5, 2))
    if mirror:
        current[:, 0] = -current[:, 0]
    centred = reference - reference.mean(axis=0)
    ours = _similarity_2x2(centred, float(np.sum(centred**2)), current.astype(np.float32))
    expected = similarity_transform(reference, current.astype(np.float32))[:, :2]
    np.testing.assert_allclose(ours, expected, atol=1e-6)
