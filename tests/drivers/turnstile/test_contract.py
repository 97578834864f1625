"""One contract for every turnstile: the three emulators on real ptys, and real hardware
when EGATE_HIL_TURNSTILE names it."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from drivers.turnstile.emulator import Faults
from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError, GateError
from gate.turnstile import Door, DoorState, EventKind, Turnstile
from tests.drivers.turnstile.conftest import Lane, LogWatch


def test_driver_is_a_turnstile_and_starts_locked(lane: Lane) -> None:
    assert isinstance(lane.driver, Turnstile)
    st = lane.driver.status()
    assert st.entry is DoorState.CLOSED and st.exit is DoorState.CLOSED
    assert st.assumed == (lane.protocol == "lcus")


def test_open_exit_then_lock(lane: Lane) -> None:
    lane.driver.open_exit()
    lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.EXIT)
    assert lane.driver.status().exit in (DoorState.OPEN, DoorState.MOVING)
    lane.driver.lock()
    lane.wait_for(EventKind.DOOR_CLOSED, where=lambda e: e.door is Door.EXIT)
    if lane.handle:
        deadline = time.monotonic() + 2
        while lane.handle.door_state(Door.EXIT) is not DoorState.CLOSED:
            assert time.monotonic() < deadline, "emulated exit door never closed"
            time.sleep(0.01)
    assert lane.driver.status().locked


def test_passage_completed_and_door_relocks(lane: Lane) -> None:
    world = lane.scripted()
    world.traveller_passes()
    lane.driver.open_exit()
    ev = lane.wait_for(EventKind.PASSAGE_COMPLETED)
    assert ev.door is Door.EXIT
    assert EventKind.TAILGATING not in lane.kinds()
    lane.wait_for(EventKind.DOOR_CLOSED, where=lambda e: e.door is Door.EXIT)
    assert world.opened_count(Door.ENTRY) == 0


def test_referral_walks_back_through_entry(lane: Lane) -> None:
    world = lane.scripted()
    world.traveller_walks_back()
    lane.driver.open_entry()
    assert lane.wait_for(EventKind.PASSAGE_COMPLETED).door is Door.ENTRY
    assert world.opened_count(Door.EXIT) == 0


def test_tailgating_detected(lane: Lane) -> None:
    world = lane.scripted()
    if lane.protocol == "lcus":
        pytest.skip("lcus relay boards have no beams: tailgating cannot be seen")
    world.traveller_passes(tailgater=True)
    lane.driver.open_exit()
    lane.wait_for(EventKind.TAILGATING)
    lane.wait_for(EventKind.PASSAGE_COMPLETED)
    kinds = lane.kinds()
    assert kinds.index(EventKind.TAILGATING) < kinds.index(EventKind.PASSAGE_COMPLETED)


def test_jammed_door_reported_as_fault(lane: Lane) -> None:
    world = lane.scripted()
    if lane.protocol == "lcus":
        pytest.skip("lcus relay boards have no read-back: a jam cannot be seen")
    world.jam(Door.EXIT)
    lane.driver.open_exit()
    ev = lane.wait_for(EventKind.DOOR_JAMMED)
    assert ev.door is Door.EXIT
    assert lane.driver.status().exit is DoorState.JAMMED
    assert world.opened_count(Door.EXIT) == 0


def test_forced_door_reported(lane: Lane) -> None:
    world = lane.scripted()
    if lane.protocol == "lcus":
        pytest.skip("lcus relay boards have no door contacts")
    world.force(Door.ENTRY)
    assert lane.wait_for(EventKind.DOOR_FORCED).door is Door.ENTRY


def test_unplugged_mid_command_reconnects_and_locks(lane: Lane) -> None:
    world = lane.scripted()
    lane.driver.open_exit()
    lane.wait_for(EventKind.DOOR_OPENED)
    if lane.protocol != "lcus":
        # the device goes silent, so the next command is in flight when the port vanishes
        world.device.faults = Faults(drop_rate=1.0)
        threading.Timer(0.1, world.unplug).start()
        with pytest.raises((DeviceGoneError, DeviceTimeoutError)):
            lane.driver.open_entry(timeout=2.0)
    else:
        world.unplug()  # write-only: the loss shows on the next write
        time.sleep(0.1)
        with pytest.raises(DeviceGoneError):
            lane.driver.open_entry(timeout=1.0)
    lane.wait_for(EventKind.DEVICE_FAULT)
    # while the port is gone, status says so instead of guessing the doors
    down = lane.driver.status(timeout=0.2)
    assert not down.connected and down.fault
    assert down.entry is DoorState.UNKNOWN and down.exit is DoorState.UNKNOWN
    before = len(world.commands())
    world.device.faults = Faults()
    world.replug()
    lane.wait_for(EventKind.RECONNECTED, timeout=5)
    deadline = time.monotonic() + 1.0  # the emulator may still be reading the lock bytes
    while len(after := world.commands()[before:]) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert after[0] == "replugged"
    # the first thing the driver does on the new port is lock both doors
    assert after[1] in ("lock", "close entry", "close exit"), after
    assert not any(c.startswith("open") for c in after), after
    # whatever the lost command did, power loss and the driver's lock leave the lane locked
    st = lane.driver.status()
    assert st.locked
    assert world.door_state(Door.ENTRY) is DoorState.CLOSED
    assert world.door_state(Door.EXIT) is DoorState.CLOSED


def test_line_noise_resync_and_no_door_opened(lane: Lane) -> None:
    world = lane.scripted()
    world.inject_noise(1000, seed=1, to_host=True)
    world.inject_noise(1000, seed=2, to_host=False)
    lane.drain(0.3)
    for attempt in range(3):  # the first command may meet the noise's tail
        try:
            st = lane.driver.status(timeout=1.0)
            break
        except GateError:
            if attempt == 2:
                raise
    assert st.locked
    lane.driver.lock()
    assert world.opened_count(Door.ENTRY) == 0 and world.opened_count(Door.EXIT) == 0
    assert not any(c.startswith("open") for c in world.commands())
    assert EventKind.DOOR_OPENED not in lane.kinds()
    # and the driver still works
    lane.driver.open_exit()
    lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.EXIT)


@pytest.mark.parametrize("protocol", ["gatectl", "modbus"])
def test_flaky_line_commands_still_get_through(protocol: str) -> None:
    """Unprompted noise, lost and corrupted replies at once: retries carry the commands,
    and nothing the noise says opens a door."""
    from tests.drivers.turnstile.conftest import make_lane

    faults = Faults(noise_rate=300, drop_rate=0.1, corrupt_rate=0.1, seed=5)
    for lane in make_lane(protocol, faults=faults, options="&retries=8"):
        world = lane.scripted()
        for _ in range(10):
            assert lane.driver.status(timeout=3.0).locked
            lane.driver.lock(timeout=3.0)
        assert world.opened_count(Door.ENTRY) == world.opened_count(Door.EXIT) == 0
        assert not any(c.startswith("open") for c in world.commands())


@pytest.mark.parametrize("protocol", ["gatectl", "modbus"])
def test_failed_open_leaves_the_door_locked(protocol: str) -> None:
    """The device acts on OPEN but every answer is lost: the caller gets a timeout and the
    driver locks again, so the door does not stay open behind a failed command."""
    from tests.drivers.turnstile.conftest import make_lane

    for lane in make_lane(protocol, options="&retries=1"):
        world = lane.scripted()
        world.device.faults = Faults(drop_rate=1.0)
        with pytest.raises(DeviceTimeoutError):
            lane.driver.open_exit(timeout=0.5)
        cmds = world.commands()
        assert "open exit" in cmds
        assert cmds[-1] in ("lock", "close exit"), cmds
        deadline = time.monotonic() + 2
        while world.door_state(Door.EXIT) is not DoorState.CLOSED:
            assert time.monotonic() < deadline, "exit door left open after a failed command"
            time.sleep(0.01)


def test_opening_one_door_closes_the_other_first(lane: Lane) -> None:
    """Interlock: the entry closes (contact made, or the relay board's travel time) before
    the exit starts to move; never both doors open."""
    lane.driver.open_entry()
    lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.ENTRY)
    if lane.handle is not None:  # relay boards report "opened" before the door moved
        assert lane.handle.wait_door(Door.ENTRY, DoorState.OPEN)
    lane.driver.open_exit()
    opened = lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.EXIT)
    closed = lane.wait_for(EventKind.DOOR_CLOSED, where=lambda e: e.door is Door.ENTRY)
    assert lane.seen.index(closed) < lane.seen.index(opened)
    if lane.handle is not None:
        assert lane.handle.interlock_breaches() == 0
        assert lane.handle.door_state(Door.ENTRY) is DoorState.CLOSED
    lane.driver.lock()


def test_other_door_that_does_not_close_fails_safe(lane: Lane) -> None:
    world = lane.scripted()
    if lane.protocol == "lcus":
        pytest.skip("lcus relay boards have no contacts: they sequence by travel time only")
    lane.driver.open_entry()
    lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.ENTRY)
    world.jam(Door.ENTRY)  # stuck open
    with pytest.raises(DeviceError, match="entry door did not close") as err:
        lane.driver.open_exit()
    assert "exit door not opened" in str(err.value)
    assert world.opened_count(Door.EXIT) == 0
    assert world.door_state(Door.EXIT) is DoorState.CLOSED
    assert not any(c == "open exit" for c in world.commands())
    assert world.commands()[-1] in ("lock", "close exit"), world.commands()
    assert world.interlock_breaches() == 0


def test_silent_device_is_reported_then_recovers(lane: Lane) -> None:
    """A device that stops answering with its port still open (line cut): DEVICE_FAULT,
    ``connected`` False, one WARNING however long it lasts; when it answers again the doors
    are locked first, then RECONNECTED, ``connected`` True and one more WARNING."""
    world = lane.scripted()
    if lane.protocol == "lcus":
        pytest.skip("lcus relay boards never answer: a board that stops listening is unseen")
    with LogWatch() as logs:
        world.silence()
        fault = lane.wait_for(EventKind.DEVICE_FAULT, timeout=10)
        assert "not answering" in fault.detail
        down = lane.driver.status(timeout=0.3)
        assert not down.connected and down.fault
        assert down.entry is DoorState.UNKNOWN
        # several failed attempts to bring it back, and still the one WARNING line
        logs.wait(logging.DEBUG, 3, start=logs.mark())
        assert logs.count(logging.WARNING) == 1, [r.getMessage() for r in logs.records]
        mark = len(world.commands())
        world.silence(False)
        lane.wait_for(EventKind.RECONNECTED, timeout=10)
        assert logs.count(logging.WARNING) == 2
    relocked = world.commands()[mark:]
    assert relocked[0] == "answering"
    assert any(c in ("lock", "close entry", "close exit") for c in relocked), relocked
    assert not any(c.startswith("open") for c in relocked), relocked
    st = lane.driver.status()
    assert st.connected and st.locked
