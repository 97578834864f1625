"""A private Eclipse Mosquitto for the tests, the way the chip tests start their own pcscd:
a generated config in an owned temporary folder, a free port on 127.0.0.1, no persistence
(nothing a lane sends ever reaches the disk), and a password file when asked for."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from drivers.runtime_dir import owned_temp_dir

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def mosquitto_problem() -> str | None:
    if not Path(MOSQUITTO).is_file():
        return "mosquitto is not installed (make install adds Debian's package)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(
        self, users: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.folder = owned_temp_dir("egate-mqtt-")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        if tls is not None:  # (certificate, key): TLS only on this listener
            cert, key = tls
            lines += [f"cafile {cert}", f"certfile {cert}", f"keyfile {key}"]
        if users:
            passwords = self.folder / "passwords"
            passwords.touch(mode=0o600)
            for name, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwords), name, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n", encoding="ascii")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Broker:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
