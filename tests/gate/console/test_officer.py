"""The officer's port on the lane: actions are queued, applied in the lane's thread between
travellers, recorded with the officer's name before any door moves, and never change an
automatic outcome."""

from __future__ import annotations

import pytest

from gate.errors import InputError
from gate.fakes import FakeLane
from gate.lane import GateEvent, Lane
from gate.lane.officer import MAX_QUEUED, OfficerAction
from gate.outcome import Decision


def _referred(kind: str = "impostor") -> tuple[FakeLane, Lane, list[GateEvent], str]:
    fake = FakeLane()
    events: list[GateEvent] = []
    lane = fake.build(observers=(events.append,))
    lane.start()
    fake.traveller(kind)
    tx = lane.serve_one(1.0)
    assert tx is not None and tx.decision is not Decision.ACCEPT
    return fake, lane, events, tx.transaction_id


def test_accept_opens_the_exit_after_recording_the_officer() -> None:
    fake, lane, events, tid = _referred("tailgater")  # the traveller is held in the lane
    referral = next(e for e in events if e.kind == "referral")
    assert referral.data["decision"] == "TAILGATING"
    assert referral.data["chip_photo"] is not None  # for the officer's screen, in memory
    commands_before = list(fake.turnstile.commands)
    accept = OfficerAction("accept", "sam", "one family, checked", tid, "supervisor")
    lane.submit_officer_action(accept)
    assert fake.audit.officer_actions == []  # only queued: the console's thread moved nothing
    lane.serve_one(0.1)
    assert [a.officer for a in fake.audit.officer_actions] == ["sam"]
    new = fake.turnstile.commands[len(commands_before) :]
    assert "open_exit" in new and new[-1] == "lock"
    notes = [e.detail for e in events if e.kind == "officer"]
    assert notes == ["accept", "passage accept"]
    # The automatic outcome stays what it was: one committed transaction, TAILGATING.
    assert [t.decision for t in fake.audit.records] == [Decision.TAILGATING]


def test_who_may_override_what_and_only_while_the_traveller_is_there() -> None:
    fake, lane, _events, held = _referred("tailgater")
    before = len(fake.turnstile.commands)
    lane.submit_officer_action(OfficerAction("accept", "olga", "looks fine", held))  # officer
    lane.serve_one(0.1)
    assert fake.audit.officer_actions[-1].refused.endswith("by supervisor only")
    fake.traveller("no_face")  # REFER_CAPTURE: this one walks back out
    gone = lane.serve_one(1.0)
    assert gone is not None and gone.decision is Decision.REFER_CAPTURE
    for tid in (gone.transaction_id, held):  # held: a later traveller came in since
        lane.submit_officer_action(OfficerAction("accept", "sam", "ok", tid, "supervisor"))
    lane.serve_one(0.1)
    assert [a.refused for a in fake.audit.officer_actions[-2:]] == [
        "the traveller has left the lane; no door opens for them"
    ] * 2
    assert "open_exit" not in fake.turnstile.commands[before:]
    with pytest.raises(InputError, match="role"):
        OfficerAction("close_lane", "ada", "x", role="auditor")


def test_refuse_after_an_alarm_lets_the_traveller_back_out() -> None:
    fake, lane, _events, tid = _referred("tailgater")
    before = len(fake.turnstile.commands)
    lane.submit_officer_action(OfficerAction("refuse", "bob", "second person: walk back", tid))
    lane.serve_one(0.1)
    assert "open_entry" in fake.turnstile.commands[before:]
    assert fake.audit.officer_actions[0].kind == "refuse"


def test_unknown_or_repeated_referral_is_refused_and_nothing_moves() -> None:
    fake, lane, events, tid = _referred("tailgater")
    lane.submit_officer_action(OfficerAction("refuse", "alice", "walked back", tid))
    lane.submit_officer_action(OfficerAction("accept", "sam", "again", tid, "supervisor"))
    lane.submit_officer_action(OfficerAction("accept", "alice", "who?", "nosuchreferral"))
    before = len(fake.turnstile.commands)
    lane.serve_one(0.1)
    applied = [a.kind for a in fake.audit.officer_actions if not a.refused]
    assert applied == ["refuse"]
    assert "open_exit" not in fake.turnstile.commands[before:]
    refused = [e.detail for e in events if e.kind == "officer" and "refused" in e.detail]
    assert len(refused) == 2
    assert [a.refused for a in fake.audit.officer_actions if a.refused] == [
        "no open referral with this id on this lane"
    ] * 2  # each refusal is on record too


def test_an_action_not_recorded_moves_no_door() -> None:
    fake, lane, events, tid = _referred("tailgater")
    fake.audit.fail_next = 1
    before = len(fake.turnstile.commands)
    lane.submit_officer_action(OfficerAction("accept", "sam", "checked", tid, "supervisor"))
    lane.serve_one(0.1)
    assert "open_exit" not in fake.turnstile.commands[before:]
    assert any("not recorded" in e.detail for e in events if e.kind == "officer")


def test_closed_lane_takes_no_document_until_opened() -> None:
    fake = FakeLane()
    lane = fake.build()
    lane.start()
    lane.submit_officer_action(OfficerAction("close_lane", "sue", "cleaning"))
    fake.traveller("genuine")
    assert lane.serve_one(0.1) is None and not lane.in_service
    lane.submit_officer_action(OfficerAction("open_lane", "sue", "clean"))
    tx = lane.serve_one(0.1)
    assert tx is not None and tx.decision is Decision.ACCEPT


@pytest.mark.parametrize(
    ("kind", "officer", "reason", "subject", "why"),
    [
        ("open_doors", "alice", "x", "t1", "unknown kind"),
        ("accept", "Alice Smith", "x", "t1", "user name"),
        ("accept", "alice", "", "t1", "reason"),
        ("accept", "alice", "a\nb", "t1", "control characters"),
        ("accept", "alice", "x" * 201, "t1", "reason"),
        ("accept", "alice", "x", "../../etc", "subject"),
        ("accept", "alice", "x", "", "missing"),
    ],
)
def test_bad_actions_are_refused_in_one_line(
    kind: str, officer: str, reason: str, subject: str, why: str
) -> None:
    with pytest.raises(InputError, match=why):
        OfficerAction(kind, officer, reason, subject)  # type: ignore[arg-type]


def test_a_full_inbox_refuses_more() -> None:
    lane = FakeLane().build()
    for _ in range(MAX_QUEUED):
        lane.submit_officer_action(OfficerAction("open_lane", "alice", "x"))
    with pytest.raises(InputError, match="inbox is full"):
        lane.submit_officer_action(OfficerAction("open_lane", "alice", "x"))


def test_preview_frames_carry_the_face_reported_for_them() -> None:
    from gate.clock import SimulatedClock
    from gate.fakes import FakeCamera
    from gate.lane.events import EventBus
    from gate.lane.preview import PreviewCamera

    clock = SimulatedClock()
    events: list[GateEvent] = []
    camera = PreviewCamera(FakeCamera(clock), EventBus(clock, (events.append,)), "t1")
    frame = camera.read(1.0)
    assert camera.wants(frame.image)  # the first frame is previewed
    camera.note_faces(frame.image, (1.0, 2.0, 3.0, 4.0), 0.8)
    assert [e.data["face_box"] for e in events] == [(1.0, 2.0, 3.0, 4.0)]
    assert events[0].data["image"] is frame.image and events[0].data["quality"] == 0.8
    camera.read(1.0)  # a preview waits for its faces (or the next read): nothing emitted yet
    assert len(events) == 1
