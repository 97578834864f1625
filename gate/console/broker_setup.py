"""An authenticated Mosquitto for the lanes and consoles: ``egate broker init`` / ``serve``.

``init DIR`` writes, in a new folder (0700):

- ``mosquitto.conf``: one listener, anonymous access off, the password and ACL files below,
  no persistence (nothing a lane sends reaches the disk), TLS when given certificates;
- ``passwords``: one random password per lane and console, hashed by ``mosquitto_passwd -U``
  (the clear passwords never appear on a command line);
- ``acl``: each lane may publish only its own event topics and read only its own command
  topic (and whether a console listens); only consoles publish commands and read the lanes'
  events, photos included;
- ``credentials/NAME.env`` (0600): ``EGATE_BROKER`` and ``EGATE_MQTT_PASSWORD`` for one
  lane or console (``--broker credentials/lane-1.env`` reads it);
- ``credentials/CONSOLE.key`` (0600) and ``trusted-consoles/CONSOLE.pub``: the consoles'
  command-signing keys and the folder the lanes trust (``--trust-console``).

``serve DIR`` runs Mosquitto on that configuration in the foreground.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gate.console.mqtt import CONSOLE_ONLINE
from gate.console.signing import ConsoleKey
from gate.console.wire import KINDS, PREFIX, check_name
from gate.errors import ConfigError, DeviceError
from gate.files import read_regular_file
from gate.json_files import decode_utf8

CONFIG = "mosquitto.conf"


@dataclass(frozen=True)
class BrokerPlan:
    site: str
    lanes: tuple[str, ...]
    consoles: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 1883
    tls: tuple[Path, Path] | None = None  # (certificate chain, private key), PEM

    def __post_init__(self) -> None:
        check_name(self.site, "site")
        names = [check_name(n, "lane or console") for n in (*self.lanes, *self.consoles)]
        if not self.lanes or not self.consoles:
            raise ConfigError("broker init: name at least one lane and one console")
        if len(set(names)) != len(names):
            raise ConfigError("broker init: lane and console names must all differ")
        if not 0 < self.port < 65536:
            raise ConfigError(f"broker init: port {self.port} is not 1-65535")


def acl(plan: BrokerPlan) -> str:
    lines = ["# egate: who may read and write what (egate broker init)"]
    for lane in plan.lanes:
        lines += ["", f"user {lane}"]
        lines += [f"topic write {PREFIX}/{plan.site}/{lane}/{kind}" for kind in sorted(KINDS)]
        lines += [f"topic write {PREFIX}/{plan.site}/{lane}/referral/+"]  # retained, open ones
        lines += [f"topic read {PREFIX}/{plan.site}/{lane}/command", f"topic read {CONSOLE_ONLINE}"]
    for console in plan.consoles:
        lines += ["", f"user {console}"]
        lines += [f"topic read {PREFIX}/{plan.site}/+/{kind}" for kind in sorted(KINDS)]
        lines += [f"topic read {PREFIX}/{plan.site}/+/referral/+"]
        lines += [
            f"topic write {PREFIX}/{plan.site}/+/command",
            f"topic readwrite {CONSOLE_ONLINE}",
        ]
    return "\n".join(lines) + "\n"


def config(plan: BrokerPlan, folder: Path) -> str:
    lines = [
        "# egate: Mosquitto for the lanes and consoles (egate broker init)",
        "per_listener_settings false",
        f"listener {plan.port} {plan.host}",
        "allow_anonymous false",
        f"password_file {folder / 'passwords'}",
        f"acl_file {folder / 'acl'}",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if os.geteuid() == 0:  # else Mosquitto drops to its own user, who cannot read the 0600 files
        lines.append("user root")
    if plan.tls is not None:
        cert, key = plan.tls
        lines += [f"certfile {cert.resolve()}", f"keyfile {key.resolve()}"]
    return "\n".join(lines) + "\n"


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def init(folder: Path, plan: BrokerPlan) -> None:
    """Write the broker's folder (see the module's docstring); refuses an existing one."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise ConfigError("broker init: mosquitto_passwd is not installed (Debian: mosquitto)")
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError as exc:
        raise ConfigError(f"broker init: {folder} exists (never overwritten)") from exc
    except OSError as exc:
        raise ConfigError(f"broker init: cannot make {folder} ({exc.strerror})") from exc
    folder = folder.resolve()
    (folder / "credentials").mkdir(mode=0o700)
    (folder / "trusted-consoles").mkdir()
    scheme = "mqtts" if plan.tls else "mqtt"
    passwords: list[str] = []
    for name in (*plan.lanes, *plan.consoles):
        password = secrets.token_urlsafe(24)
        passwords.append(f"{name}:{password}")
        url = f"{scheme}://{name}@{plan.host}:{plan.port}"
        _private(
            folder / "credentials" / f"{name}.env",
            f"EGATE_BROKER={url}\nEGATE_MQTT_PASSWORD={password}\n",
        )
    for console in plan.consoles:
        key = ConsoleKey.generate()
        public = key.save(folder / "credentials" / f"{console}.key")
        shutil.copyfile(public, folder / "trusted-consoles" / f"{console}.pub")
    _private(folder / "passwords", "\n".join(passwords) + "\n")
    done = subprocess.run([tool, "-U", str(folder / "passwords")], capture_output=True)
    if done.returncode != 0:
        raise DeviceError(f"broker init: mosquitto_passwd failed: {done.stderr.decode()[:200]}")
    (folder / "acl").write_text(acl(plan), encoding="ascii")
    (folder / CONFIG).write_text(config(plan, folder), encoding="ascii")


def serve_command(folder: Path) -> list[str]:
    """The Mosquitto command line for ``folder`` (made by ``init``)."""
    conf = folder / CONFIG
    if not conf.is_file():
        raise ConfigError(f"broker serve: no {CONFIG} in {folder} (egate broker init {folder})")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).is_file():
        raise ConfigError("broker serve: mosquitto is not installed (Debian: mosquitto)")
    return [mosquitto, "-c", str(conf)]


def read_credentials(path: Path) -> tuple[str, str]:
    """``(broker URL, password)`` from a credentials file that ``init`` wrote."""
    raw = read_regular_file(path, "broker credentials", max_bytes=64 * 1024)  # never a FIFO
    text = decode_utf8(raw, f"broker credentials {path}")
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    url, password = values.get("EGATE_BROKER"), values.get("EGATE_MQTT_PASSWORD")
    if not url or not password:
        raise ConfigError(f"broker credentials {path}: needs EGATE_BROKER and EGATE_MQTT_PASSWORD")
    return url, password
