from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

# dlib's 5 points of the sample photo (found once with dlib-bin), so scenes need no detector
TOM_HANKS_POINTS = ((78.0, 49.0), (65.0, 51.0), (28.0, 51.0), (43.0, 52.0), (58.0, 83.0))


@pytest.fixture(scope="session")
def face_photo(sample_images: Path) -> np.ndarray:
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"), cv2.IMREAD_COLOR)
    assert image is not None
    return image


@pytest.fixture(scope="session")
def dlib_oracle():  # type: ignore[no-untyped-def]
    pytest.importorskip("dlib", reason="dlib-bin (test-only oracle) is not installed")
    from tests.gate.capture.engines import DlibOracle

    return DlibOracle()
