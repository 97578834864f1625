"""The challenge asked when passive liveness is inconclusive: the pure check, the lane's
step (answered: verified; ignored: referred; an attack: never asked), what it records, and
the face side's check on rendered frames (the renderer's gesture hook)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from drivers.camera.synthetic import TravellerScene, render_sequence
from gate.capture.pipeline import CapturePipeline, CaptureSettings
from gate.clock import Clock
from gate.config import TimeoutsConfig
from gate.errors import InputError
from gate.fakes import FakeBiometrics, FakeLane, fake_embedding
from gate.interfaces import Camera
from gate.lane.adapters import EngineBiometrics
from gate.lane.challenge import ChallengeCheck, ChallengeOutcome, available_actions
from gate.lane.events import GateEvent
from gate.outcome import Decision
from gate.transaction import CaptureOutcome
from tests.gate.capture.conftest import TOM_HANKS_POINTS
from tests.gate.capture.engines import TruthEngine

CUES = {"motion": 0.2, "texture": 1.0, "border": 1.0, "surface": 0.5, "surface_residual": 0.004}


def _still(liveness: float = 0.4, verdict: str = "inconclusive") -> CaptureOutcome:
    return CaptureOutcome(
        "ok",
        (fake_embedding(1),),
        liveness=liveness,
        quality=0.8,
        liveness_verdict=verdict,
        liveness_cues=CUES,
    )


# -- the pure check ------------------------------------------------------------------------------
def _feed(action: str, values: Sequence[float | None]) -> ChallengeOutcome:
    check = ChallengeCheck(action)
    for value in values:
        check.add(value)
    return check.outcome(1.0)


def test_a_head_turn_out_and_back_answers_only_the_asked_side() -> None:
    there_and_back = [0.5, -0.3, 0.2, 2.0, 5.0, 7.5, 8.0, 6.0, 3.0, 0.5, 0.0, -0.4]
    left = _feed("turn_left", there_and_back)
    assert left.passed and left.peak == pytest.approx(7.5, abs=0.6)
    assert not _feed("turn_right", there_and_back).passed  # the other way is no answer
    assert _feed("turn_right", [-v for v in there_and_back]).passed
    out_only = _feed("turn_left", there_and_back[:8])  # turned, never came back
    assert out_only.result == "failed" and out_only.peak > 4.0


def test_landmark_jitter_and_no_face_are_no_answer() -> None:
    rng = np.random.default_rng(0)
    jitter = [float(v) for v in rng.normal(0.0, 1.5, size=40)]
    # one frame's outlier (a landmark slip) is smoothed away
    jitter[20] = 9.0
    assert _feed("turn_left", jitter).result == "failed"
    assert _feed("turn_left", [None] * 10).result == "no_face"
    with pytest.raises(InputError, match="nod"):
        ChallengeCheck("nod")


def test_blink_is_a_pluggable_eye_openness_signal() -> None:
    blink = [1.0, 0.95, 1.0, 0.98, 0.6, 0.2, 0.1, 0.5, 0.9, 1.0]
    assert _feed("blink", blink).passed
    assert _feed("blink", [1.0, 0.95, 1.0, 0.9, 0.85, 0.9]).result == "failed"
    assert available_actions(blink=False) == ("turn_left", "turn_right")
    assert "blink" in available_actions(blink=True)


# -- the lane's step -----------------------------------------------------------------------------
class ChallengedBiometrics(FakeBiometrics):
    """Fake biometrics that can check a challenge: the camera's frames are read, and the
    traveller's yaw per frame is the script (an answer, or standing still)."""

    def __init__(self, yaws: Sequence[float]) -> None:
        super().__init__()
        self.yaws = list(yaws)
        self.asked: list[str] = []

    def challenge_actions(self) -> tuple[str, ...]:
        return ("turn_left", "turn_right")

    def watch_challenge(
        self, camera: Camera, clock: Clock, check: ChallengeCheck, deadline_s: float
    ) -> ChallengeOutcome:
        self.asked.append(check.action)
        sign = 1.0 if check.action == "turn_left" else -1.0
        start = clock.now()
        for yaw in self.yaws:
            if check.done or clock.now() - start >= deadline_s:
                break
            camera.read(timeout=1.0)
            clock.sleep(0.1)
            check.add(sign * yaw)
        return check.outcome(clock.now() - start)


ANSWER = [0.0, 0.3, -0.2, 3.0, 7.0, 9.0, 8.0, 4.0, 1.0, 0.0, 0.2, 0.0]
STILL = [0.0, 0.4, -0.3, 0.2, 0.1, -0.5, 0.3, 0.0] * 10


def _lane(yaws: Sequence[float], outcome: CaptureOutcome, action: str = "turn_left") -> Any:
    fake = FakeLane()
    fake.biometrics = ChallengedBiometrics(yaws)
    events: list[GateEvent] = []
    lane = fake.build(observers=(events.append,), timeouts=TimeoutsConfig(challenge_s=4.0))
    lane.liveness_step.choose = lambda actions: action
    lane.start()
    fake.traveller("genuine", identity=1)
    fake.biometrics.script.clear()
    fake.biometrics.script.append(outcome)
    return fake, lane, events


def _challenge_events(events: list[GateEvent]) -> list[GateEvent]:
    return [e for e in events if e.kind == "challenge"]


@pytest.mark.parametrize("action", ["turn_left", "turn_right"])
def test_a_still_traveller_who_answers_is_verified(action: str) -> None:
    fake, lane, events = _lane(ANSWER, _still(), action)
    tx = lane.serve_one(1.0)
    assert tx is not None and tx.decision is Decision.ACCEPT, tx
    asked, answered = _challenge_events(events)
    assert asked.detail == "asked" and asked.data["action"] == action
    assert "slightly" in asked.data["prompt"] and asked.data["limit_s"] == 4.0
    assert answered.detail == "passed" and answered.data["peak"] >= 4.0
    evidence = tx.liveness_evidence
    assert evidence is not None and evidence.verdict == "inconclusive"
    assert (evidence.challenge, evidence.challenge_result) == (action, "passed")
    assert evidence.cues == CUES and evidence.score == 0.4
    assert "challenge" in tx.stage_ms
    # written ahead and at the end with the challenge in it
    assert fake.audit.decisions[-1].liveness_evidence == evidence
    assert fake.audit.records[-1].liveness_evidence == evidence


def test_a_still_traveller_who_ignores_the_challenge_is_referred_on_liveness() -> None:
    fake, lane, events = _lane(STILL, _still())
    tx = lane.serve_one(1.0)
    assert tx is not None and tx.decision is Decision.REFER_LIVENESS
    assert "challenge turn_left: failed" in tx.detail
    assert [e.detail for e in _challenge_events(events)] == ["asked", "failed"]
    assert tx.liveness_evidence is not None
    assert tx.liveness_evidence.challenge_result == "failed"
    referral = next(e for e in events if e.kind == "referral")
    assert referral.data["liveness_evidence"]["challenge"] == "turn_left"
    assert fake.turnstile.commands.count("open_exit") == 0


def test_an_attack_is_never_challenged() -> None:
    fake, lane, events = _lane(ANSWER, _still(liveness=0.1, verdict="attack"))
    tx = lane.serve_one(1.0)
    assert tx is not None and tx.decision is Decision.REFER_LIVENESS
    assert not _challenge_events(events) and fake.biometrics.asked == []
    assert tx.liveness_evidence is not None and tx.liveness_evidence.challenge is None


def test_a_face_side_that_cannot_check_refers_at_once() -> None:
    fake = FakeLane()
    events: list[GateEvent] = []
    lane = fake.build(observers=(events.append,))
    lane.start()
    fake.traveller("genuine", identity=1)
    fake.biometrics.script.clear()
    fake.biometrics.script.append(_still())
    tx = lane.serve_one(1.0)
    assert tx is not None and tx.decision is Decision.REFER_LIVENESS
    assert tx.detail == "liveness below threshold" and not _challenge_events(events)


# -- the face side on rendered frames ------------------------------------------------------------
@pytest.fixture(scope="module")
def face_photo(sample_images: Path) -> np.ndarray:
    image = cv2.imread(str(sample_images / "Tom_Hanks_54745.png"), cv2.IMREAD_COLOR)
    assert image is not None
    return image


class _Frames:
    """The clip, then its last picture for ever (the traveller stays)."""

    def __init__(self, images: Sequence[Any]) -> None:
        self.images, self.index = list(images), 0

    def read(self, timeout: float) -> Any:
        from gate.interfaces import Frame

        self.index += 1
        return Frame(self.images[min(self.index, len(self.images)) - 1], 0.0, self.index)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("kind", "gesture", "result"),
    [
        ("genuine", "turn_left", "passed"),
        ("genuine", None, "failed"),
        ("print", "turn_left", "attack"),  # a picture turned by hand shows itself flat
    ],
)
def test_the_face_side_checks_the_rendered_gesture(
    face_photo: np.ndarray, kind: str, gesture: str | None, result: str
) -> None:
    from gate.clock import SimulatedClock

    scene = TravellerScene(
        face_photo, kind=kind, seed=4, frames=16, photo_landmarks=TOM_HANKS_POINTS,
        eye_distance_start=80.0, yaw_amplitude_deg=1.0, gesture=gesture,
    )  # fmt: skip
    frames = list(render_sequence(scene))
    engine = TruthEngine(frames)
    biometrics = EngineBiometrics(engine, CapturePipeline(engine, CaptureSettings(min_face=40)))  # type: ignore[arg-type]
    check = ChallengeCheck(gesture or "turn_left")
    outcome = biometrics.watch_challenge(
        _Frames([f.image for f in frames]), SimulatedClock(), check, 1.0
    )
    assert outcome.result == result, outcome
    if result == "passed":
        assert outcome.peak >= 4.0 and outcome.frames < len(frames)


class _Silent:
    """A camera that never gives a frame (a recording that has ended)."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, timeout: float) -> Any:
        from gate.errors import DeviceTimeoutError

        self.reads += 1
        raise DeviceTimeoutError("no frame")

    def close(self) -> None:
        pass


def test_a_silent_camera_and_a_held_clock_end_the_challenge() -> None:
    from gate.clock import SimulatedClock

    engine = TruthEngine([])
    biometrics = EngineBiometrics(engine, CapturePipeline(engine, CaptureSettings()))  # type: ignore[arg-type]
    camera = _Silent()
    outcome = biometrics.watch_challenge(camera, SimulatedClock(), ChallengeCheck("turn_left"), 3.0)
    assert outcome.result == "no_face" and camera.reads == 3  # one read_timeout_s each
