"""The challenge: one action asked of the traveller when passive liveness cannot decide.

The passive cues (``gate.capture.liveness``) call a still, frontal face ``inconclusive``:
nothing shows an attack, nothing shows life. Rather than refer every traveller who holds
still as the kiosk asks, the lane asks for one action on the traveller's screen and checks
it on the camera's next frames within ``timeouts.challenge_s``:

* ``turn_left`` / ``turn_right`` (the traveller's own side): the face's yaw, from its five
  points (``gate.capture.quality.head_pose``), moves at least ``turn_deg`` from where it
  started in the asked direction, then comes back within ``back_deg``. The series is
  smoothed (a running median of 3) so one frame's landmark jitter is no answer.
* ``blink``: an eye-openness signal (``BlinkSignal``: 1 open, 0 closed) falls below
  ``blink_drop`` of its starting level and comes back above ``blink_back`` of it. Five
  points do not show the eyelids: blink is only asked where a blink signal is plugged in
  (a dense-landmark cue), see ``available_actions``.

``ChallengeCheck`` is the pure part (values in, verdict out); the face engine's side
(``gate.lane.adapters.EngineBiometrics.watch_challenge``) reads the frames, feeds it, and
keeps the passive cues running, so a picture turned by hand that shows itself flat is
``attack`` whatever its nose did.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gate.errors import InputError
from gate.types import Face, ImageBGR

TURNS = ("turn_left", "turn_right")
ACTIONS = (*TURNS, "blink")
PROMPTS = {
    "turn_left": "please turn your head slightly left, then back",
    "turn_right": "please turn your head slightly right, then back",
    "blink": "please blink",
}
# Eye openness of one frame (1 open, 0 closed), or None when it cannot be told.
BlinkSignal = Callable[[ImageBGR, Face], float | None]


@dataclass(frozen=True)
class ChallengeSettings:
    turn_deg: float = 4.0  # yaw change in the asked direction that answers a head turn
    back_deg: float = 2.5  # ... and how close to the start it must come back
    start_frames: int = 3  # faces that fix the starting yaw (or eye openness)
    blink_drop: float = 0.5  # openness below this share of the start: the eyes closed
    blink_back: float = 0.8  # ... and above this share again: they opened

    def __post_init__(self) -> None:
        if not (self.turn_deg > self.back_deg > 0 and self.start_frames >= 1):
            raise InputError("challenge turn_deg > back_deg > 0 and start_frames >= 1")
        if not 0 < self.blink_drop < self.blink_back <= 1:
            raise InputError("challenge 0 < blink_drop < blink_back <= 1")


@dataclass(frozen=True)
class ChallengeOutcome:
    """How the traveller answered. ``result``: passed, failed (no answer in time),
    attack (the passive cues saw a picture meanwhile) or no_face (none was seen)."""

    action: str
    result: str
    peak: float  # degrees turned the asked way, or how far the eyes closed (0 to 1)
    frames: int  # frames with a face
    elapsed_s: float

    @property
    def passed(self) -> bool:
        return self.result == "passed"


def available_actions(blink: bool) -> tuple[str, ...]:
    """What may be asked: the head turns always; a blink where a blink signal exists."""
    return ACTIONS if blink else TURNS


def _median3(values: Sequence[float]) -> float:
    return statistics.median(values[-3:])


class ChallengeCheck:
    """Feed it one value per frame (``add``: the yaw in degrees for a turn, the eye
    openness for a blink; ``None`` for a frame without a face) until ``done``."""

    def __init__(self, action: str, settings: ChallengeSettings | None = None) -> None:
        if action not in ACTIONS:
            raise InputError(f"challenge action {action!r} is not one of {', '.join(ACTIONS)}")
        self.action = action
        self.settings = settings or ChallengeSettings()
        self._raw: list[float] = []
        self._start: float | None = None
        self._peak = 0.0  # furthest the smoothed value went the asked way
        self._done = False

    @property
    def done(self) -> bool:
        """The action was seen, out and back."""
        return self._done

    @property
    def frames(self) -> int:
        return len(self._raw)

    def add(self, value: float | None) -> None:
        if value is None or self._done:
            return
        s = self.settings
        self._raw.append(float(value))
        if len(self._raw) < s.start_frames:
            return
        if self._start is None:
            self._start = statistics.median(self._raw)
            return
        now = _median3(self._raw)
        if self.action in TURNS:
            sign = 1.0 if self.action == "turn_left" else -1.0
            self._peak = max(self._peak, sign * (now - self._start))
            self._done = self._peak >= s.turn_deg and abs(now - self._start) <= s.back_deg
        elif self._start > 0:  # blink: openness drops, then recovers
            self._peak = max(self._peak, 1.0 - now / self._start)
            closed = self._peak >= 1.0 - s.blink_drop
            self._done = closed and now >= s.blink_back * self._start

    def outcome(self, elapsed_s: float, attack: bool = False) -> ChallengeOutcome:
        if attack:
            result = "attack"
        elif self._done:
            result = "passed"
        elif not self._raw:
            result = "no_face"
        else:
            result = "failed"
        return ChallengeOutcome(self.action, result, self._peak, len(self._raw), elapsed_s)
