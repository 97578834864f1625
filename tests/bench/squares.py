"""Square "faces" the tiny InsightFace-shaped models find: a bright red square, identity in
green and blue."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def square_scene(identity: int, sample: int) -> np.ndarray:
    """A 'face' for the tiny SCRFD (a bright red square); identity lives in green/blue."""
    image = np.zeros((256, 256, 3), np.uint8)
    image[96:128, 96:128, 2] = 255
    pattern = np.kron(
        np.random.default_rng(identity).integers(0, 256, (4, 4, 2)), np.ones((24, 24, 1))
    )
    noise = np.random.default_rng(1000 + 10 * identity + sample).normal(0, 10, pattern.shape)
    image[64:160, 64:160, :2] = np.clip(pattern + noise, 0, 255).astype(np.uint8)
    return image


def write_square_people(root: Path) -> Path:
    """4 identities x 3 samples as PNG folders under ``root``, and one black picture."""
    import cv2

    for identity in range(4):
        folder = root / f"id{identity}"
        folder.mkdir(parents=True)
        for sample in range(3):
            cv2.imwrite(str(folder / f"{sample}.png"), square_scene(identity, sample))
    cv2.imwrite(str(root / "id0" / "black.png"), np.zeros((256, 256, 3), np.uint8))
    return root
