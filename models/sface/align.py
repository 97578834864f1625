"""The 112x112 ArcFace chip: a similarity transform of the 5 points onto the standard template.

SFace was trained on chips cut this way (``cv2.FaceRecognizerSF.alignCrop`` does the same);
the points are YuNet's: eye centres (image-left first), nose tip, mouth corners.
"""

from __future__ import annotations

import cv2
import numpy as np

from gate.errors import InputError
from gate.types import ImageBGR, Landmarks5
from models.dlib.align import similarity_transform

ARCFACE_TEMPLATE_112 = np.array(
    [
        (38.2946, 51.6963),
        (73.5318, 51.5014),
        (56.0252, 71.7366),
        (41.5493, 92.3655),
        (70.7299, 92.2041),
    ],
    dtype=np.float64,
)
CHIP_SIZE = 112


def arcface_chip(image: ImageBGR, landmarks: Landmarks5, size: int = CHIP_SIZE) -> ImageBGR:
    """The aligned ``size`` x ``size`` chip (same channel order as ``image``)."""
    points = landmarks.as_array()
    if points.shape != (5, 2):
        raise InputError(f"an ArcFace chip needs 5 landmarks (5, 2), got {points.shape}")
    matrix = similarity_transform(points, ARCFACE_TEMPLATE_112 * (size / CHIP_SIZE))
    chip = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    return np.asarray(chip, dtype=np.uint8)
