"""Turnstile drivers chosen by one address string, looked up in ``BACKENDS``.

``SCHEME:SERIAL_URL[?OPTIONS]``: SCHEME is a key of ``BACKENDS`` (the protocol), SERIAL_URL
is anything ``serial.serial_for_url`` accepts (``/dev/ttyUSB0``, ``socket://127.0.0.1:5020``,
``loop://``, ``spy:///dev/ttyUSB0``) and goes to pyserial as it is, and OPTIONS are
``key=value`` pairs joined by ``&``. The options of the scheme's ``WIRING`` are taken out;
the rest stay on the URL for pyserial. See docs/turnstile.md for every option.

    gatectl:/dev/ttyUSB0?heartbeat=0.25&watchdog=1
    modbus:socket://127.0.0.1:5020?unit=1&exit_coil=3&poll=0.02
    lcus:/dev/ttyUSB1?hold=5&exit_channel=2

As in python-can, ``BACKENDS`` names each driver as a ``"module:Class"`` string imported only
when an address asks for it, so importing this module imports no driver (nor pyserial or
pymodbus).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from drivers.backends import import_target, resolve
from gate.errors import ConfigError
from gate.turnstile import Turnstile

BACKENDS: Mapping[str, str] = {
    "gatectl": "drivers.turnstile.gatectl_driver:GatectlTurnstile",
    "modbus": "drivers.turnstile.modbus_driver:ModbusTurnstile",
    "lcus": "drivers.turnstile.lcus_driver:LcusTurnstile",
}


@dataclass(frozen=True)
class Option:
    """One ``key=value`` of an address: the driver keyword it sets and its value's type."""

    keyword: str
    kind: type[int] | type[float] | type[str]


@dataclass(frozen=True)
class Wiring:
    """A scheme's serial line defaults and the address options its driver understands.

    Options whose keyword is a key of ``composite`` are collected as text and handed to the
    ``"module:callable"`` it names; what that returns becomes the keyword's value (the Modbus
    I/O map is built from seven options). Options not given keep the driver's defaults.
    """

    baud: int
    read_timeout: float  # how long one port read may block the driver's service thread
    options: Mapping[str, Option]
    composite: Mapping[str, str] = field(default_factory=dict)


# Options every scheme takes; ``baud`` sets the port's speed and is not a driver keyword.
COMMON_OPTIONS: Mapping[str, Option] = {
    "baud": Option("baud", int),
    "backoff": Option("backoff", float),
}
# ModbusMap's fields (drivers.turnstile.modbus), named here so that parsing imports nothing.
_MODBUS_MAP_OPTIONS = (
    "unit",
    "entry_coil",
    "exit_coil",
    "entry_closed_input",
    "exit_closed_input",
    "beam_inputs",
    "emergency_input",
)
WIRING: Mapping[str, Wiring] = {
    "gatectl": Wiring(
        baud=115200,
        read_timeout=0.05,
        options={
            "heartbeat": Option("heartbeat", float),
            "watchdog": Option("watchdog", float),
            "ack": Option("ack_timeout", float),
            "retries": Option("retries", int),
        },
    ),
    "modbus": Wiring(
        baud=19200,
        read_timeout=0.01,
        options={
            "poll": Option("poll", float),
            "jam": Option("jam_timeout", float),
            "reply": Option("reply_timeout", float),
            "retries": Option("retries", int),
            **{name: Option("mapping", str) for name in _MODBUS_MAP_OPTIONS},
        },
        composite={"mapping": "drivers.turnstile.modbus:ModbusMap.from_options"},
    ),
    "lcus": Wiring(
        baud=9600,
        read_timeout=0.0,  # never blocks: the board sends nothing
        options={
            "hold": Option("hold", float),
            "travel": Option("travel", float),
            "entry_channel": Option("entry_channel", int),
            "exit_channel": Option("exit_channel", int),
        },
    ),
}


def parse_address(address: str) -> tuple[str, str, dict[str, str]]:
    """Split an address into (scheme, pyserial URL, our options as text).

    The one place turnstile addresses are parsed; raises ConfigError naming the address.
    """
    scheme, sep, rest = address.partition(":")
    if not sep or scheme not in BACKENDS:
        raise ConfigError(
            f"turnstile address {address!r} must start with one of "
            f"{', '.join(s + ':' for s in BACKENDS)}"
        )
    if not rest:
        raise ConfigError(f"turnstile address {address!r} names no serial port")
    url, _, query = rest.partition("?")
    known = {**COMMON_OPTIONS, **WIRING[scheme].options}
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in known:
            ours[key] = value
        else:
            theirs.append((key, value))
    for key, value in ours.items():
        kind = known[key].kind
        try:
            kind(value)
        except ValueError as exc:
            raise ConfigError(
                f"turnstile address option {key}={value!r} is not a {kind.__name__}"
            ) from exc
    if theirs:
        url = f"{url}?{urlencode(theirs)}"
    return scheme, url, ours


def backend(scheme: str) -> Callable[..., Turnstile]:
    """The driver class of ``scheme``, imported now."""
    driver: Callable[..., Turnstile] = resolve("turnstile", BACKENDS, scheme)
    return driver


def open_turnstile(address: str, connect_timeout: float = 2.0) -> Turnstile:
    """Open the turnstile at ``address``; raises ConfigError for a bad address and
    DeviceGoneError / DeviceTimeoutError when the device cannot be reached."""
    scheme, url, options = parse_address(address)
    driver = backend(scheme)
    wiring = WIRING[scheme]
    kwargs: dict[str, Any] = {}
    parts: dict[str, dict[str, str]] = {keyword: {} for keyword in wiring.composite}
    for key, text in options.items():
        if key == "baud":
            continue
        option = COMMON_OPTIONS.get(key) or wiring.options[key]
        if option.keyword in parts:
            parts[option.keyword][key] = text
        else:
            kwargs[option.keyword] = option.kind(text)
    for keyword, target in wiring.composite.items():
        kwargs[keyword] = import_target("turnstile", target)(parts[keyword])
    from drivers.turnstile.link import serial_factory

    baud = int(options.get("baud", wiring.baud))
    port = serial_factory(url, baud, timeout=wiring.read_timeout)
    return driver(port, url=url, connect_timeout=connect_timeout, **kwargs)
