"""The emulated lane's status on a Unix socket, readable while a lane holds the device port.

A serial port has one host: while ``egate run`` drives the emulator, ``egate turnstile
status --device ...`` cannot open the port (and a second gatectl host would lock the doors
when it connects). ``egate emulate turnstile --status-socket PATH`` therefore also serves
the world as the emulator sees it: each client that connects gets one JSON line (door
states, beams, the emergency input, how often each door opened, whether the device is
plugged in) and the connection is closed. Nothing is read from the client; nothing it
sends can move a door. ``egate turnstile status --status-socket PATH`` reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

from gate.errors import ConfigError, DeviceError
from gate.turnstile import Door

MAX_STATUS_BYTES = 4096


def world_status(device: Any) -> dict[str, Any]:
    """The emulated lane now (``device``: an ``EmulatorBase``)."""
    with device.locked() as lane:
        return {
            "entry": lane.door_state(Door.ENTRY).value,
            "exit": lane.door_state(Door.EXIT).value,
            "beams": list(lane.beams),
            "emergency": bool(lane.emergency),
            "opened": {door.value: lane.opened_count[door] for door in Door},
            "plugged": bool(device.link.plugged),
        }


class StatusSocket:
    """Serve ``status()`` (a JSON-able dict) to every client of a Unix socket at ``path``."""

    def __init__(self, path: Path, status: Any) -> None:
        self.path = path
        self._status = status
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise ConfigError(f"--status-socket: {path} exists and is not a socket")
            path.unlink()  # a socket left by an emulator that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(str(path))
        except OSError as exc:
            self._server.close()
            raise ConfigError(f"--status-socket: cannot listen on {path}: {exc.strerror}") from exc
        os.chmod(path, 0o600)
        self._server.listen(8)
        self._thread = threading.Thread(target=self._serve, name="status-socket", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # closed
                return
            with client, contextlib.suppress(OSError):
                client.settimeout(1.0)
                client.sendall(json.dumps(self._status()).encode("ascii") + b"\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(2.0)
        with contextlib.suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> StatusSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_status_socket(path: Path, timeout: float = 2.0) -> dict[str, Any]:
    """The status an emulator serves at ``path``; ``DeviceError`` naming the socket when it
    is not there or does not answer with one JSON object."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        data = b""
        try:
            client.connect(str(path))
            while b"\n" not in data and len(data) < MAX_STATUS_BYTES:
                chunk = client.recv(MAX_STATUS_BYTES)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise DeviceError(f"turnstile emulator status socket {path}: {why}") from exc
    try:
        status = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DeviceError(f"turnstile emulator status socket {path}: not a status") from exc
    if not isinstance(status, dict):
        raise DeviceError(f"turnstile emulator status socket {path}: not a status")
    return status
