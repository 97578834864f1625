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
from gate.lane.capture_ahead import WATCH_RETRY_S, CaptureAhead, Scan
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

    def capture(camera: Camera, scan: Scan) -> CaptureOutcome:
        where.append(threading.current_thread())
        began.set()
        camera.read(1.0)
        return CaptureOutcome("ok", detail="ahead")

    ahead = CaptureAhead(limit_s=5.0, enabled=True)
    ahead.start(capture, EndlessCamera(), "t1")
    assert began.wait(5.0)  # before anyone asked for the result
    assert ahead.result().detail == "ahead"
    assert where[0] is not threading.current_thread()
    ahead.cancel()
    assert not ahead.running


def test_ahead_the_captures_error_is_raised_in_the_lanes_thread() -> None:
    def capture(camera: Camera, scan: Scan) -> CaptureOutcome:
        raise DeviceError("camera unplugged")

    ahead = CaptureAhead(limit_s=5.0, enabled=True)
    ahead.start(capture, EndlessCamera(), "t1")
    with pytest.raises(DeviceError, match="camera unplugged"):
        ahead.result()


def test_cancel_ends_a_capture_that_would_read_for_ever() -> None:
    camera = EndlessCamera()
    stopped: list[str] = []

    def capture(cam: Camera, scan: Scan) -> CaptureOutcome:
        try:
            while True:
                cam.read(1.0)
        except DeviceError as exc:
            stopped.append(str(exc))
            raise

    ahead = CaptureAhead(limit_s=5.0, enabled=True)
    ahead.start(capture, camera, "t1")
    ahead.cancel()
    assert not ahead.running
    assert stopped == ["capture cancelled: the transaction ended"]


def test_a_capture_that_does_not_end_is_given_up_after_the_limit() -> None:
    release = threading.Event()

    def capture(camera: Camera, scan: Scan) -> CaptureOutcome:
        release.wait(10.0)
        return CaptureOutcome("ok")

    ahead = CaptureAhead(limit_s=0.25, enabled=True)
    ahead.start(capture, EndlessCamera(), "t1")
    try:
        with pytest.raises(DeviceTimeoutError, match="did not end within 0.25 s"):
            ahead.result()
    finally:
        release.set()
        ahead.cancel()


def test_off_the_capture_runs_when_asked_in_the_callers_thread_on_the_lanes_camera() -> None:
    camera = EndlessCamera()
    seen: list[tuple[threading.Thread, Camera]] = []

    def capture(cam: Camera, scan: Scan) -> CaptureOutcome:
        seen.append((threading.current_thread(), cam))
        return CaptureOutcome("ok")

    ahead = CaptureAhead(limit_s=5.0)
    ahead.start(capture, camera, "t1")
    assert not seen  # nothing before the lane asks
    ahead.result()
    assert seen == [(threading.current_thread(), camera)]


@pytest.mark.parametrize("watch", [False, True])
def test_a_lane_with_capture_ahead_keeps_its_states_and_decisions(watch: bool) -> None:
    lane = FakeLane()
    states: list[State] = []
    ctl = lane.build(observers=(lambda e: states.append(e.state) if e.kind == "state" else None,))
    ctl.capture_ahead.enabled = True
    ctl.capture_ahead.watch_approach = watch
    ctl.start()
    if watch:
        assert ctl.serve_one(0.01) is None  # idle: the approach is watched
        assert ctl.capture_ahead.running
    lane.traveller("genuine")
    genuine = ctl.serve_one(0.1)
    lane.traveller("expired")
    expired = ctl.serve_one(0.1)
    assert genuine is not None and genuine.decision is Decision.ACCEPT
    assert expired is not None and expired.decision is Decision.REFER_DOCUMENT
    assert states[1:5] == [State.DOCUMENT, State.CAPTURE, State.VERIFY, State.EXIT_OPEN]
    assert not ctl.capture_ahead.running  # the referred traveller's capture was ended
    ctl.close()


class HeldPipeline:
    """A capture pipeline whose capture lasts until the test lets it end."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.started = threading.Event()
        self.release = threading.Event()

    def capture(
        self, camera: Camera, clock: object, deadline_s: float, scanned: object = None
    ) -> CaptureResult:
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


def test_a_watch_waits_for_the_scan_then_is_that_transactions_capture() -> None:
    began = threading.Event()
    scans: list[Scan] = []

    def watch(camera: Camera, scan: Scan) -> CaptureOutcome:
        scans.append(scan)
        began.set()
        while not scan.event.wait(0.01):
            camera.read(1.0)  # the approach
        return CaptureOutcome("ok", detail=f"for {scan.tid}")

    def fresh(camera: Camera, scan: Scan) -> CaptureOutcome:
        raise AssertionError("the watch takes the transaction: no new capture")

    ahead = CaptureAhead(limit_s=5.0, enabled=True, watch_approach=True)
    ahead.watch(watch, EndlessCamera(), now=100.0)
    assert began.wait(5.0) and ahead.running
    ahead.watch(watch, EndlessCamera(), now=100.1)  # already watching: the same one
    ahead.start(fresh, EndlessCamera(), "t7")
    assert ahead.result().detail == "for t7"
    assert len(scans) == 1
    ahead.cancel()
    assert not ahead.running


def test_a_watch_is_cancelled_when_the_lane_leaves_idle_without_a_scan() -> None:
    def watch(camera: Camera, scan: Scan) -> CaptureOutcome:
        scan.event.wait()
        camera.read(1.0)  # cancelled: raises
        return CaptureOutcome("ok")

    ahead = CaptureAhead(limit_s=5.0, enabled=True, watch_approach=True)
    ahead.watch(watch, EndlessCamera(), now=0.0)
    assert ahead.running
    ahead.cancel()
    assert not ahead.running


def test_a_watch_that_failed_is_not_restarted_at_once_and_the_scan_captures_afresh() -> None:
    calls: list[str] = []

    def failing(camera: Camera, scan: Scan) -> CaptureOutcome:
        calls.append("watch")
        raise DeviceError("camera unplugged")

    def fresh(camera: Camera, scan: Scan) -> CaptureOutcome:
        calls.append(f"fresh {scan.tid}")
        return CaptureOutcome("ok")

    ahead = CaptureAhead(limit_s=5.0, enabled=True, watch_approach=True)
    ahead.watch(failing, EndlessCamera(), now=10.0)
    while ahead.running:  # it ends by itself: the camera failed
        threading.Event().wait(0.01)
    ahead.watch(failing, EndlessCamera(), now=10.0 + WATCH_RETRY_S / 2)
    assert calls == ["watch"] and not ahead.running  # not again so soon
    ahead.start(fresh, EndlessCamera(), "t2")
    assert ahead.result().status == "ok" and calls == ["watch", "fresh t2"]
    ahead.watch(failing, EndlessCamera(), now=10.0 + 2 * WATCH_RETRY_S)
    ahead.cancel()
    assert calls[-1] == "watch"  # later it watches again


def test_no_watch_unless_asked() -> None:
    started: list[str] = []

    def watch(camera: Camera, scan: Scan) -> CaptureOutcome:
        started.append("watch")
        return CaptureOutcome("ok")

    for ahead in (CaptureAhead(5.0, enabled=True), CaptureAhead(5.0, watch_approach=True)):
        ahead.watch(watch, EndlessCamera(), now=0.0)
        assert not ahead.running
    assert started == []
