"""The screen's state: one view per lane state, the traveller's language from DG1, out of
service, the camera's hints, and a referral that looks the same whatever its reason."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from gate.fakes import FakeLane
from gate.lane import GateEvent, OfficerAction
from gate.outcome import State
from gate.screen import Screen, attach, language_for
from gate.screen.screen import NationalityTap, nationality_of
from gate.screen.views import ScreenState, advance, hint_for
from tests.gate.screen.lanes import traveller

REFERRED_KINDS = ("impostor", "expired", "tampered", "print_attack", "no_face", "clone",
                  "revoked", "screen_attack")  # fmt: skip


class Recorder:
    def __init__(self, screen: Screen) -> None:
        self.messages: list[dict[str, Any]] = []
        screen.listen(self._heard)

    def _heard(self, name: str, payload: dict[str, Any]) -> None:
        # Views only: the camera view's mirror frames come at a pace set by the wall clock,
        # so how many arrive depends on the machine's load.
        if name == "view":
            self.messages.append(payload)

    def views(self) -> list[tuple[str, str]]:
        return [(m["view"], m["lang"]) for m in self.messages]


@pytest.fixture
def lane_and_screen() -> Any:
    fakes = FakeLane()
    screen = Screen()
    lane = fakes.build(observers=(screen,))
    attach(screen, lane)
    lane.start()
    yield fakes, lane, screen
    screen.close()


def test_a_genuine_french_traveller_sees_each_step_in_french(lane_and_screen: Any) -> None:
    fakes, lane, screen = lane_and_screen
    seen = Recorder(screen)
    traveller(fakes, "genuine", "FRA")
    lane.serve_one(1.0)
    assert seen.views() == [
        ("reading", "en"),  # the chip is not read yet
        ("reading", "fr"),  # DG1 read: French from here on
        ("camera", "fr"),
        ("verifying", "fr"),
        ("proceed", "fr"),
        ("idle", "en"),  # the next traveller is nobody yet
    ]
    assert "Veuillez avancer" in seen.messages[4]["html"]
    assert [m["seq"] for m in seen.messages] == sorted({m["seq"] for m in seen.messages})


def test_every_referral_shows_the_same_screen_byte_for_byte(lane_and_screen: Any) -> None:
    fakes, lane, screen = lane_and_screen
    seen = Recorder(screen)
    for kind in REFERRED_KINDS:
        traveller(fakes, kind, "DEU")
        lane.serve_one(1.0)
    fakes.camera.die_after = fakes.camera.frames_served  # a device fault: REFER_DEVICE
    traveller(fakes, "genuine", "DEU")
    lane.serve_one(1.0)
    fakes.camera.die_after = None
    fakes.audit.fail_next_decisions = 1  # the decision cannot be recorded: AUDIT_FAILED
    traveller(fakes, "genuine", "DEU")
    lane.serve_one(1.0)
    decisions = {t.decision.value for t in fakes.audit.records}
    assert len(decisions) >= 6 and "ACCEPT" not in decisions, decisions
    officer = [m for m in seen.messages if m["view"] == "officer"]
    assert len(officer) == len(REFERRED_KINDS) + 2
    shown = {json.dumps({k: v for k, v in m.items() if k not in ("seq", "sent")}) for m in officer}
    assert len(shown) == 1, shown
    text = officer[0]["html"].lower()
    for word in ("watchlist", "mismatch", "expired", "liveness", "refer", "martin", "x0000"):
        assert word not in text


def test_no_message_carries_a_name_a_number_a_score_or_a_reason(lane_and_screen: Any) -> None:
    fakes, lane, screen = lane_and_screen
    seen = Recorder(screen)
    traveller(fakes, "impostor", "GBR")
    lane.serve_one(1.0)
    record = fakes.audit.records[-1]
    assert record.document_number and record.score is not None
    everything = json.dumps(seen.messages)
    for secret in (record.document_number, "MARTIN", "CLAIRE", f"{record.score:.3f}",
                   record.decision.value, record.detail):  # fmt: skip
        assert secret not in everything
    assert set(seen.messages[0]) == {"seq", "view", "lang", "dir", "title", "language",
                                     "html", "sent"}  # fmt: skip


def test_out_of_service_from_the_devices_from_an_officer_and_from_a_fault() -> None:
    def event(kind: str, detail: str = "", state: State = State.IDLE) -> GateEvent:
        return GateEvent(kind, state, 0.0, None, detail)

    state = ScreenState()
    state = advance(state, event("service", "out of service: camera down since ..."))
    assert state.shown == "closed"
    assert advance(state, event("service", "in service")).shown == "idle"
    closed = advance(ScreenState(), event("officer", "close_lane"))
    assert closed.shown == "closed"
    assert advance(closed, event("officer", "open_lane")).shown == "idle"
    fault = advance(ScreenState(), event("state", "fail_safe", State.FAIL_SAFE))
    assert fault.shown == "closed" and advance(fault, event("state", "idle")).shown == "idle"
    # A traveller in the lane is referred, not told the gate is closed.
    inside = GateEvent("state", State.FAIL_SAFE, 0.0, "t1", "fail_safe")
    assert advance(ScreenState(view="camera", tid="t1"), inside).shown == "officer"


def test_an_officer_closing_the_lane_closes_the_screen(lane_and_screen: Any) -> None:
    _, lane, screen = lane_and_screen
    lane.submit_officer_action(OfficerAction("close_lane", "alice", "cleaning"))
    lane.apply_officer_actions()
    assert screen.current()["view"] == "closed"
    lane.submit_officer_action(OfficerAction("open_lane", "alice", "clean"))
    lane.apply_officer_actions()
    assert screen.current()["view"] == "idle"


def test_the_traveller_chooses_a_language_until_the_next_traveller() -> None:
    screen = Screen()
    try:
        screen(GateEvent("transaction", State.IDLE, 0.0, "t1", "started"))
        screen.note_nationality("FRA")
        assert screen.current()["lang"] == "fr"
        screen.choose("ar")
        assert (screen.current()["lang"], screen.current()["dir"]) == ("ar", "rtl")
        screen(GateEvent("state", State.IDLE, 0.0, None, "idle"))
        assert screen.current()["lang"] == "en"
    finally:
        screen.close()


@pytest.mark.parametrize(
    ("nationality", "language"),
    [("FRA", "fr"), ("D<<", "de"), ("DEU", "de"), ("ESP", "es"), ("MEX", "es"),
     ("EGY", "ar"), ("CHN", "zh"), ("GBR", "en"), ("UTO", "en"), ("", "en")],
)  # fmt: skip
def test_nationality_to_language(nationality: str, language: str) -> None:
    assert language_for(nationality) == language


def test_the_tap_reads_dg1s_nationality_and_passes_the_read_on() -> None:
    fakes = FakeLane()
    document = traveller(fakes, "genuine", "ESP")
    heard: list[str] = []
    tap = NationalityTap(fakes.chip, heard.append)
    read = tap.read(document, 0.0)
    assert read is fakes.chip.answers[document.label] and heard == ["ESP"]
    assert tap.read_s == fakes.chip.read_s  # the reader's other attributes, unchanged
    assert nationality_of("not an MRZ") == ""


@pytest.mark.parametrize(
    ("box", "quality", "hint"),
    [
        (None, None, "find"),
        ((300, 220, 340, 270), 0.9, "closer"),  # 40 px wide in 640
        ((20, 140, 200, 340), 0.9, "centre"),
        ((230, 130, 410, 350), 0.2, "straight"),
        ((230, 130, 410, 350), 0.8, "hold"),
    ],
)
def test_the_camera_hints(box: Any, quality: Any, hint: str) -> None:
    assert hint_for(box, quality, 640, 480) == hint


def test_a_live_frame_reaches_the_page_only_in_the_camera_view() -> None:
    import queue

    screen = Screen()
    frames: queue.Queue[dict[str, Any]] = queue.Queue()
    screen.listen(lambda name, payload: frames.put(payload) if name == "frame" else None)
    image = np.full((480, 640, 3), 128, np.uint8)

    def preview(tid: str) -> GateEvent:
        data = {"image": image, "face_box": (230, 130, 410, 350), "quality": 0.8}
        return GateEvent("preview", State.CAPTURE, 0.0, tid, "", data)

    try:
        screen(preview("t1"))  # idle: no mirror
        screen(GateEvent("transaction", State.IDLE, 0.0, "t1", "started"))
        screen(GateEvent("state", State.CAPTURE, 0.0, "t1", "capture"))
        screen(preview("t1"))
        frame = frames.get(timeout=10)
        assert frame["ok"] is True and frame["hint"] == "Hold still."
        assert frame["image"].startswith("data:image/jpeg;base64,")
        assert set(frame) == {"image", "ok", "hint"}
        assert frames.empty()
        # the challenge's view keeps the mirror
        screen(GateEvent("challenge", State.CAPTURE, 0.0, "t1", "asked", {"action": "turn_left"}))
        assert screen.current()["view"] == "challenge"
        screen(preview("t1"))
        assert frames.get(timeout=10)["image"].startswith("data:image/jpeg;base64,")
    finally:
        screen.close()
