"""Modbus and LCUS behaviours beyond the contract: address maps, units, emergency, bytes."""

from __future__ import annotations

import pytest

from drivers.turnstile.emulator import start_emulator
from drivers.turnstile.registry import open_turnstile
from gate.errors import DeviceError, DeviceTimeoutError
from gate.turnstile import Door, DoorState, EventKind
from tests.turnstile.conftest import TEST_PHYSICS, make_lane


def test_modbus_wrong_unit_does_not_answer() -> None:
    with (
        start_emulator("modbus", physics=TEST_PHYSICS) as world,
        pytest.raises(DeviceTimeoutError, match="unit 7"),
    ):
        open_turnstile(f"modbus:{world.port}?unit=7&reply=0.05&retries=1", connect_timeout=1.0)


def test_modbus_coil_outside_the_module_is_a_protocol_error() -> None:
    # the driver cannot switch that coil off, so it refuses to run the lane at all
    with start_emulator("modbus", physics=TEST_PHYSICS) as world:
        with pytest.raises(DeviceError, match="exception code 2"):
            open_turnstile(f"{world.address}&exit_coil=9&reply=0.05", connect_timeout=0.5)
        assert world.opened_count(Door.EXIT) == 0


def test_modbus_emergency_input_opens_both_and_is_reported() -> None:
    for lane in make_lane("modbus"):
        world = lane.scripted()
        world.emergency(True)
        lane.wait_for(EventKind.EMERGENCY_OPEN)
        lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.EXIT)
        assert EventKind.DOOR_FORCED not in lane.kinds()  # the alarm input explains it
        assert lane.driver.status().emergency
        world.emergency(False)
        lane.wait_for(EventKind.EMERGENCY_CLEARED)


def test_modbus_interlock_closes_the_other_door() -> None:
    for lane in make_lane("modbus"):
        world = lane.scripted()
        lane.driver.open_entry()
        lane.wait_for(EventKind.DOOR_OPENED, where=lambda e: e.door is Door.ENTRY)
        lane.driver.open_exit()
        lane.wait_for(EventKind.DOOR_CLOSED, where=lambda e: e.door is Door.ENTRY)
        assert world.commands()[-2:] == ["close entry", "open exit"]
        assert lane.driver.status().entry is DoorState.CLOSED


def test_lcus_open_pulses_the_relay_for_the_hold_time() -> None:
    with start_emulator("lcus", physics=TEST_PHYSICS) as world:
        driver = open_turnstile(f"lcus:{world.port}?hold=0.1")
        try:
            driver.open_exit()
            ev = driver.next_event(1.0)
            assert ev is not None and ev.kind is EventKind.DOOR_OPENED and ev.assumed
            kinds = [e.kind for e in iter(lambda: driver.next_event(0.5), None)]
            assert kinds[:2] == [EventKind.DOOR_CLOSED, EventKind.PASSAGE_COMPLETED]
            assert driver.status().assumed
        finally:
            driver.close()
        cmds = world.commands()
        # relays off at connect, exit relay on, off after the hold time; entry never on
        assert cmds[cmds.index("open exit") + 1] == "close exit"
        assert "open entry" not in cmds
