"""The referral card explains liveness: the score, the passive verdict, each cue and the
challenge asked, taken from the lane's referral as numbers and short labels only."""

from __future__ import annotations

import math

from gate.console.cards import liveness_view
from gate.console.hall import Hall
from gate.console.reporter import LaneReporter
from gate.console.wire import LaneMessage, encode, topic
from gate.lane import GateEvent
from gate.outcome import LivenessEvidence, State

EVIDENCE = LivenessEvidence(
    score=0.4,
    verdict="inconclusive",
    cues={"motion": 0.2, "surface": 0.5, "texture": 1.0},
    challenge="turn_left",
    challenge_result="failed",
    challenge_ms=6000.0,
    challenge_peak=1.5,
).as_dict()


def _referral(data: dict[str, object]) -> bytes:
    reason = "liveness inconclusive; challenge turn_left: failed"
    return encode(LaneMessage("site", "lane-1", "referral", "tid1", "referred", reason, 1.0, data))


def test_the_referral_card_carries_the_cues_and_the_challenge() -> None:
    hall = Hall()
    data = {"decision": "REFER_LIVENESS", "liveness": 0.4, "liveness_evidence": EVIDENCE}
    assert hall.receive(topic("site", "lane-1", "referral"), _referral(data))
    card = hall.referrals["tid1"].view()
    shown = card["checks"]["liveness_evidence"]
    assert shown["verdict"] == "inconclusive" and shown["score"] == 0.4
    assert shown["cues"] == {"motion": 0.2, "surface": 0.5, "texture": 1.0}
    assert (shown["challenge"], shown["challenge_result"]) == ("turn_left", "failed")
    assert shown["challenge_peak"] == 1.5
    # the challenge events reach the console too (a kind the wire accepts)
    asked = LaneMessage("site", "lane-1", "challenge", "tid1", "capture", "asked", 1.0,
                        {"action": "turn_left"})  # fmt: skip
    assert hall.receive(topic("site", "lane-1", "challenge"), encode(asked))


def test_hostile_evidence_is_dropped_field_by_field() -> None:
    hostile = dict(EVIDENCE)
    hostile["cues"] = {"motion": "high", "<script>": 1.0, "ok": math.inf, "texture": 0.9}
    hostile["challenge"] = "<img src=x>"
    hostile["verdict"] = ["live"]
    shown = liveness_view(hostile)
    assert shown["cues"] == {"texture": 0.9}
    assert shown["challenge"] is None and shown["verdict"] is None
    assert liveness_view({"score": "0.4"}) == {} and liveness_view(None) == {}
    many = {"score": 0.5, "cues": {f"c{i}": 0.5 for i in range(100)}}
    assert len(liveness_view(many)["cues"]) == 40


class _Link:
    """A link that keeps what the reporter sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic_name: str, payload: bytes, keep: bool) -> None:
        self.sent.append((topic_name, payload))

    def retain(self, topic_name: str, payload: bytes) -> None:
        pass

    def on_command(self, site: str, lane: str, handler: object) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_lane_reporter_carries_the_evidence_over_the_wire() -> None:
    evidence = dict(EVIDENCE, cues={"motion": 0.2, "parallax": math.nan})
    event = GateEvent("referral", State.REFERRED, 1.0, "tid1", "liveness inconclusive",
                      {"decision": "REFER_LIVENESS", "liveness_evidence": evidence})  # fmt: skip
    link = _Link()
    reporter = LaneReporter("site", "lane-1", link).start()
    reporter(event)
    reporter.close()
    hall = Hall()
    for topic_name, payload in link.sent:
        hall.receive(topic_name, payload)
    shown = hall.referrals["tid1"].view()["checks"]["liveness_evidence"]
    assert shown["cues"] == {"motion": 0.2}  # NaN is no JSON: left out, the rest arrives
    assert shown["challenge"] == "turn_left" and shown["challenge_result"] == "failed"
