"""``egate kiosk install`` (issue 25): the systemd unit it writes (a dedicated user,
Restart=on-failure, Type=notify with a watchdog, hardening), the audit folder's mode,
``systemd-analyze verify`` clean; and the notify protocol the lane speaks to systemd."""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from gate.cli import main
from gate.lane.sdnotify import Heartbeat, sd_notify


def _install(tmp_path: Path) -> tuple[Path, str]:
    config = tmp_path / "kiosk.toml"
    config.write_text('[lane]\nname = "north 2"\n[audit]\npath = "var/audit/audit.db"\n')
    assert main(["kiosk", "install", "--config", str(config), "--unit-dir",
                 str(tmp_path / "units"), "--user", "egate-lane"]) == 0  # fmt: skip
    unit = tmp_path / "units" / "egate-north-2.service"
    return unit, unit.read_text()


def test_the_unit_runs_the_lane_as_a_confined_notifying_service(tmp_path: Path) -> None:
    unit, text = _install(tmp_path)
    lines = set(text.splitlines())
    for line in (
        "Type=notify",
        "User=egate-lane",
        "Restart=on-failure",
        "WatchdogSec=120",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        f"ReadWritePaths={tmp_path / 'var' / 'audit'}",
        "CapabilityBoundingSet=",
    ):
        assert line in lines, line
    (start,) = [line for line in lines if line.startswith("ExecStart=")]
    assert f"-m gate run --config {tmp_path / 'kiosk.toml'} --log-format json" in start
    assert stat.S_IMODE((tmp_path / "var" / "audit").stat().st_mode) == 0o750
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit, _ = _install(tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert unit.name not in done.stderr, done.stderr  # no warning about this unit


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_sends_one_datagram_per_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, abstract: bool
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        if abstract:
            name = f"egate-test-{id(systemd)}"
            systemd.bind("\0" + name)
            monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        else:
            systemd.bind(str(tmp_path / "notify"))
            monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        systemd.settimeout(5)
        assert sd_notify("READY=1\nSTATUS=lane in service")
        assert systemd.recv(4096) == b"READY=1\nSTATUS=lane in service"
        beat = Heartbeat(every_s=3600.0)
        beat()
        beat()  # within the second: not sent again
        assert sd_notify("STOPPING=1")
        assert systemd.recv(4096) == b"WATCHDOG=1"
        assert systemd.recv(4096) == b"STOPPING=1"


def test_outside_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sd_notify("READY=1") is False


def test_a_relative_audit_path_is_beside_the_config_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.cli.kiosk_unit import audit_folder
    from gate.config import load_config

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config_path = tmp_path / "kiosk" / "lane.toml"
    config_path.parent.mkdir()
    config_path.write_text("")
    folder = audit_folder(config_path, load_config(config_path))
    assert folder.is_absolute() and folder == config_path.parent.resolve()
