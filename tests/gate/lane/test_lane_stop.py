"""SIGTERM and SIGINT stop a kiosk lane in every state (issue 25): the signal arrives while
the lane is in a given state (sent by an observer the moment the lane enters it); the lane
refers the traveller in it (REFER_DEVICE, recorded, doors locked) and serves no one else."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from gate.fakes import FakeLane
from gate.lane import GateEvent
from gate.lane.build import serve
from gate.outcome import Decision, State

MID_TRANSACTION = (State.DOCUMENT, State.CAPTURE, State.VERIFY, State.EXIT_OPEN)


class SignalOn:
    """An observer that sends ``signum`` to this process when the lane enters ``state``
    for the ``nth`` time; it records every event."""

    def __init__(self, state: State, signum: int, nth: int = 1) -> None:
        self.state, self.signum, self.left = state, signum, nth
        self.events: list[GateEvent] = []

    def __call__(self, event: GateEvent) -> None:
        self.events.append(event)
        if event.kind == "state" and event.detail == self.state.value:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("state", MID_TRANSACTION)
def test_a_signal_mid_transaction_refers_the_traveller_and_ends_the_lane(
    state: State, signum: int
) -> None:
    parts = FakeLane()
    observer = SignalOn(state, signum)
    lane = parts.build(observers=(observer,))
    lane.start()
    parts.traveller("genuine")
    parts.traveller("genuine")  # waiting behind: never taken
    before = signal.getsignal(signum)
    stop = threading.Event()
    assert serve(lane, "lane-t", stop) == 1
    assert stop.is_set()
    assert signal.getsignal(signum) == before  # the lane's handler is gone again
    (record,) = parts.audit.records
    assert record.decision is Decision.REFER_DEVICE and record.fail_safe
    assert f"lane stopped ({signal.Signals(signum).name})" in record.detail
    assert parts.audit.decisions[-1].decision is (
        Decision.ACCEPT if state is State.EXIT_OPEN else Decision.REFER_DEVICE
    )
    assert any(e.kind == "fail_safe" for e in observer.events)
    assert lane.state is State.IDLE
    assert parts.documents.wait_document(0.0) is not None  # the second traveller is left


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_idle_ends_the_lane_before_the_next_traveller(signum: int) -> None:
    parts = FakeLane()
    observer = SignalOn(State.IDLE, signum, nth=2)  # after start, the return after the first
    lane = parts.build(observers=(observer,))
    lane.start()
    parts.traveller("genuine")
    parts.traveller("genuine")
    stop = threading.Event()
    assert serve(lane, "lane-t", stop) == 1
    assert stop.is_set()
    assert [r.decision for r in parts.audit.records] == [Decision.ACCEPT]
    assert parts.documents.wait_document(0.0) is not None  # the second traveller is left
    assert lane.state is State.IDLE
