"""Addresses: protocol prefix, any pyserial URL, our options split from pyserial's."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from drivers.turnstile.emulator import start_emulator
from drivers.turnstile.gatectl_driver import GatectlTurnstile
from drivers.turnstile.lcus_driver import LcusTurnstile
from drivers.turnstile.modbus import ModbusMap
from drivers.turnstile.modbus_driver import ModbusTurnstile
from drivers.turnstile.registry import (
    BACKENDS,
    WIRING,
    backend,
    open_turnstile,
    parse_address,
)
from gate.errors import ConfigError, DeviceGoneError
from gate.turnstile import Door, EventKind
from tests.drivers.turnstile.conftest import TEST_PHYSICS

PROJECT = Path(__file__).resolve().parents[3]


def test_every_scheme_resolves_to_its_driver_class() -> None:
    assert backend("gatectl") is GatectlTurnstile
    assert backend("modbus") is ModbusTurnstile
    assert backend("lcus") is LcusTurnstile
    assert set(WIRING) == set(BACKENDS) == {"gatectl", "modbus", "lcus"}


@pytest.mark.parametrize("address", ["relay:/dev/ttyUSB0", "/dev/ttyUSB0", "", "GATECTL:/x"])
def test_unknown_scheme_names_the_address_and_the_known_schemes(address: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_turnstile(address)
    message = str(info.value)
    assert repr(address) in message and "gatectl:, modbus:, lcus:" in message
    assert "\n" not in message


def test_gatectl_lane_runs_without_pymodbus_and_modbus_names_its_extra() -> None:
    """pymodbus is the optional ``modbus`` extra: the default gatectl emulator and driver run
    without it, and asking for a Modbus device says which extra to install."""
    code = (
        "import sys\n"
        "sys.modules['pymodbus'] = None  # as if the extra were not installed\n"
        "from drivers.turnstile.emulator import start_emulator\n"
        "from drivers.turnstile.registry import open_turnstile\n"
        "from gate.errors import DeviceError\n"
        "with start_emulator('gatectl') as world:\n"
        "    open_turnstile(world.address).close()\n"
        "try:\n"
        "    open_turnstile('modbus:loop://')\n"
        "except DeviceError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert "pip install 'egate[modbus]'" in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1


def test_modbus_map_options_are_the_maps_fields() -> None:
    # The registry names them itself so that parsing imports no pymodbus: keep them in step.
    named = {k for k, o in WIRING["modbus"].options.items() if o.keyword == "mapping"}
    assert named == {f.name for f in dataclasses.fields(ModbusMap)}


def test_modbus_map_options_build_the_drivers_map() -> None:
    with start_emulator("modbus", physics=TEST_PHYSICS) as world:
        driver = open_turnstile(f"modbus:{world.port}?unit=1&beam_inputs=2,3,4&poll=0.05")
        try:
            assert isinstance(driver, ModbusTurnstile)
            assert driver.mapping == ModbusMap(unit=1, beam_inputs=(2, 3, 4))
        finally:
            driver.close()


def test_parse_address_splits_our_options_from_pyserials() -> None:
    proto, url, opts = parse_address("modbus:socket://127.0.0.1:5020?unit=2&logging=debug")
    assert (proto, url, opts) == ("modbus", "socket://127.0.0.1:5020?logging=debug", {"unit": "2"})
    assert parse_address("gatectl:/dev/ttyUSB0") == ("gatectl", "/dev/ttyUSB0", {})
    assert parse_address("lcus:loop://?hold=1.5")[1:] == ("loop://", {"hold": "1.5"})


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("/dev/ttyUSB0", "must start with one of gatectl:, modbus:, lcus:"),
        ("relay:/dev/ttyUSB0", "must start with one of"),
        ("gatectl:", "names no serial port"),
        ("gatectl:/dev/x?heartbeat=fast", "heartbeat='fast' is not a float"),
        ("modbus:/dev/x?colour=red", None),  # unknown to us: handed to pyserial
    ],
)
def test_bad_addresses_name_the_problem(address: str, message: str | None) -> None:
    if message is None:
        assert parse_address(address)[1] == "/dev/x?colour=red"
        return
    with pytest.raises(ConfigError, match=message):
        parse_address(address)


def test_missing_port_is_device_gone_naming_it(tmp_path: object) -> None:
    with pytest.raises(DeviceGoneError, match="no-such-tty"):
        open_turnstile("gatectl:/tmp/no-such-tty", connect_timeout=0.3)


def test_modbus_map_option_errors_are_config_errors() -> None:
    with (
        start_emulator("modbus", physics=TEST_PHYSICS) as world,
        pytest.raises(ConfigError, match="entry_coil and exit_coil are both 1"),
    ):
        open_turnstile(f"modbus:{world.port}?entry_coil=1")


def test_lcus_on_pyserial_loop_url() -> None:
    driver = open_turnstile("lcus:loop://?hold=0.05")
    try:
        driver.open_exit()
        kinds = [driver.next_event(1.0) for _ in range(3)]
        assert [e.kind for e in kinds if e] == [
            EventKind.DOOR_OPENED,
            EventKind.DOOR_CLOSED,
            EventKind.PASSAGE_COMPLETED,
        ]
        assert all(e.assumed for e in kinds if e)
    finally:
        driver.close()


@pytest.fixture
def tcp_bridge() -> Iterator[tuple[str, object]]:
    """A TCP server relaying to a gatectl emulator's pty: a serial-over-IP adapter."""
    world = start_emulator("gatectl", physics=TEST_PHYSICS)
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def relay() -> None:
        conn, _ = server.accept()
        conn.settimeout(0.01)
        tty = serial.serial_for_url(world.port, timeout=0.01)
        while not stop.is_set():
            data = tty.read(256)
            if data:
                conn.sendall(data)
            try:
                up = conn.recv(256)
            except TimeoutError:
                continue
            if not up:
                break
            tty.write(up)
        conn.close()
        tty.close()

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    yield f"socket://127.0.0.1:{server.getsockname()[1]}", world
    stop.set()
    thread.join(2)
    server.close()
    world.close()


def test_gatectl_over_a_socket_url(tcp_bridge: tuple[str, object]) -> None:
    url, _world = tcp_bridge
    driver = open_turnstile(f"gatectl:{url}")
    try:
        driver.open_exit()
        ev = driver.next_event(2.0)
        while ev is not None and ev.kind is not EventKind.DOOR_OPENED:
            ev = driver.next_event(2.0)
        assert ev is not None and ev.door is Door.EXIT
        assert driver.status().exit.value == "open"
    finally:
        driver.close()
