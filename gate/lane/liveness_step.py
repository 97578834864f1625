"""The lane's capture stage and its liveness: the face captured, the passive cues' verdict,
and the one challenge asked when they cannot decide (``gate.lane.challenge``).

A capture that passes goes on to verification. One referred on liveness because its passive
cues were ``inconclusive`` (a still, frontal face: no attack seen, no life either) gets one
chance: the lane asks for an action on the traveller's screen (a ``challenge`` event:
"asked", with the action and its prompt), checks it for ``timeouts.challenge_s`` and says
how it went (a second ``challenge`` event: passed, failed, attack or no_face). Passed: the
traveller goes on to verification; otherwise REFER_LIVENESS, naming the challenge. A face
side that cannot check a challenge (``ChallengeWatcher``) refers at once, as before.
An attack seen by the passive cues is never challenged: a picture turned by hand must not
get a second chance to look alive.

What was asked and answered goes into the transaction (``LivenessEvidence``), hence the
audit row, the simulator's JSON and the console's referral card.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from gate.clock import Clock
from gate.config import TimeoutsConfig
from gate.decision import DecisionPolicy, Verdict, check_capture
from gate.interfaces import Camera
from gate.lane.challenge import PROMPTS, ChallengeCheck
from gate.lane.events import EventBus
from gate.lane.ports import Biometrics, ChallengeWatcher
from gate.lane.work import TransactionWork
from gate.outcome import Decision
from gate.transaction import CaptureOutcome

Choose = Callable[[Sequence[str]], str]


class LivenessStep:
    """Runs the capture stage of one transaction at a time for a lane.

    ``choose`` picks the action among those the face side can check; unpredictable by
    default (``secrets.choice``), so a replayed video cannot know what will be asked."""

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        policy: DecisionPolicy,
        timeouts: TimeoutsConfig,
        choose: Choose | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.policy = policy
        self.timeouts = timeouts
        self.choose: Choose = choose or secrets.choice

    def capture(
        self,
        work: TransactionWork,
        biometrics: Biometrics,
        camera: Camera,
        take: Callable[[], CaptureOutcome] | None = None,
    ) -> tuple[CaptureOutcome, Verdict | None]:
        """Capture the live face (or ``take`` the capture the lane started earlier:
        ``gate.lane.capture_ahead``); returns it and the verdict that ends the transaction
        here (``None``: go on to verification). A challenge reads ``camera``."""
        tid = work.transaction_id
        started = self.clock.now()
        limit = self.timeouts.capture_s
        capture = work.run(
            "capture", take or (lambda: biometrics.capture(camera, self.clock, limit))
        )
        work.note_capture(capture)
        self.bus.emit(
            "capture",
            tid,
            capture.status,
            quality=capture.quality,
            liveness=capture.liveness,
            face_box=capture.face_box,
            liveness_verdict=capture.liveness_verdict,
            cues=dict(capture.liveness_cues),
        )
        if work.timed("capture", started) > limit * 1.5:
            return capture, Verdict(Decision.TIMEOUT, "capture ran past its time limit")
        verdict = check_capture(capture, self.policy)
        if (
            verdict is not None
            and verdict.decision is Decision.REFER_LIVENESS
            and capture.liveness_verdict == "inconclusive"
        ):
            verdict = self.challenge(work, biometrics, camera, verdict)
        return capture, verdict

    def challenge(
        self, work: TransactionWork, biometrics: Biometrics, camera: Camera, verdict: Verdict
    ) -> Verdict | None:
        """Ask for one action; ``None`` when it was answered, else the referral."""
        if not isinstance(biometrics, ChallengeWatcher):
            return verdict
        actions = biometrics.challenge_actions()
        if not actions:
            return verdict
        action = self.choose(actions)
        if action not in actions:
            raise ValueError(f"challenge chooser gave {action!r}, not one of {actions}")
        tid, limit = work.transaction_id, self.timeouts.challenge_s
        work.challenge = action
        self.bus.emit("challenge", tid, "asked", action=action, prompt=PROMPTS[action],
                      limit_s=limit)  # fmt: skip
        check = ChallengeCheck(action)
        outcome = work.run(
            "challenge", lambda: biometrics.watch_challenge(camera, self.clock, check, limit)
        )
        work.note_challenge(outcome)
        self.bus.emit("challenge", tid, outcome.result, action=action, peak=outcome.peak,
                      frames=outcome.frames)  # fmt: skip
        if outcome.passed:
            return None
        return Verdict(
            Decision.REFER_LIVENESS,
            f"liveness inconclusive; challenge {action}: {outcome.result}",
        )
