"""The challenge on the traveller's screen: while the lane asks for one action the camera
view shows it (the traveller's own left or right, in every language, with the mirror) and
it ends with the challenge, on verifying or on the one referral view."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from gate.clock import Clock
from gate.fakes import FakeBiometrics, FakeLane, fake_embedding
from gate.interfaces import Camera
from gate.lane import GateEvent
from gate.lane.challenge import ChallengeCheck, ChallengeOutcome
from gate.outcome import Decision, State
from gate.screen import LANGUAGES, Screen, attach, messages
from gate.screen.languages import translate
from gate.screen.page import message
from gate.screen.pictograms import pictogram
from gate.screen.views import ScreenState, advance
from gate.transaction import CaptureOutcome
from tests.gate.screen.lanes import traveller

TITLES = {"turn_left": messages.TURN_LEFT, "turn_right": messages.TURN_RIGHT}


def other(action: str) -> str:
    return "turn_right" if action == "turn_left" else "turn_left"


def _event(kind: str, detail: str, state: State = State.CAPTURE, **data: Any) -> GateEvent:
    return GateEvent(kind, state, 0.0, "t1", detail, data)


def _asked(action: str) -> ScreenState:
    state = advance(ScreenState(), _event("transaction", "started", State.IDLE))
    state = advance(state, _event("state", "capture"))
    return advance(state, _event("challenge", "asked", action=action, prompt="...", limit_s=6))


@pytest.mark.parametrize("action", ["turn_left", "turn_right"])
def test_an_asked_turn_is_shown_until_the_challenge_ends(action: str) -> None:
    state = _asked(action)
    assert (state.shown, state.challenge) == ("challenge", action)
    # another traveller's challenge, or one asked outside the camera's state, is no change
    assert advance(ScreenState(view="camera", tid="t2"), _event("challenge", "asked",
                   action=action)).shown == "camera"  # fmt: skip
    assert advance(ScreenState(view="verifying", tid="t1"), _event("challenge", "asked",
                   action=action)).shown == "verifying"  # fmt: skip
    passed = advance(state, _event("challenge", "passed", action=action, peak=8.0, frames=9))
    assert (passed.shown, passed.challenge) == ("camera", None)
    assert advance(passed, _event("state", "verify", State.VERIFY)).shown == "verifying"
    for result in ("failed", "attack", "no_face"):
        ended = advance(state, _event("challenge", result, action=action))
        assert ended.shown == "camera"
        referred = advance(ended, _event("referral", "REFER_LIVENESS", State.REFERRED))
        assert (referred.shown, referred.challenge) == ("officer", None)
    # a lane that goes on without saying how it went still ends the challenge
    assert advance(state, _event("state", "verify", State.VERIFY)).shown == "verifying"
    assert advance(state, _event("state", "fail_safe", State.FAIL_SAFE)).shown == "officer"


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("action", ["turn_left", "turn_right"])
def test_the_turn_is_asked_in_every_language_on_the_travellers_own_side(
    action: str, lang: str
) -> None:
    state = _asked(action)
    state = state if lang == "en" else ScreenState(**{**state.__dict__, "chosen": lang})
    sent = message(state, 1, 0.0)
    html = str(sent["html"])
    title = translate(lang, TITLES[action])
    assert lang == "en" or title != TITLES[action], f"{lang} lacks {TITLES[action]!r}"
    assert title in html and translate(lang, messages.TURN_BACK) in html
    assert (sent["view"], sent["dir"]) == ("challenge", LANGUAGES[lang].direction)
    assert "id='mirror'" in html and f"data-action='{action}'" in html
    # The line is laid out left to right in every script, the arrow on the side it points
    # to: the traveller's left is the screen's left (the mirror is a mirror).
    heading = re.search(r"<h1 dir='ltr'>(.*?)</h1>", html)
    assert heading is not None
    line = heading.group(1)
    words = line.index(f"<span dir='{LANGUAGES[lang].direction}'>")
    arrow = line.index("<svg class='pictogram'")
    assert (arrow < words) == (action == "turn_left")
    assert pictogram(action) in line and pictogram(other(action)) not in line
    assert "hint-text" not in html  # the camera's hints ("hold still") would contradict it


def test_the_blink_has_its_view_and_words_too() -> None:
    html = str(message(_asked("blink"), 1, 0.0)["html"])
    assert "data-action='blink'" in html and "Please blink once" in html


class Answering(FakeBiometrics):
    """Fake biometrics that can check a challenge; while it does, it notes what the
    traveller's screen shows (the lane's observers have heard "asked" by then)."""

    def __init__(self, screen: Screen, result: str) -> None:
        super().__init__()
        self.screen, self.result = screen, result
        self.seen: list[dict[str, Any]] = []

    def challenge_actions(self) -> tuple[str, ...]:
        return ("turn_left", "turn_right")

    def watch_challenge(
        self, camera: Camera, clock: Clock, check: ChallengeCheck, deadline_s: float
    ) -> ChallengeOutcome:
        self.seen.append(self.screen.current())
        return ChallengeOutcome(check.action, self.result, 0.0, 3, 1.0)


def _still_capture() -> CaptureOutcome:
    return CaptureOutcome("ok", (fake_embedding(1),), liveness=0.4, quality=0.8,
                          liveness_verdict="inconclusive")  # fmt: skip


@pytest.mark.parametrize(("action", "result"), [("turn_right", "passed"),
                                                ("turn_left", "failed")])  # fmt: skip
def test_a_lane_asks_through_the_screen_and_a_failed_challenge_is_the_one_referral(
    action: str, result: str
) -> None:
    fakes, screen = FakeLane(), Screen()
    fakes.biometrics = biometrics = Answering(screen, result)
    views: list[dict[str, Any]] = []
    screen.listen(lambda name, payload: views.append(payload) if name == "view" else None)
    lane = fakes.build(observers=(screen,))
    lane.liveness_step.choose = lambda actions: action
    attach(screen, lane)
    lane.start()
    try:
        referred = []
        for kind, identity in (("genuine", 1), ("impostor", None)):
            traveller(fakes, kind, "EGY")
            if identity:
                biometrics.script.clear()
                biometrics.script.append(_still_capture())
            lane.serve_one(1.0)
            referred += [v for v in views if v["view"] == "officer"]
            if identity:
                shown = biometrics.seen[0]
                assert (shown["view"], shown["lang"]) == ("challenge", "ar")
                assert translate("ar", TITLES[action]) in shown["html"]
                after = [v["view"] for v in views[views.index(shown) + 1 :]]
                assert after[:2] == (
                    ["camera", "verifying"] if result == "passed" else ["camera", "officer"]
                )
            views.clear()
    finally:
        screen.close()
    decisions = [t.decision for t in fakes.audit.records]
    if result == "passed":
        assert decisions[0] is Decision.ACCEPT and len(referred) == 1
    else:
        assert decisions[0] is Decision.REFER_LIVENESS and len(referred) == 2
        same = {json.dumps({k: v for k, v in m.items() if k not in ("seq", "sent")})
                for m in referred}  # fmt: skip
        assert len(same) == 1, same
        assert "challenge" not in referred[0]["html"] and "turn" not in referred[0]["html"]
