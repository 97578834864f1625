"""``egate kiosk install --config F``: a systemd unit for one kiosk lane, and its folders.

The unit runs ``egate run --config F --log-format json`` as a dedicated user
(``Type=notify``: ready when the lane is in service; ``WatchdogSec``: the lane pings from its
idle loop and its events, see ``gate.lane.sdnotify``), restarts it on failure, and confines
it: the file system read-only but for the audit folder, no new privileges, no home, a
private /tmp, the devices it needs only (serial ports, cameras through the ``dialout`` and
``video`` groups), Unix and IP sockets only (pcscd, the camera's stream, the console).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from gate.config import GateConfig

WATCHDOG_S = 120  # longer than the longest transaction (chip, capture, passage timeouts)
AUDIT_DIR_MODE = 0o750  # the audit log: the lane's user writes, its group reads


def audit_folder(config_path: Path, config: GateConfig) -> Path:
    """The audit log's folder as an absolute path: a relative ``audit.path`` (the default
    ``audit.db``) lies beside the config file, never in the installer's current folder."""
    path = config.audit.path
    return (path if path.is_absolute() else config_path.resolve().parent / path).parent


def unit_text(config_path: Path, config: GateConfig, user: str, python: str) -> str:
    """The unit file's text for the lane of ``config``."""
    command = [python, "-m", "gate", "run", "--config", str(config_path), "--log-format", "json"]
    audit_dir = audit_folder(config_path, config)
    return f"""[Unit]
Description=egate kiosk lane {config.lane.name}
Documentation=file://{config_path}
After=network-online.target pcscd.socket
Wants=network-online.target pcscd.socket

[Service]
Type=notify
NotifyAccess=main
ExecStart={shlex.join(command)}
User={user}
Group={user}
SupplementaryGroups=dialout video
Restart=on-failure
RestartSec=2
WatchdogSec={WATCHDOG_S}
TimeoutStopSec=10
KillSignal=SIGTERM
Environment=PYTHONUNBUFFERED=1 OPENCV_LOG_LEVEL=ERROR OPENCV_FFMPEG_LOGLEVEL=-8
UMask=0027
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={audit_dir}
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
"""


def install(config_path: Path, config: GateConfig, unit_dir: Path, user: str) -> Path:
    """Write the unit into ``unit_dir`` and make the audit folder (mode 0750); returns
    the unit's path. Owners are left to the installer (``chown``), who knows the user."""
    audit_dir = audit_folder(config_path, config)
    audit_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(audit_dir, AUDIT_DIR_MODE)
    unit_dir.mkdir(parents=True, exist_ok=True)
    unit = unit_dir / f"egate-{_unit_name(config.lane.name)}.service"
    unit.write_text(unit_text(config_path.resolve(), config, user, sys.executable))
    os.chmod(unit, 0o644)
    return unit


def _unit_name(lane: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in lane) or "lane"
