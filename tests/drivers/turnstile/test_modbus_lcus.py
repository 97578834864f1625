"""Modbus and LCUS behaviours beyond the contract: address maps, units, emergency, bytes."""

from __future__ import annotations

import time

import pytest
import serial
from pymodbus.framer import FramerRTU
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest

from drivers.turnstile import modbus as mb
from drivers.turnstile.emulator import start_emulator
from drivers.turnstile.modbus_driver import ModbusTurnstile
from drivers.turnstile.registry import open_turnstile
from gate.errors import DeviceError, DeviceTimeoutError
from gate.turnstile import Door, DoorState, EventKind
from tests.drivers.turnstile.conftest import TEST_PHYSICS, make_lane


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


def _frame(unit: int, function: int, data: bytes) -> bytes:
    body = bytes((unit, function)) + data
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def _ask_module(port: serial.Serial, request: bytes) -> ModbusPDU:
    """One raw request to the emulated module; its decoded answer."""
    codec = mb.RtuCodec()
    port.reset_input_buffer()
    port.write(request)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        for reply in codec.feed(port.read(64)):
            return reply
    raise AssertionError(f"no answer to {request.hex()}")


# (what, function, data, exception code): refused as the Modbus spec says
REFUSED = [
    ("FC05 value neither 0x0000 nor 0xFF00", 5, "00011234", mb.ILLEGAL_DATA_VALUE),
    ("FC05 value 0x0001", 5, "00010001", mb.ILLEGAL_DATA_VALUE),
    ("FC05 coil the module lacks", 5, "0007ff00", mb.ILLEGAL_DATA_ADDRESS),
    ("FC01 address the module lacks", 1, "00640001", mb.ILLEGAL_DATA_ADDRESS),
    ("FC01 count past the last coil", 1, "00000003", mb.ILLEGAL_DATA_ADDRESS),
    ("FC01 count 0", 1, "00000000", mb.ILLEGAL_DATA_VALUE),
    ("FC01 count 2001", 1, "000007d1", mb.ILLEGAL_DATA_VALUE),
    ("FC02 count 0", 2, "00000000", mb.ILLEGAL_DATA_VALUE),
    ("FC02 count 2001", 2, "000007d1", mb.ILLEGAL_DATA_VALUE),
    ("FC02 past the last input", 2, "00050002", mb.ILLEGAL_DATA_ADDRESS),
    ("FC03 (no registers here)", 3, "00000001", mb.ILLEGAL_FUNCTION),
    ("FC07, unknown to the module", 7, "", mb.ILLEGAL_FUNCTION),
    ("FC43 with a payload", 0x2B, "0e0100", mb.ILLEGAL_FUNCTION),
]


def test_modbus_module_answers_with_the_spec_exceptions() -> None:
    with start_emulator("modbus", physics=TEST_PHYSICS) as world:
        port = serial.serial_for_url(world.port, timeout=0.02)
        try:
            for what, function, data, code in REFUSED:
                reply = _ask_module(port, _frame(1, function, bytes.fromhex(data)))
                assert isinstance(reply, ExceptionResponse), what
                assert (reply.function_code, reply.exception_code) == (function | 0x80, code), what
            # nothing refused changed a coil, and no door moved
            coils = _ask_module(port, _frame(1, 1, bytes.fromhex("00000002")))
            assert list(coils.bits[:2]) == [False, False]
            assert world.opened_count(Door.ENTRY) == world.opened_count(Door.EXIT) == 0
            assert world.commands() == []
            # the legal forms do work on the same line (both closed contacts made)
            inputs = _ask_module(port, _frame(1, 2, bytes.fromhex("00000006")))
            assert inputs.function_code == 2 and list(inputs.bits[:2]) == [True, True]
            echo = _ask_module(port, _frame(1, 5, bytes.fromhex("0001ff00")))
            assert (echo.function_code, echo.address, list(echo.bits[:1])) == (5, 1, [True])
            assert world.commands() == ["open exit"]
        finally:
            port.close()


def test_modbus_driver_raises_a_device_error_naming_the_exception() -> None:
    for lane in make_lane("modbus"):
        assert isinstance(lane.driver, ModbusTurnstile)
        with pytest.raises(DeviceError, match=r"exception code 2 \(illegal data address\)"):
            lane.driver.transaction(ReadCoilsRequest(dev_id=1, address=50, count=1), 1.0)
        assert lane.driver.status().connected  # a refusal is an answer: the link is up
