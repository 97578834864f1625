"""What the traveller's screen shows, as a value: ``ScreenState``, and how each lane event
changes it (``advance``). No I/O here: the page (``gate.screen.page``) draws a state, the
screen (``gate.screen.screen``) keeps the current one and tells the browser.

One view per lane state: idle, reading the chip, the camera, verifying, please proceed,
please see an officer, out of service; and, within the camera's state, the challenge: while
the lane asks for one action (a ``challenge`` event "asked"), the camera view shows what to
do (``challenge``) until the lane says how it went. A referral is one view whatever its reason: the
state keeps no decision, no reason, no name and no score, so no view can show them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gate.lane import GateEvent
from gate.outcome import State
from gate.screen.languages import DEFAULT

VIEWS = ("idle", "reading", "camera", "challenge", "verifying", "proceed", "officer", "closed")
CHALLENGES = ("turn_left", "turn_right", "blink")  # the actions the screen can ask for

_VIEW_OF_STATE = {
    State.IDLE: "idle",
    State.DOCUMENT: "reading",
    State.CAPTURE: "camera",
    State.VERIFY: "verifying",
    State.EXIT_OPEN: "proceed",
    State.PASSAGE: "proceed",
    State.REFERRED: "officer",
}
QUALITY_OK = 0.5  # the capture's quality score (0..1) from which the face guide turns green
MIN_FACE_WIDTH = 0.18  # of the frame's width: nearer than this is "come closer"
MAX_OFF_CENTRE = 0.2  # of the frame's size: further out is "stand in the middle"

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ScreenState:
    """The screen as it stands: the lane's view, the traveller's language (DG1's
    nationality, or the traveller's own choice), and why the lane is out of service."""

    view: str = "idle"
    tid: str | None = None
    default: str = DEFAULT
    nationality_language: str | None = None  # from DG1, for this traveller only
    chosen: str | None = None  # the traveller's choice on the screen, for this traveller only
    devices_down: bool = False  # a device does not answer (``service`` events)
    officer_closed: bool = False  # an officer closed the lane
    fault: bool = False  # the lane went fail-safe with nobody in it
    challenge: str | None = None  # the action asked of the traveller (``CHALLENGES``)

    @property
    def language(self) -> str:
        return self.chosen or self.nationality_language or self.default

    @property
    def shown(self) -> str:
        """The view on the screen: out of service wins whenever no traveller is served."""
        if self.fault or (self.view == "idle" and (self.devices_down or self.officer_closed)):
            return "closed"
        if self.view == "camera" and self.challenge is not None:
            return "challenge"
        return self.view


def advance(state: ScreenState, event: GateEvent) -> ScreenState:
    """The screen after ``event`` (``preview`` frames do not change it: ``hint_for``)."""
    if event.kind == "transaction" and event.detail == "started":
        return _fresh(state, "reading", event.transaction_id)
    if event.kind == "state":
        return _entered(state, event)
    if event.kind == "service":
        return replace(state, devices_down=event.detail.startswith("out of service"))
    if event.kind == "officer" and event.detail in ("close_lane", "open_lane"):
        return replace(state, officer_closed=event.detail == "close_lane")
    if event.kind == "referral" and event.transaction_id is not None:
        return replace(state, view="officer", challenge=None)
    if event.kind == "challenge" and event.transaction_id == state.tid:
        return _challenge(state, event)
    return state


def _challenge(state: ScreenState, event: GateEvent) -> ScreenState:
    """Asked: the camera view shows the action; any other word (passed, failed, attack,
    no_face) ends it, and the lane's next state says what comes next."""
    action = event.data.get("action")
    if event.detail == "asked" and action in CHALLENGES and state.view == "camera":
        return replace(state, challenge=str(action))
    return replace(state, challenge=None)


def _entered(state: ScreenState, event: GateEvent) -> ScreenState:
    if event.state is State.IDLE:
        return _fresh(state, "idle", None)
    if event.state is State.FAIL_SAFE:
        if event.transaction_id is None:  # nobody to refer: the lane itself is in trouble
            return replace(_fresh(state, "idle", None), fault=True)
        return replace(state, view="officer", fault=False, challenge=None)
    view = _VIEW_OF_STATE.get(event.state)
    if view is None:  # AUDIT: the traveller keeps the view of the decision
        return state
    tid = event.transaction_id or state.tid
    return replace(state, view=view, tid=tid, fault=False, challenge=None)


def _fresh(state: ScreenState, view: str, tid: str | None) -> ScreenState:
    """A new traveller (or none): nothing of the last one's language is kept."""
    return replace(state, view=view, tid=tid, nationality_language=None, chosen=None,
                   fault=False, challenge=None)  # fmt: skip


def hint_for(box: Box | None, quality: float | None, width: int, height: int) -> str:
    """The camera view's hint for one live frame: ``hold`` once the face is good enough,
    else what the traveller should do (``gate.screen.messages.HINTS``)."""
    if box is None or width <= 0 or height <= 0:
        return "find"
    left, top, right, bottom = box
    if (right - left) / width < MIN_FACE_WIDTH:
        return "closer"
    off_x = abs((left + right) / 2 - width / 2) / width
    off_y = abs((top + bottom) / 2 - height / 2) / height
    if off_x > MAX_OFF_CENTRE or off_y > MAX_OFF_CENTRE:
        return "centre"
    if quality is None or quality < QUALITY_OK:
        return "straight"
    return "hold"
