"""Chip readers chosen by one address string, looked up in ``BACKENDS``.

* ``pcsc`` (or ``pcsc:``): the first PC/SC reader;
* ``pcsc:READER NAME``: the PC/SC reader with that name (or a part of it);
* ``emulator:FOLDER``: the virtual passport in a passport folder (``egate passport issue``),
  in process, without PC/SC.

``open_reader(address)`` returns a connector: each call gives a new transport to the card
on the reader at that moment (PC/SC: the transport waits for a card when it connects;
emulator: the passport is loaded from its folder again, a freshly powered chip). As in
python-can, ``BACKENDS`` names what builds each transport as a ``"module:callable"`` string
imported only when an address asks for it: importing this module imports neither pyscard
nor the emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drivers.backends import resolve
from gate.errors import ConfigError
from gate.interfaces import ChipTransport

Connector = Callable[[], ChipTransport]

# Each callable takes the address's argument (the part after the scheme) and returns a
# transport, not yet connected.
BACKENDS: Mapping[str, str] = {
    "pcsc": "drivers.chip.pcsc:PcscTransport",
    "emulator": "drivers.chip.inprocess:InProcessTransport.from_passport_folder",
}
# The argument of a scheme given without one; the other schemes need one.
DEFAULT_ARGUMENTS: Mapping[str, str | int] = {"pcsc": 0}  # PcscTransport(0): the first reader


def parse_address(address: str) -> tuple[str, str | int]:
    """Split an address into (scheme, argument); the one place reader addresses are parsed."""
    scheme, _, argument = address.partition(":")
    if scheme not in BACKENDS:
        raise ConfigError(
            f"chip reader address {address!r} must start with one of "
            f"{', '.join(s + ':' for s in BACKENDS)}"
        )
    if argument:
        return scheme, argument
    if scheme not in DEFAULT_ARGUMENTS:
        raise ConfigError(f"chip reader address {address!r} names nothing after '{scheme}:'")
    return scheme, DEFAULT_ARGUMENTS[scheme]


def backend(scheme: str) -> Callable[[Any], ChipTransport]:
    """What builds the transports of ``scheme``, imported now."""
    build: Callable[[Any], ChipTransport] = resolve("chip reader", BACKENDS, scheme)
    return build


def open_reader(address: str) -> Connector:
    """A connector to the reader at ``address``: each call returns a new transport.

    Raises ConfigError for an address this registry does not know. One transport is built
    now and dropped, so that what cannot work fails here (pyscard missing, a passport folder
    that does not load); the device itself is only reached when a transport connects.
    """
    scheme, argument = parse_address(address)
    build = backend(scheme)
    build(argument)

    def connect() -> ChipTransport:
        return build(argument)

    return connect
