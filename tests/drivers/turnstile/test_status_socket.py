"""The emulator's status socket (issue 25): the emulated lane's doors and beams can be read
while a lane's driver holds the device port, from Python and with ``egate turnstile status
--status-socket``; a path that is no socket, or no emulator behind it, is one clear line."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from drivers.turnstile.emulator import Physics, start_emulator
from drivers.turnstile.emulator.status_socket import (
    StatusSocket,
    read_status_socket,
    world_status,
)
from drivers.turnstile.registry import open_turnstile
from gate.cli import main
from gate.errors import ConfigError, DeviceError
from gate.turnstile import Door, DoorState


def test_the_status_is_read_while_a_driver_holds_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lane.status"
    with (
        start_emulator("gatectl", physics=Physics(time_scale=0.1)) as emulator,
        StatusSocket(path, partial(world_status, emulator.device)),
    ):
        turnstile = open_turnstile(emulator.address)  # the lane's driver: the port is taken
        try:
            assert read_status_socket(path)["exit"] == "closed"
            turnstile.open_exit()
            assert emulator.wait_door(Door.EXIT, DoorState.OPEN, timeout=20)
            status = read_status_socket(path)
            assert (status["entry"], status["exit"], status["opened"]["exit"]) == (
                "closed",
                "open",
                1,
            )
            assert main(["turnstile", "status", "--status-socket", str(path)]) == 0
            assert capsys.readouterr().out.startswith("entry=closed exit=open beams=... ")
            assert main(["turnstile", "status", "--status-socket", str(path), "--json"]) == 0
            assert json.loads(capsys.readouterr().out)["plugged"] is True
        finally:
            turnstile.close()
    assert not path.exists()  # the socket goes with the emulator


def test_a_missing_or_wrong_socket_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match=r"status socket .*gone\.sock: No such file"):
        read_status_socket(tmp_path / "gone.sock")
    plain = tmp_path / "plain"
    plain.write_text("not a socket")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        StatusSocket(plain, dict)
    assert plain.read_text() == "not a socket"  # never removed
