"""Per-stage cost of one 640x480 frame with one face, fusion beside dlib-cc0 in the same run.

Run: .venv/bin/pytest bench/micro/test_stages_micro.py --benchmark-enable --benchmark-only
Stages: ``detect`` (a whole frame: YuNet with dlib's 5 points for fusion; MMOD and the shape
predictor for dlib-cc0), ``track`` (YuNet in the region around the last face, with the
points), ``landmarks`` (dlib's 5-point model alone), ``quality`` and ``embed`` (one face:
both descriptors for fusion). ``test_frame_schedule`` times what the capture pipeline does
per frame (a whole-frame detection every 5th frame, tracking between, quality always);
``extra_info`` keeps the medians in ms and the ratios to dlib-cc0.
"""

from __future__ import annotations

import statistics
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.micro.reference import runs
from drivers.camera.synthetic import TravellerScene, render_sequence
from gate.capture.pipeline import CaptureSettings
from gate.capture.quality import assess, layout_for
from gate.errors import ModelError
from gate.images import load_image

Engines = dict[str, Any]
POINTS = ((78.0, 49.0), (65.0, 51.0), (28.0, 50.0), (43.0, 52.0), (58.0, 83.0))


def _engine(pack: str) -> Any:
    from models.engine import load_engine

    try:
        return load_engine(pack, threads=2)
    except ModelError as exc:
        pytest.skip(f"pack {pack} not prepared ({exc}); run `make install`")


@pytest.fixture(scope="module")
def engines() -> dict[str, Any]:
    return {"fusion": _engine("fusion"), "dlib-cc0": _engine("dlib-cc0")}


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
    photo = load_image(path)
    if photo is None:
        pytest.skip(f"sample photo missing at {path}")
    scene = TravellerScene(np.asarray(photo), seed=2, frames=20, photo_landmarks=POINTS)
    return [f.image for f in render_sequence(scene)][8:]  # the face is close: 70-80 px


def _cycle(items: list[Any]) -> Any:
    cursor = {"i": 0}

    def next_item() -> Any:
        cursor["i"] += 1
        return items[cursor["i"] % len(items)]

    return next_item


@pytest.mark.parametrize("pack", ["fusion", "dlib-cc0"])
def test_stage_detect(benchmark: Any, engines: Engines, frames: list[Any], pack: str) -> None:
    engine, frame = engines[pack], _cycle(frames)
    faces = benchmark(lambda: engine.analyze(frame(), min_face=60))
    assert len(faces) == 1


def test_stage_track(benchmark: Any, engines: dict[str, Any], frames: list[Any]) -> None:
    engine = engines["fusion"]
    pairs = [(now, engine.analyze(before, min_face=60)[0]) for before, now in pairwise(frames)]
    pair = _cycle(pairs)

    def track() -> Any:
        image, previous = pair()
        return engine.track(image, previous, min_face=60)

    assert benchmark(track) is not None


def test_stage_landmarks(benchmark: Any, engines: dict[str, Any], frames: list[Any]) -> None:
    engine = engines["fusion"]
    face = engine.analyze(frames[0], min_face=60)[0]
    model = engine._runtime.landmarks  # noqa: SLF001 - the shape predictor alone
    points = benchmark(lambda: model.landmarks(frames[0], face.detection.box))
    assert len(points.points) == 5


@pytest.mark.parametrize("pack", ["fusion", "dlib-cc0"])
def test_stage_quality(benchmark: Any, engines: Engines, frames: list[Any], pack: str) -> None:
    engine = engines[pack]
    face = engine.analyze(frames[0], min_face=60)[0]
    layout = layout_for(engine.landmark_layout)
    quality = benchmark(lambda: assess(frames[0], face, layout))
    assert 0.0 <= quality.score <= 1.0


@pytest.mark.parametrize("pack", ["fusion", "dlib-cc0"])
def test_stage_embed(benchmark: Any, engines: Engines, frames: list[Any], pack: str) -> None:
    engine = engines[pack]
    face = engine.analyze(frames[0], min_face=60)[0]
    out = benchmark(lambda: engine.embed(frames[0], [face]))
    assert out.shape == (1, engine.manifest.embedding_size)


def _schedule_ms(engine: Any, frames: list[Any], every: int, passes: int) -> list[float]:
    """Per-frame ms of detect-or-track + landmarks + quality, as the pipeline schedules it,
    over ``passes`` passes of the frames."""
    layout = layout_for(engine.landmark_layout)
    out, followed = [], None
    for index, image in enumerate(frames * passes):
        started = time.perf_counter()
        face = None
        if engine.can_track and followed is not None and index % every:
            face = engine.track(image, followed, min_face=60)
        if face is None:
            faces = engine.analyze(image, min_face=60)
            face = faces[0] if faces else None
        if face is not None:
            assess(image, face, layout)
        out.append((time.perf_counter() - started) * 1000.0)
        followed = face
    return out


def test_frame_schedule(
    benchmark: Any, engines: dict[str, Any], frames: list[Any], pytestconfig: pytest.Config
) -> None:
    every = CaptureSettings().redetect_every
    passes = runs(pytestconfig, 3)  # one pass where nothing is timed (make test)
    fusion = benchmark.pedantic(
        lambda: _schedule_ms(engines["fusion"], frames, every, passes), rounds=1, iterations=1
    )
    dlib = _schedule_ms(engines["dlib-cc0"], frames, every, passes)
    benchmark.extra_info.update(
        frame_median_ms_fusion=round(statistics.median(fusion), 2),
        frame_median_ms_dlib=round(statistics.median(dlib), 2),
        speedup_vs_dlib=round(statistics.median(dlib) / statistics.median(fusion), 1),
        redetect_every=every,
    )
    assert len(fusion) == len(dlib) == passes * len(frames)
