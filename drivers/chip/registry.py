"""Chip readers chosen by one address string, looked up in ``BACKENDS``.

* ``pcsc`` (or ``pcsc:``): whichever PC/SC reader holds a card (the first to, if several);
* ``pcsc:READER NAME``: the PC/SC reader with that name (or a part of it); ``pcsc:1``
  (digits): the reader at that index in pcscd's list;
* ``emulator:FOLDER``: the virtual passport in a passport folder (``egate passport issue``),
  in process, without PC/SC.

``open_reader(address)`` returns a connector: each call gives a new transport to the card
on the reader at that moment (PC/SC: the transport waits for a card when it connects, on
the one PC/SC context the connector holds; emulator: the passport is loaded from its folder
again, a freshly powered chip); ``close`` releases what the connector holds. Every
transport keeps ``gate.icao.transport.ChipTransportBase``'s contract (APDU counting,
observers). As in python-can, ``BACKENDS`` names what builds each connector as a
``"module:callable"`` string imported only when an address asks for it: importing this
module imports neither pyscard nor the emulator.

``egate run`` (the kiosk config's ``reader.address``) and ``egate chip read --reader`` take
the same addresses through ``open_reader``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from drivers.backends import resolve
from gate.errors import ConfigError
from gate.interfaces import ChipTransport


class Connector(Protocol):
    """A reader: each call returns a new transport (not yet connected) to its card."""

    def __call__(self) -> ChipTransport: ...

    def close(self) -> None:
        """Release what the reader holds (the PC/SC context)."""
        ...


# Each callable takes the address's argument (the part after the scheme) and ``timeout``
# (how long a transport waits for a card when it connects) and returns a connector.
BACKENDS: Mapping[str, str] = {
    "pcsc": "drivers.chip.pcsc:PcscReader",
    "emulator": "drivers.chip.inprocess:PassportFolderReader",
}
# The argument of a scheme given without one; the other schemes need one.
DEFAULT_ARGUMENTS: Mapping[str, str | int] = {"pcsc": "*"}  # any reader that holds a card
DEFAULT_TIMEOUT = 5.0


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


def backend(scheme: str) -> Callable[..., Connector]:
    """What builds the connectors of ``scheme``, imported now."""
    build: Callable[..., Connector] = resolve("chip reader", BACKENDS, scheme)
    return build


def open_reader(address: str, *, timeout: float = DEFAULT_TIMEOUT) -> Connector:
    """A connector to the reader at ``address``: each call returns a new transport.

    Raises ConfigError for an address this registry does not know. What cannot work fails
    here (pyscard missing, a passport folder that does not load); the device itself is only
    reached when a transport connects. The caller closes the connector.
    """
    scheme, argument = parse_address(address)
    connector: Connector = backend(scheme)(argument, timeout=timeout)
    return connector
