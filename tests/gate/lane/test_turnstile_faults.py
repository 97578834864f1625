"""A gate controller that stops answering with its port still open (the line cut behind a
USB adapter that stays plugged in), on the real paths: the lane built by ``build_lane`` from
its config, the gatectl driver over a pty to its emulator, the ICAO reader over a virtual
chip, the SQLite audit log. The camera and the face engine are the in-memory fakes.

The transaction caught by the silence ends REFER_DEVICE and fail-safe with the doors locked
(by the driver, or by the controller's own watchdog when the driver cannot reach it), and
the next traveller is served once the controller answers again.
"""

from __future__ import annotations

from gate.lane import GateEvent
from gate.outcome import Decision, State, Transaction
from gate.turnstile import Door, DoorState
from tests.gate.lane.real_lane import RealLane


def silence_at(lane: RealLane, state: State) -> None:
    """Cut the line as the lane enters ``state`` (once)."""

    def cut(event: GateEvent) -> None:
        if event.kind == "state" and event.state is state:
            lane.controller.remove_observer(cut)
            lane.emulator.silence()

    lane.controller.add_observer(cut)


def mend_and_wait_for_the_driver(lane: RealLane) -> None:
    """The controller answers again; the driver's first act is to lock the doors."""
    mark = len(lane.emulator.commands())
    lane.emulator.silence(False)
    assert lane.emulator.wait_command("lock", start=mark, timeout=15), lane.emulator.commands()[
        mark:
    ]


def _assert_fail_safe_and_locked(lane: RealLane, tx: Transaction) -> None:
    assert tx.decision is Decision.REFER_DEVICE, tx.detail
    assert tx.fail_safe
    assert any(e.kind == "fail_safe" and e.transaction_id == tx.transaction_id for e in lane.events)
    assert lane.controller.state is State.IDLE
    for door in Door:
        assert lane.emulator.wait_door(door, DoorState.CLOSED), f"{door.value} door left open"


def test_controller_silent_as_the_exit_is_about_to_open(lane: RealLane) -> None:
    silence_at(lane, State.EXIT_OPEN)
    tx = lane.traveller()
    _assert_fail_safe_and_locked(lane, tx)
    assert "exit_command" in tx.detail
    assert lane.emulator.opened_count(Door.EXIT) == 0  # the OPEN never reached it
    mend_and_wait_for_the_driver(lane)
    second = lane.traveller()
    assert second.decision is Decision.ACCEPT, second.detail
    assert lane.emulator.opened_count(Door.EXIT) == 1
    assert lane.audit.count() == 2


def test_controller_silent_with_the_exit_open(lane: RealLane) -> None:
    """The exit opened, then the line is cut before the traveller moves: the driver reports
    the silence (DEVICE_FAULT), the lane refers and cannot lock over the dead line, and the
    controller's watchdog closes the exit on its own."""
    lane.walk = False
    silence_at(lane, State.PASSAGE)
    tx = lane.traveller()
    _assert_fail_safe_and_locked(lane, tx)
    assert tx.detail == "turnstile: device_fault"
    assert lane.emulator.opened_count(Door.EXIT) == 1
    assert "watchdog" in lane.emulator.commands()
    lane.walk = True
    mend_and_wait_for_the_driver(lane)
    assert lane.traveller().decision is Decision.ACCEPT
    assert lane.emulator.opened_count(Door.EXIT) == 2
