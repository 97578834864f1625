"""The people of the sample group photo (insightface's ``t1.jpg``) as a small dataset: one
square crop per face, for the tests that run ``--dataset`` folders through the simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gate.errors import ModelError


def face_crops(sample_images: Path) -> list[np.ndarray]:
    """Each face of ``t1.jpg``, left to right, cropped square at 1.6 times its box around its
    centre; the test is skipped when no face model pack is prepared."""
    import cv2

    from models.engine import load_engine

    try:
        engine = load_engine(None)
    except ModelError as exc:
        pytest.skip(f"face model pack not prepared ({exc})")
    group = cv2.imread(str(sample_images / "t1.jpg"))
    faces = sorted(engine.analyze(group), key=lambda f: f.detection.box.left)
    crops = []
    for face in faces:
        box = face.detection.box
        size = int(1.6 * max(box.width, box.height))
        cx, cy = int((box.left + box.right) / 2), int((box.top + box.bottom) / 2)
        top, left = max(0, cy - size // 2), max(0, cx - size // 2)
        crops.append(np.ascontiguousarray(group[top : top + size, left : left + size]))
    return crops
