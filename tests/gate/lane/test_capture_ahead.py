"""The capture started with the chip read (``gate.lane.capture_ahead``): in its own thread
from the transaction's start, its result or error handed to the lane's thread, cancelled
when the transaction ends without it; off, the capture runs as before, in the lane's thread
on the lane's own camera. And the face engine, shared by the two threads, is the capture's
from its first frame to its end: the enrolment waits."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import pytest

from gate.capture.pipeline import CaptureResult
from gate.clock import SystemClock
from gate.errors import DeviceError, DeviceTimeoutError, FaceError
from gate.fakes import FakeLane
from gate.interfaces import Camera, Frame
from gate.lane.adapters import EngineBiometrics
from gate.lane.capture_ahead import CaptureAhead
from gate.outcome import Decision, State
from gate.transaction import CaptureOutcome
from gate.types import Face, ImageBGR


class EndlessCamera:
    """Frames at once, for ever."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, timeout: float) -> Frame:
        self.reads += 1
        return Frame(np.zeros((4, 4, 3), np.uint8), 0.0, self.reads)

    def close(self) -> None:
        pass


def test_ahead_the_capture_runs_in_its_own_thread_from_the_start() -> None:
    began = threading.Event()
    where: list[threading.Thread] = []

    def capture(camera: Camera) -> CaptureOutcome:
        where.append(threading.current_thread())
        began.set()
        camera.read(1.0)
        return CaptureOutcome("ok", detail="ahead")

    ahead = CaptureAhead(limit_s=5.0, enabled=True)
    ahead.start(capture, EndlessCamera())
    assert began.wait(5.0)  # before anyone asked for the result
    assert ahead.result().detail == "ahead"
    assert where[0] is not threading.current_thread()
    ahead.cancel()
    assert not ahead.running


def test_ahead_the_captures_error_is_raised_in_the_lanes_thread() -> None:
    def capture(camera: Camera) -> CaptureOutcome:
        raise DeviceError("camera unplugged")

    ahead = CaptureAhead(limit_s=5.0, enabled=True)
    ahead.start(capture, EndlessCamera())
    with pytest.raises(DeviceError, match="camera unplugged"):
        ahead.result()


def test_cancel_ends_a_capture_that_would_read_for_ever() -> None:
    camera = EndlessCamera()
    stopped: list[str] = []

    def capture(cam: Camera) -> CaptureOutcome:
        try:
            while True:
                cam.read(1.0)
        except DeviceError as exc:
            stopped.append(str(exc))
            raise

    ahead = CaptureAhead(limit_s=5.0, enabled=True)
    ahead.start(capture, camera)
    ahead.cancel()
    assert not ahead.running
    assert stopped == ["capture cancelled: the transaction ended"]


def test_a_capture_that_does_not_end_is_given_up_after_the_limit() -> None:
    release = threading.Event()

    def capture(camera: Camera) -> CaptureOutcome:
        release.wait(10.0)
        return CaptureOutcome("ok")

    ahead = CaptureAhead(limit_s=0.25, enabled=True)
    ahead.start(capture, EndlessCamera())
    try:
        with pytest.raises(DeviceTimeoutError, match="did not end within 0.25 s"):
            ahead.result()
    finally:
        release.set()
        ahead.cancel()


def test_off_the_capture_runs_when_asked_in_the_callers_thread_on_the_lanes_camera() -> None:
    camera = EndlessCamera()
    seen: list[tuple[threading.Thread, Camera]] = []

    def capture(cam: Camera) -> CaptureOutcome:
        seen.append((threading.current_thread(), cam))
        return CaptureOutcome("ok")

    ahead = CaptureAhead(limit_s=5.0)
    ahead.start(capture, camera)
    assert not seen  # nothing before the lane asks
    ahead.result()
    assert seen == [(threading.current_thread(), camera)]


def test_a_lane_with_capture_ahead_keeps_its_states_and_decisions() -> None:
    lane = FakeLane()
    states: list[State] = []
    ctl = lane.build(observers=(lambda e: states.append(e.state) if e.kind == "state" else None,))
    ctl.capture_ahead.enabled = True
    ctl.start()
    lane.traveller("genuine")
    genuine = ctl.serve_one(0.1)
    lane.traveller("expired")
    expired = ctl.serve_one(0.1)
    assert genuine is not None and genuine.decision is Decision.ACCEPT
    assert expired is not None and expired.decision is Decision.REFER_DOCUMENT
    assert states[1:5] == [State.DOCUMENT, State.CAPTURE, State.VERIFY, State.EXIT_OPEN]
    assert not ctl.capture_ahead.running  # the referred traveller's capture was ended


class HeldPipeline:
    """A capture pipeline whose capture lasts until the test lets it end."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.started = threading.Event()
        self.release = threading.Event()

    def capture(self, camera: Camera, clock: object, deadline_s: float) -> CaptureResult:
        self.started.set()
        assert self.release.wait(10.0)
        self.steps.append("capture ended")
        return CaptureResult("fta")


class RecordingEngine:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    def embed_one(self, photo: ImageBGR, *, policy: str, min_face: int) -> Face:
        self.steps.append("enrolled")
        raise FaceError("no face (a fake)")


def test_the_enrolment_waits_for_a_capture_in_progress() -> None:
    """A capture is never paused mid-window by the chip photo's enrolment: the lane's
    thread enrols once the capture thread is done with the engine."""
    steps: list[str] = []
    pipeline = HeldPipeline(steps)
    biometrics = EngineBiometrics(RecordingEngine(steps), pipeline)  # type: ignore[arg-type]
    capture = threading.Thread(
        target=biometrics.capture, args=(EndlessCamera(), SystemClock(), 5.0), daemon=True
    )
    capture.start()
    assert pipeline.started.wait(10.0)
    enrol = threading.Thread(target=_enrol, args=(biometrics,), daemon=True)
    enrol.start()
    enrol.join(0.2)  # it waits (for as long as the capture runs)
    assert steps == [] and enrol.is_alive()
    pipeline.release.set()
    capture.join(10.0)
    enrol.join(10.0)
    assert steps == ["capture ended", "enrolled"]


def _enrol(biometrics: EngineBiometrics) -> None:
    with contextlib.suppress(FaceError):
        biometrics.enrol(np.zeros((4, 4, 3), np.uint8))
