"""dlib-style face chips: similarity transform, geometry, pyramid, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gate.errors import InputError
from gate.types import Landmarks5
from models.dlib.align import (
    DLIB_TEMPLATE_5,
    dlib_chip,
    face_chip_details,
    pyramid_down_2,
    similarity_transform,
)


def rotation(angle: float) -> np.ndarray:
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def test_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (7, 2))
    matrix = 2.5 * rotation(0.3)
    dst = src @ matrix.T + [10.0, -4.0]
    found = similarity_transform(src, dst)
    np.testing.assert_allclose(found[:, :2], matrix, atol=1e-9)
    np.testing.assert_allclose(found[:, 2], [10.0, -4.0], atol=1e-9)


def test_similarity_is_least_squares_with_noise() -> None:
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 100, (20, 2))
    dst = src * 0.5 + rng.normal(0, 0.5, src.shape)
    found = similarity_transform(src, dst)
    residual = np.linalg.norm(src @ found[:, :2].T + found[:, 2] - dst, axis=1)
    # Any perturbation of the solution fits worse.
    for delta in (1e-3, -1e-3):
        worse = found.copy()
        worse[0, 0] += delta
        worse[1, 1] += delta
        other = np.linalg.norm(src @ worse[:, :2].T + worse[:, 2] - dst, axis=1)
        assert np.sum(other**2) > np.sum(residual**2)


def test_similarity_rejects_bad_shapes() -> None:
    with pytest.raises(InputError, match="both be"):
        similarity_transform(np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(InputError, match="at least 2"):
        similarity_transform(np.zeros((1, 2)), np.zeros((1, 2)))


def template_points(size: float, padding: float = 0.25) -> np.ndarray:
    return (padding + DLIB_TEMPLATE_5) / (2 * padding + 1) * size


def test_chip_details_of_the_template_itself() -> None:
    details = face_chip_details(template_points(150), 150, 0.25)
    assert details.angle == pytest.approx(0, abs=1e-12)
    assert (details.left, details.top) == pytest.approx((0.5, 0.5))  # 150 - 1 wide
    assert (details.right, details.bottom) == pytest.approx((149.5, 149.5))


def test_chip_details_follow_rotation_and_scale() -> None:
    points = template_points(150) @ (3 * rotation(0.4)).T + [500, 300]
    details = face_chip_details(points, 150, 0.25)
    assert details.angle == pytest.approx(0.4)
    assert details.right - details.left == pytest.approx(150 * 3 - 1)


def test_template_landmarks_map_chip_pixels_half_a_pixel_in() -> None:
    """dlib's rectangle is size*scale - 1 wide: chip pixel c samples image c + 0.5."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)
    chip = dlib_chip(image, Landmarks5(tuple(map(tuple, template_points(150)))))
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    pixels = image.astype(float)
    block_mean = (pixels[:-1, :-1] + pixels[1:, :-1] + pixels[:-1, 1:] + pixels[1:, 1:]) / 4
    assert np.abs(chip[:-1, :-1] - block_mean).max() <= 1.0
    assert not chip[-1].any() and not chip[:, -1].any()  # 2x2 block leaves the image: 0
    # Shifted back by half a pixel, the chip is the image itself (up to truncation of
    # values like 246.99999, as in dlib).
    shifted = Landmarks5(tuple(map(tuple, template_points(150) - 0.5)))
    chip = dlib_chip(image, shifted)
    assert np.abs(chip[:-1, :-1].astype(int) - image[:-1, :-1]).max() <= 1


def test_degenerate_landmarks_do_not_crash() -> None:
    image = np.full((100, 100, 3), 9, np.uint8)
    chip = dlib_chip(image, Landmarks5(((50.0, 50.0),) * 5))  # all five points coincide
    assert chip.shape == (150, 150, 3)


def test_chip_of_a_face_outside_the_image_is_black() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    landmarks = Landmarks5(tuple(map(tuple, template_points(150) + 1000)))
    assert not dlib_chip(image, landmarks).any()


def test_chip_keeps_channel_order_and_zero_border() -> None:
    image = np.zeros((300, 300, 3), np.uint8)
    image[..., 0] = 255  # pure blue in BGR
    landmarks = Landmarks5(tuple(map(tuple, template_points(150) - 20)))
    chip = dlib_chip(image, landmarks)
    assert chip[100, 100].tolist() == [255, 0, 0]
    assert not chip[0, 0].any()  # the crop runs off the top-left corner: zeros there


def test_large_faces_go_through_the_pyramid() -> None:
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (1200, 1200, 3), dtype=np.uint8)
    landmarks = Landmarks5(tuple(map(tuple, template_points(900) + 150)))
    chip = dlib_chip(image, landmarks)
    # Halving averages out noise: the chip is much smoother than raw noise would be.
    assert chip.std() < image.std() * 0.5


def test_pyramid_down_shape_and_constant_image() -> None:
    image = np.full((21, 30, 3), 77, np.uint8)
    down = pyramid_down_2(image)
    assert down.shape == (9, 13, 3)
    assert (down == 77).all()  # the filter sums to 256
    assert pyramid_down_2(np.zeros((8, 50, 3), np.uint8)).shape == (0, 0, 3)


def test_bad_inputs() -> None:
    landmarks = Landmarks5(tuple(map(tuple, template_points(150))))
    with pytest.raises(InputError, match="uint8"):
        dlib_chip(np.zeros((100, 100), np.uint8), landmarks)
    with pytest.raises(InputError, match="5 landmarks"):
        dlib_chip(np.zeros((100, 100, 3), np.uint8), Landmarks5(((1.0, 2.0), (3.0, 4.0))))
    nan_points = Landmarks5(((float("nan"), 1.0),) * 5)
    with pytest.raises(InputError, match="finite"):
        dlib_chip(np.zeros((100, 100, 3), np.uint8), nan_points)
    with pytest.raises(InputError, match="chip size"):
        dlib_chip(np.zeros((100, 100, 3), np.uint8), landmarks, size=1)
