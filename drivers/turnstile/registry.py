"""Turnstile drivers chosen by one address string.

``PROTOCOL:SERIAL_URL[?OPTIONS]`` where SERIAL_URL is anything ``serial.serial_for_url``
accepts (``/dev/ttyUSB0``, ``socket://127.0.0.1:5020``, ``loop://``, ``spy:///dev/ttyUSB0``)
and OPTIONS are ``key=value`` pairs joined by ``&``. Options this module knows are taken out;
the rest stay on the URL for pyserial. See docs/turnstile.md for every option.

    gatectl:/dev/ttyUSB0?heartbeat=0.25&watchdog=1
    modbus:socket://127.0.0.1:5020?unit=1&exit_coil=3&poll=0.02
    lcus:/dev/ttyUSB1?hold=5&exit_channel=2
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from gate.errors import ConfigError
from gate.turnstile import Turnstile

PROTOCOLS = ("gatectl", "modbus", "lcus")
_COMMON = {"baud": int, "backoff": float}
_OPTIONS: dict[str, dict[str, type]] = {
    "gatectl": {"heartbeat": float, "watchdog": float, "ack": float, "retries": int},
    "modbus": {
        "poll": float,
        "jam": float,
        "reply": float,
        "retries": int,
        "unit": str,
        "entry_coil": str,
        "exit_coil": str,
        "entry_closed_input": str,
        "exit_closed_input": str,
        "beam_inputs": str,
        "emergency_input": str,
    },
    "lcus": {"hold": float, "entry_channel": int, "exit_channel": int},
}
_DEFAULT_BAUD = {"gatectl": 115200, "modbus": 19200, "lcus": 9600}


def parse_address(address: str) -> tuple[str, str, dict[str, str]]:
    """Split an address into (protocol, pyserial URL, our options)."""
    protocol, sep, rest = address.partition(":")
    if not sep or protocol not in PROTOCOLS:
        raise ConfigError(
            f"turnstile address {address!r} must start with one of "
            f"{', '.join(p + ':' for p in PROTOCOLS)}"
        )
    if not rest:
        raise ConfigError(f"turnstile address {address!r} names no serial port")
    url, _, query = rest.partition("?")
    known = {**_COMMON, **_OPTIONS[protocol]}
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in known:
            ours[key] = value
        else:
            theirs.append((key, value))
    for key, value in ours.items():
        kind = known[key]
        if kind is not str:
            try:
                kind(value)
            except ValueError as exc:
                raise ConfigError(
                    f"turnstile address option {key}={value!r} is not a {kind.__name__}"
                ) from exc
    if theirs:
        url = f"{url}?{urlencode(theirs)}"
    return protocol, url, ours


def open_turnstile(address: str, connect_timeout: float = 2.0) -> Turnstile:
    """Open the turnstile at ``address``; raises ConfigError for a bad address and
    DeviceGoneError / DeviceTimeoutError when the device cannot be reached."""
    from drivers.turnstile.link import serial_factory

    protocol, url, opts = parse_address(address)
    baud = int(opts.pop("baud", _DEFAULT_BAUD[protocol]))
    backoff = float(opts.pop("backoff", 0.05))
    if protocol == "gatectl":
        from drivers.turnstile.gatectl_driver import GatectlTurnstile

        return GatectlTurnstile(
            serial_factory(url, baud),
            url=url,
            heartbeat=float(opts.get("heartbeat", 0.25)),
            watchdog=float(opts.get("watchdog", 1.0)),
            ack_timeout=float(opts.get("ack", 0.2)),
            retries=int(opts.get("retries", 3)),
            backoff=backoff,
            connect_timeout=connect_timeout,
        )
    if protocol == "modbus":
        from drivers.turnstile.modbus import ModbusMap
        from drivers.turnstile.modbus_driver import ModbusTurnstile

        timing = {k: opts.pop(k) for k in ("poll", "jam", "reply", "retries") if k in opts}
        return ModbusTurnstile(
            serial_factory(url, baud, timeout=0.01),
            url=url,
            mapping=ModbusMap.from_options(opts),
            poll=float(timing.get("poll", 0.02)),
            jam_timeout=float(timing.get("jam", 2.0)),
            reply_timeout=float(timing.get("reply", 0.1)),
            retries=int(timing.get("retries", 3)),
            backoff=backoff,
            connect_timeout=connect_timeout,
        )
    from drivers.turnstile.lcus_driver import LcusTurnstile

    return LcusTurnstile(
        serial_factory(url, baud, timeout=0.0),  # never blocks: the board sends nothing
        url=url,
        hold=float(opts.get("hold", 5.0)),
        entry_channel=int(opts.get("entry_channel", 1)),
        exit_channel=int(opts.get("exit_channel", 2)),
        backoff=backoff,
        connect_timeout=connect_timeout,
    )
