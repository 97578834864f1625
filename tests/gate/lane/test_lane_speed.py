"""The kiosk lane in real time (issue 25, real-time speed): the idle lane's camera probe
keeps its frame for the capture about to start; the side engine enrols the chip photo while
a capture holds the lane's engine; ``egate run`` builds its lane with it and with the
capture running ahead."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gate.clock import SimulatedClock, SystemClock
from gate.fakes import FakeCamera
from gate.lane import resilient
from gate.lane.adapters import EngineBiometrics, engine_biometrics_loader
from gate.lane.resilient import ReopeningCamera
from gate.lane.side_engine import SideEngine
from gate.types import Box, Detection, Face, ImageBGR, Landmarks5

FACE = Face(Detection(Box(0, 0, 4, 4), 0.9), Landmarks5(((0.0, 0.0),) * 5))


def test_the_probes_frame_is_the_next_read_and_only_while_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = FakeCamera(SimulatedClock())
    camera = ReopeningCamera(lambda: source)
    camera.probe(1.0)
    assert source.frames_served == 1
    assert camera.read(1.0).index == 1 and source.frames_served == 1  # the probe's frame
    assert camera.read(1.0).index == 2  # held once only
    monkeypatch.setattr(resilient, "HELD_S", -1.0)  # every held frame already stale
    monkeypatch.setattr(resilient, "ANSWERED_S", -1.0)  # ... and every read too old
    camera.probe(1.0)
    assert camera.read(1.0).index == 4 and source.frames_served == 4


def test_a_frame_read_just_now_answers_the_probe_without_a_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A capture watching the approach reads every frame: the probe takes none from it."""
    source = FakeCamera(SimulatedClock())
    camera = ReopeningCamera(lambda: source)
    camera.read(1.0)
    camera.probe(1.0)
    assert source.frames_served == 1
    monkeypatch.setattr(resilient, "ANSWERED_S", -1.0)
    camera.probe(1.0)
    assert source.frames_served == 2


class StepEngine:
    """A face engine whose enrolments are recorded."""

    def __init__(self, steps: list[str], name: str) -> None:
        self.steps = steps
        self.name = name

    def embed_one(self, photo: ImageBGR, *, policy: str, min_face: int) -> Face:
        self.steps.append(f"{self.name} enrol")
        return Face(FACE.detection, FACE.landmarks, np.ones(4, np.float32))


class HeldCapture:
    """A capture pipeline that runs until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def capture(self, camera: Any, clock: Any, deadline_s: float, scanned: Any = None) -> Any:
        self.started.set()
        assert self.release.wait(10.0)
        return SimpleNamespace(
            status="fta", best_faces=(), liveness_score=0.0, quality=None, frames_seen=0,
            frames_dropped=0, timings_ms={}, detail="", best_image=None, liveness=None,
        )  # fmt: skip


def test_the_side_engine_enrols_while_a_capture_holds_the_lanes_engine() -> None:
    steps: list[str] = []
    pipeline = HeldCapture()
    biometrics = EngineBiometrics(
        StepEngine(steps, "lane"),  # type: ignore[arg-type]
        pipeline,  # type: ignore[arg-type]
        side=SideEngine(StepEngine(steps, "side")),  # type: ignore[arg-type]
    )
    capture = threading.Thread(
        target=biometrics.capture, args=(None, SystemClock(), 5.0), daemon=True
    )
    capture.start()
    try:
        assert pipeline.started.wait(10.0)
        reference = biometrics.enrol(np.zeros((4, 4, 3), np.uint8))  # does not wait
        assert steps == ["side enrol"] and capture.is_alive()
        assert reference.dtype == np.float32 and reference.shape == (4,)
    finally:
        pipeline.release.set()
        capture.join(10.0)


def test_the_loader_opens_the_pack_twice_for_a_side_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import models.engine

    opened: list[tuple[str | None, int]] = []

    def load_engine(pack: str | None, *, threads: int = 0) -> Any:
        opened.append((pack, threads))
        return SimpleNamespace(landmark_layout="dlib-cc0", pack_id="p")

    monkeypatch.setattr(models.engine, "load_engine", load_engine)
    plain = engine_biometrics_loader("default")()
    assert plain.side is None and opened == [(None, 0)]
    opened.clear()
    kiosk = engine_biometrics_loader("default", side_engine=True)()
    assert isinstance(kiosk.side, SideEngine) and opened == [(None, 0), (None, 1)]


def test_a_real_time_lane_runs_its_capture_ahead() -> None:
    from gate.config import GateConfig
    from gate.fakes import FakeLane
    from gate.lane import build_lane

    parts = FakeLane()
    kwargs: dict[str, Any] = dict(
        clock=parts.clock, documents=parts.documents, chip_reader=object(),
        biometrics=parts.biometrics, camera=parts.camera, turnstile=parts.turnstile,
        audit=parts.audit,
    )  # fmt: skip
    for real_time in (False, True):
        with build_lane(GateConfig(), real_time=real_time, **kwargs) as lane:
            assert lane.capture_ahead.enabled is real_time
