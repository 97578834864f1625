"""The chip's photo of a simulated traveller: more of the head than the scene portrait."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gate.simulate.faces import CHIP_SIZE, PORTRAIT_SIZE, PhotoLibrary
from gate.types import Box, Detection, Face, Landmarks5

# dlib's order: the corners of one eye, of the other, the base of the nose
POINTS = ((140.0, 100.0), (120.0, 100.0), (60.0, 100.0), (80.0, 100.0), (100.0, 150.0))


def _eye_centres(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the two red eye dots landed (the centroids of the left and right red blobs)."""
    red = (image[..., 2] > 150) & (image[..., 0] < 100) & (image[..., 1] < 100)
    ys, xs = np.nonzero(red)
    middle = image.shape[1] / 2
    left = np.array([xs[xs < middle].mean(), ys[xs < middle].mean()])
    right = np.array([xs[xs >= middle].mean(), ys[xs >= middle].mean()])
    return left, right


def test_the_chip_photo_keeps_the_head_around_the_face(tmp_path: Path) -> None:
    photo = np.full((320, 320, 3), 90, np.uint8)  # not padded nor enlarged for the detector
    for x in (70, 130):  # the eye centres
        cv2.circle(photo, (x, 100), 4, (0, 0, 255), -1)
    cv2.imwrite(str(tmp_path / "person.png"), photo)

    def analyze(image: np.ndarray) -> list[Face]:
        return [Face(Detection(Box(50, 70, 150, 180), 1.0), Landmarks5(POINTS))]

    library = PhotoLibrary(analyze)
    chip = library.chip_photo(str(tmp_path / "person.png"))
    portrait = library.portrait(str(tmp_path / "person.png"))
    assert chip.shape == (CHIP_SIZE[1], CHIP_SIZE[0], 3)
    assert portrait.shape == (PORTRAIT_SIZE[1], PORTRAIT_SIZE[0], 3)
    left, right = _eye_centres(chip)
    assert abs(left[1] - right[1]) < 2.0  # upright
    assert abs((left[0] + right[0]) / 2 - CHIP_SIZE[0] / 2) < 3.0  # centred
    chip_share = (right[0] - left[0]) / CHIP_SIZE[0]
    p_left, p_right = _eye_centres(portrait)
    portrait_share = (p_right[0] - p_left[0]) / PORTRAIT_SIZE[0]
    # the face takes a smaller share of the chip photo: more head, hair and shoulders
    assert 75 < right[0] - left[0] < 95 and chip_share < 0.8 * portrait_share
    assert library.chip_photo(str(tmp_path / "person.png")) is chip  # made once
