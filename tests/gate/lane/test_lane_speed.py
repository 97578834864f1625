"""The kiosk lane in real time (issue 25, real-time speed): the idle lane's camera probe
keeps its frame for the capture about to start; the side engine enrols the chip photo while
a capture holds the lane's engine, ahead of the shots it embeds; ``egate run`` builds its
lane with it and with the capture running ahead."""

from __future__ import annotations

import threading
from concurrent.futures import Future
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
from gate.types import Box, Detection, Face, FloatArray, ImageBGR, Landmarks5

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
    camera.probe(1.0)
    assert camera.read(1.0).index == 4 and source.frames_served == 4


class StepEngine:
    """A face engine whose calls are recorded and may be held until the test releases them."""

    def __init__(self, steps: list[str], name: str) -> None:
        self.steps = steps
        self.name = name
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def embed_one(self, photo: ImageBGR, *, policy: str, min_face: int) -> Face:
        self.steps.append(f"{self.name} enrol")
        return Face(FACE.detection, FACE.landmarks, np.ones(4, np.float32))

    def embed(self, image: ImageBGR, faces: list[Face]) -> FloatArray:
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(10.0)
        self.steps.append(f"{self.name} embed {int(image[0, 0, 0])}")
        return np.full((len(faces), 4), float(image[0, 0, 0]), np.float32)


class HeldCapture:
    """A capture pipeline that runs until released, handing two shots ahead meanwhile."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.ahead: list[Future[FloatArray]] = []

    def capture(self, camera: Any, clock: Any, deadline_s: float, embed_ahead: Any = None) -> Any:
        for shade in (1, 2):
            self.ahead.append(embed_ahead(np.full((2, 2, 3), shade, np.uint8), FACE))
        self.started.set()
        assert self.release.wait(10.0)
        return SimpleNamespace(
            status="fta", best_faces=(), liveness_score=0.0, quality=None, frames_seen=0,
            frames_dropped=0, timings_ms={}, detail="", best_image=None, liveness=None,
        )  # fmt: skip


def test_the_side_engine_enrols_during_the_capture_and_before_the_shots_ahead() -> None:
    steps: list[str] = []
    lane_engine, side_engine = StepEngine(steps, "lane"), StepEngine(steps, "side")
    side_engine.hold = threading.Event()  # the first shot ahead is on the side engine
    side = SideEngine(side_engine)  # type: ignore[arg-type]
    pipeline = HeldCapture()
    biometrics = EngineBiometrics(lane_engine, pipeline, side=side)  # type: ignore[arg-type]
    capture = threading.Thread(
        target=biometrics.capture, args=(None, SystemClock(), 5.0), daemon=True
    )
    capture.start()
    try:
        assert pipeline.started.wait(10.0) and side_engine.entered.wait(10.0)
        enrolled: list[FloatArray] = []
        enrol = threading.Thread(
            target=lambda: enrolled.append(biometrics.enrol(np.zeros((4, 4, 3), np.uint8)))
        )
        enrol.start()
        turn = side._turn  # noqa: SLF001 (the enrolment has asked for the engine)
        with turn:
            assert turn.wait_for(lambda: side._enrolling == 1, timeout=10.0)  # noqa: SLF001
        side_engine.hold.set()
        enrol.join(10.0)
        assert [f.result(10.0)[0] for f in pipeline.ahead] == [1.0, 2.0]
        # on the side engine, the enrolment overtook the second shot waiting for its turn
        assert steps == ["side embed 1", "side enrol", "side embed 2"]
        assert enrolled and capture.is_alive()  # all while the capture held the lane's engine
    finally:
        side_engine.hold.set()
        pipeline.release.set()
        capture.join(10.0)
        side.close()


def test_a_shot_waiting_for_its_turn_on_the_side_engine_can_still_be_dropped() -> None:
    """A shot handed over while the engine is busy is not started until it has the engine:
    the capture, at its end, can take it back (and embed it itself) instead of waiting."""
    steps: list[str] = []
    engine = StepEngine(steps, "side")
    engine.hold = threading.Event()
    side = SideEngine(engine)  # type: ignore[arg-type]
    try:
        first = side.embed_ahead(np.full((2, 2, 3), 1, np.uint8), FACE)
        assert engine.entered.wait(10.0) and first.running()
        second = side.embed_ahead(np.full((2, 2, 3), 2, np.uint8), FACE)
        enrol = threading.Thread(target=side.enrol, args=(np.zeros((4, 4, 3), np.uint8), 40))
        enrol.start()
        turn = side._turn  # noqa: SLF001 (the enrolment has asked for the engine)
        with turn:
            assert turn.wait_for(lambda: side._enrolling == 1, timeout=10.0)  # noqa: SLF001
        assert not second.running() and second.cancel()
        engine.hold.set()
        enrol.join(10.0)
        assert first.result(10.0)[0] == 1.0
    finally:
        engine.hold.set()
        side.close(wait=True)
    assert steps == ["side embed 1", "side enrol"]  # the dropped shot never embedded


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
