"""What the CLI's hostile-input tests stub so that nothing starts and no model loads: every
service a command line could reach once its arguments pass (one list, for a service added
later to be stubbed in every such test), the devices, and the face engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gate.errors import DeviceError

SERVICES = (
    "gate.simulate.runner.run_scenario",
    "gate.simulate.runner.Simulation",
    "gate.console.server.ConsoleServer",
    "gate.screen.server.ScreenServer",
    "gate.lane.build_lane",
    "drivers.camera.mjpeg_server.MjpegServer",
    "drivers.turnstile.emulator.start_emulator",
    "drivers.chip.vpcd.VpcdCardLink",
    "drivers.chip.pcscd.ensure_pcscd",
    "bench.throughput.run_throughput",
    "bench.pad.run_pad",
    "models.pack.prepare_pack",
)
DEVICES = ("drivers.chip.pcsc.PcscTransport", "drivers.turnstile.registry.open_turnstile")


class ServiceReached(AssertionError):
    """A command line got past its checks into a service (named in the message)."""


def stub_services(
    monkeypatch: pytest.MonkeyPatch, engine: object, devices: tuple[str, ...] = DEVICES
) -> None:
    """Each of ``SERVICES`` not in ``devices`` raises ``ServiceReached``; each of ``devices``
    raises ``DeviceError`` (no device here); ``load_engine`` returns ``engine``."""

    def service(name: str) -> Callable[..., Any]:
        def reached(*args: Any, **kwargs: Any) -> Any:
            raise ServiceReached(f"{name} would have started")

        return reached

    def no_device(*args: Any, **kwargs: Any) -> Any:
        raise DeviceError("no device in this test")

    monkeypatch.setattr("models.engine.load_engine", lambda *a, **k: engine)
    for target in SERVICES:
        if target not in devices:
            monkeypatch.setattr(target, service(target))
    for target in devices:
        monkeypatch.setattr(target, no_device)
