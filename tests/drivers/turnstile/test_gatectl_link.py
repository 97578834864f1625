"""gatectl behaviours beyond the contract: watchdog, NAKs, retries, slow and noisy lines."""

from __future__ import annotations

import time

import pytest
import serial

from drivers.turnstile import gatectl as g
from drivers.turnstile.emulator import Faults, Physics, start_emulator
from drivers.turnstile.emulator.physics import Lane as PhysLane
from drivers.turnstile.registry import open_turnstile
from gate.errors import DeviceError, DeviceTimeoutError
from gate.turnstile import Door, DoorState, EventKind
from tests.drivers.turnstile.conftest import TEST_PHYSICS, make_lane


def _ask(port: serial.Serial, decoder: g.FrameDecoder, frame: g.Frame) -> g.Frame:
    port.write(frame.encode())
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        for reply in decoder.feed(port.read(64)):
            if reply.command in (g.Command.ACK, g.Command.NAK) and reply.seq == frame.seq:
                return reply
    raise AssertionError(f"no reply to {frame}")


def test_controller_watchdog_locks_when_host_goes_silent() -> None:
    with start_emulator("gatectl", physics=Physics(time_scale=0.1)) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        decoder = g.FrameDecoder()
        try:
            assert (
                _ask(
                    port, decoder, g.Frame(1, g.Command.SET_WATCHDOG, (200).to_bytes(2, "big"))
                ).command
                == g.Command.ACK
            )
            assert _ask(port, decoder, g.Frame(2, g.Command.OPEN, b"\x02")).command == g.Command.ACK
            time.sleep(0.15)
            assert world.door_state(Door.EXIT) is DoorState.OPEN
            time.sleep(0.4)  # host silent longer than the 200 ms watchdog
            assert "watchdog" in world.commands()
            assert world.door_state(Door.EXIT) is DoorState.CLOSED
            events = [
                g.EventPayload.decode(f.payload).code
                for f in decoder.feed(port.read(512))
                if f.command == g.Command.EVENT
            ]
            assert g.EventCode.WATCHDOG_LOCKED in events
        finally:
            port.close()


def test_heartbeat_keeps_the_door_open_past_the_watchdog() -> None:
    with start_emulator("gatectl", physics=Physics(time_scale=0.1)) as world:
        driver = open_turnstile(f"gatectl:{world.port}?watchdog=0.3&heartbeat=0.05")
        try:
            driver.open_exit()
            time.sleep(0.8)
            assert "watchdog" not in world.commands()
            assert world.door_state(Door.EXIT) is DoorState.OPEN
        finally:
            driver.close()
        assert world.door_state(Door.EXIT) in (DoorState.MOVING, DoorState.CLOSED)  # close locks


def test_nak_becomes_device_error_naming_the_reason() -> None:
    for lane in make_lane("gatectl"):
        assert lane.handle is not None
        lane.handle.emergency(True)
        lane.wait_for(EventKind.EMERGENCY_OPEN)
        with pytest.raises(DeviceError, match="emergency_active"):
            lane.driver.open_exit()
        assert lane.driver.status().emergency


def test_lost_replies_are_retried_without_acting_twice() -> None:
    # 30 % of replies lost; with 8 retries a command fails about once in 50,000
    for lane in make_lane("gatectl", faults=Faults(drop_rate=0.3, seed=4), options="&retries=8"):
        assert lane.handle is not None
        for _ in range(5):
            lane.driver.open_exit(timeout=3.0)
            lane.driver.lock(timeout=3.0)
        cmds = [c for c in lane.handle.commands() if c.startswith(("open", "lock"))]
        # each command executed once although many were sent more than once
        assert cmds.count("open exit") == 5


def test_corrupted_replies_are_retried() -> None:
    for lane in make_lane("gatectl", faults=Faults(corrupt_rate=0.3, seed=2), options="&retries=8"):
        for _ in range(5):
            assert lane.driver.status(timeout=3.0).locked


def test_slow_controller_times_out_with_a_clear_message() -> None:
    # slower than the caller's timeout but within a heartbeat period (0.25 s): the link is
    # up, so the command times out (a controller silent longer than that is down instead)
    for lane in make_lane("gatectl"):
        assert lane.handle is not None
        lane.handle.device.faults = Faults(latency_s=0.15)
        with pytest.raises(DeviceTimeoutError, match="no acknowledgement for STATUS"):
            lane.driver.status(timeout=0.05)
        lane.handle.device.faults = Faults()


def test_events_carry_the_door_and_are_not_duplicated() -> None:
    with start_emulator("gatectl", physics=TEST_PHYSICS) as world:
        driver = open_turnstile(world.address)
        try:
            world.traveller_passes()
            driver.open_exit()
            kinds = []
            end = time.monotonic() + 3
            while time.monotonic() < end and EventKind.DOOR_CLOSED not in kinds:
                ev = driver.next_event(0.5)
                if ev is not None:
                    kinds.append(ev.kind)
            assert kinds.count(EventKind.PASSAGE_COMPLETED) == 1
            assert kinds.count(EventKind.DOOR_OPENED) == 1
        finally:
            driver.close()


def test_emulator_with_nobody_listening_does_not_stall() -> None:
    """Heavy noise into a port nobody has open fills the pty; the emulator drops it like a
    UART without a listener, keeps its physics running, and a late driver still connects."""
    with start_emulator("gatectl", faults=Faults(noise_rate=20000, seed=3)) as world:
        time.sleep(0.5)
        world.traveller_passes()  # takes the emulator's lock: would hang if it were stuck
        driver = open_turnstile(world.address)
        try:
            assert driver.status(timeout=3.0).locked
        finally:
            driver.close()


def test_only_an_identical_frame_counts_as_a_retry() -> None:
    """Same SEQ, other command (a new host session counting from the same number): it is
    executed. The identical frame again: answered, not executed twice."""
    with start_emulator("gatectl", physics=TEST_PHYSICS) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        decoder = g.FrameDecoder()
        try:
            _ask(port, decoder, g.Frame(5, g.Command.OPEN, b"\x02"))
            _ask(port, decoder, g.Frame(5, g.Command.OPEN, b"\x02"))  # a retry
            _ask(port, decoder, g.Frame(5, g.Command.LOCK))  # same SEQ, new command
            assert world.commands() == ["open exit", "lock"]
        finally:
            port.close()


def _events_until(
    port: serial.Serial, decoder: g.FrameDecoder, code: g.EventCode, door: g.DoorCode
) -> list[g.EventPayload]:
    """Read (and acknowledge) controller events until one with ``code`` for ``door``."""
    seen: list[g.EventPayload] = []
    seqs: set[int] = set()
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        for frame in decoder.feed(port.read(64)):
            if frame.command != g.Command.EVENT:
                continue
            port.write(g.Frame(frame.seq, g.Command.ACK).encode())
            if frame.seq in seqs:
                continue  # a retransmission: our ACK crossed it
            seqs.add(frame.seq)
            ev = g.EventPayload.decode(frame.payload)
            seen.append(ev)
            if ev.code == code and ev.door == door:
                return seen
    raise AssertionError(f"no {code.name} for {door.name}; saw {seen}")


def _trip_watchdog(port: serial.Serial, decoder: g.FrameDecoder) -> None:
    """Arm a 100 ms watchdog, then say nothing until the controller locks on it."""
    _ask(port, decoder, g.Frame(1, g.Command.SET_WATCHDOG, (100).to_bytes(2, "big")))
    _events_until(port, decoder, g.EventCode.WATCHDOG_LOCKED, g.DoorCode.NONE)


def test_watchdog_flag_stays_set_until_an_open_is_accepted() -> None:
    with start_emulator("gatectl", physics=TEST_PHYSICS) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        decoder = g.FrameDecoder()
        try:
            _trip_watchdog(port, decoder)
            # the STATUS answers themselves are frames from the host: they do not clear it
            for seq in (2, 3):
                st = g.StatusPayload.decode(
                    _ask(port, decoder, g.Frame(seq, g.Command.STATUS)).payload
                )
                assert st.flags & g.FLAG_WATCHDOG_TRIPPED
            _ask(port, decoder, g.Frame(4, g.Command.LOCK))  # locking is no authorisation
            st = g.StatusPayload.decode(_ask(port, decoder, g.Frame(5, g.Command.STATUS)).payload)
            assert st.flags & g.FLAG_WATCHDOG_TRIPPED
            assert _ask(port, decoder, g.Frame(6, g.Command.OPEN, b"\x02")).command == g.Command.ACK
            st = g.StatusPayload.decode(_ask(port, decoder, g.Frame(7, g.Command.STATUS)).payload)
            assert not st.flags & g.FLAG_WATCHDOG_TRIPPED
        finally:
            port.close()


def test_driver_reports_a_watchdog_trip_until_the_next_open() -> None:
    with start_emulator("gatectl", physics=TEST_PHYSICS) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        try:
            _trip_watchdog(port, g.FrameDecoder())  # a previous host went away
        finally:
            port.close()
        driver = open_turnstile(world.address)
        try:
            st = driver.status()
            assert st.fault == "watchdog tripped" and st.locked
            driver.open_exit()
            assert driver.status().fault == ""
        finally:
            driver.close()


def test_controller_opens_only_after_the_other_door_closed() -> None:
    """The controller's own interlock (a host that skips its check): OPEN exit while the
    entry is open is acknowledged, and the exit moves once the entry's contact is made."""
    with start_emulator("gatectl", physics=TEST_PHYSICS) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        decoder = g.FrameDecoder()
        try:
            _ask(port, decoder, g.Frame(1, g.Command.SET_WATCHDOG, b"\x00\x00"))
            _ask(port, decoder, g.Frame(2, g.Command.OPEN, b"\x01"))
            _events_until(port, decoder, g.EventCode.DOOR_OPENED, g.DoorCode.ENTRY)
            assert _ask(port, decoder, g.Frame(3, g.Command.OPEN, b"\x02")).command == g.Command.ACK
            seen = _events_until(port, decoder, g.EventCode.DOOR_OPENED, g.DoorCode.EXIT)
            closed = g.EventPayload(g.EventCode.DOOR_CLOSED, g.DoorCode.ENTRY, 0)
            assert closed in seen
            assert world.interlock_breaches() == 0
        finally:
            port.close()


def test_controller_gives_up_when_the_other_door_stays_open() -> None:
    with start_emulator("gatectl", physics=TEST_PHYSICS) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        decoder = g.FrameDecoder()
        try:
            _ask(port, decoder, g.Frame(1, g.Command.SET_WATCHDOG, b"\x00\x00"))
            _ask(port, decoder, g.Frame(2, g.Command.OPEN, b"\x01"))
            _events_until(port, decoder, g.EventCode.DOOR_OPENED, g.DoorCode.ENTRY)
            world.jam(Door.ENTRY)
            assert _ask(port, decoder, g.Frame(3, g.Command.OPEN, b"\x02")).command == g.Command.ACK
            _events_until(port, decoder, g.EventCode.DOOR_JAMMED, g.DoorCode.ENTRY)
            st = g.StatusPayload.decode(_ask(port, decoder, g.Frame(4, g.Command.STATUS)).payload)
            assert st.exit == g.StateCode.CLOSED
            assert world.opened_count(Door.EXIT) == 0
            assert world.interlock_breaches() == 0
        finally:
            port.close()


def test_physics_counts_both_doors_off_closed_as_a_breach() -> None:
    """The check the interlock tests rely on: it does see both doors open."""
    lane = PhysLane(physics=Physics(door_travel_s=0.1))
    lane.tick(0.0)
    lane.command(Door.ENTRY, True)
    lane.command(Door.EXIT, True)
    lane.tick(0.05)
    assert lane.interlock_breaches == 1
    lane.tick(0.2)  # still both open: the same breach
    assert lane.interlock_breaches == 1
    emergency = PhysLane(physics=Physics(door_travel_s=0.1), emergency=True)
    emergency.tick(0.0)
    emergency.tick(0.05)
    assert emergency.interlock_breaches == 0
