"""Fixtures of the chip micro-benchmarks: the ~20 KB passport portrait (pcscd comes from the
project's root conftest)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from gate.images import load_image


@pytest.fixture(scope="module")
def portrait_jpeg() -> bytes:
    """Tom Hanks from insightface's sample images, 300 x 375, JPEG quality 95 (~20 KB DG2)."""
    import insightface

    photo = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    portrait = load_image(photo)
    image = cv2.resize(portrait, (300, 375), interpolation=cv2.INTER_CUBIC)
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
