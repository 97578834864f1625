"""Fixtures for the benchmark-harness tests: synthetic "faces" and an in-memory engine.

A synthetic face is a 4x4 colour pattern per identity, scaled up, with a little per-sample
noise; the fake engine's embedding is the picture shrunk back to 4x4, so images of one
identity are close and different identities far apart. A black picture has "no face".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gate.errors import NoFaceError
from gate.types import Box, Detection, Face, ImageBGR, Landmarks5
from tests.bench.squares import write_square_people

FACE_SIZE = 64


def make_face(identity: int, sample: int, noise: float = 12.0) -> ImageBGR:
    base = np.random.default_rng(identity).integers(30, 226, size=(4, 4, 3))
    tile = np.kron(base, np.ones((FACE_SIZE // 4, FACE_SIZE // 4, 1)))
    jitter = np.random.default_rng(10_000 + 100 * identity + sample).normal(0, noise, tile.shape)
    return np.clip(tile + jitter, 0, 255).astype(np.uint8)


def no_face() -> ImageBGR:
    return np.zeros((FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)


class FakeEngine:
    """Implements what the harness uses of ``models.engine.FaceEngine``."""

    distance_name = "euclidean"

    def __init__(self, pack_id: str = "fake", thresholds: dict[str, float] | None = None) -> None:
        self.pack_id = pack_id
        self.thresholds = {"1e-3": 0.25} if thresholds is None else thresholds
        self.manifest: dict[str, Any] = {
            "id": pack_id,
            "files": {"embedder": {"path": "e.onnx", "sha256": "ab" * 32, "size": 1}},
        }
        self.embedded = 0

    def analyze(self, image: ImageBGR, **_: Any) -> list[Face]:
        if float(image.mean()) < 5.0:
            return []
        h, w = image.shape[:2]
        return [Face(Detection(Box(0, 0, w, h), 1.0), Landmarks5(((1.0, 1.0),) * 5))]

    def embed(self, image: ImageBGR, faces: list[Face], **_: Any) -> np.ndarray:
        import cv2

        self.embedded += len(faces)
        small = cv2.resize(image, (4, 4), interpolation=cv2.INTER_AREA).astype(np.float32)
        return np.stack([small.reshape(-1) / 255.0 for _ in faces])

    def embed_one(self, image: ImageBGR, **_: Any) -> Face:
        from dataclasses import replace

        faces = self.analyze(image)
        if not faces:
            raise NoFaceError("no face (of at least 40 px) found")
        return replace(faces[0], embedding=self.embed(image, faces[:1])[0])

    def distances(self, a: Any, b: Any) -> np.ndarray:
        return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)

    def distance_matrix(self, a: Any, b: Any) -> np.ndarray:
        left, right = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return np.linalg.norm(left[:, None, :] - right[None, :, :], axis=2)

    def threshold(self, fmr: str = "1e-3") -> float:
        from gate.errors import ModelError

        if fmr not in self.thresholds:
            raise ModelError(f"pack {self.pack_id} has no threshold for FMR {fmr}")
        return self.thresholds[fmr]


def write_png(path: Path, image: ImageBGR) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("png encoding failed")
    path.write_bytes(data.tobytes())


@pytest.fixture()
def fake_engine_class() -> type[FakeEngine]:
    return FakeEngine


@pytest.fixture()
def face_factory() -> Callable[[int, int], ImageBGR]:
    return make_face


@pytest.fixture()
def png_writer() -> Callable[[Path, ImageBGR], None]:
    return write_png


@pytest.fixture()
def identity_tree(tmp_path: Path) -> Path:
    """people/<Person_k>/<Person_k>_000n.png: 6 identities with 1..4 images each."""
    root = tmp_path / "people"
    for identity, count in enumerate((3, 2, 4, 1, 3, 2)):
        name = f"Person_{identity}"
        for sample in range(1, count + 1):
            write_png(root / name / f"{name}_{sample:04d}.png", make_face(identity, sample))
    return root


@pytest.fixture()
def pairs_csv(tmp_path: Path) -> Path:
    """A pairs CSV with an extra column, one unreadable ("no face") image, 8 identities."""
    folder = tmp_path / "csvset"
    rows = ["left,right,same,fold"]
    for identity in range(8):
        for sample in (1, 2):
            write_png(
                folder / "img" / f"id{identity}" / f"{sample}.png", make_face(identity, sample)
            )
    write_png(folder / "img" / "id0" / "dark.png", no_face())
    for identity in range(8):
        rows.append(f"img/id{identity}/1.png,img/id{identity}/2.png,1,{identity % 2}")
        other = (identity + 1) % 8
        rows.append(f"img/id{identity}/1.png,img/id{other}/2.png,0,{identity % 2}")
    rows.append("img/id0/dark.png,img/id0/1.png,1,0")
    rows.append("img/id0/dark.png,img/id3/1.png,0,0")
    path = folder / "pairs.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def square_people(tmp_path: Path) -> Path:
    """A data set the tiny InsightFace-shaped pack reads (``tests.bench.squares``)."""
    return write_square_people(tmp_path / "squares")
