"""A ChipTransport that calls a card object directly: no PC/SC, for fast unit tests."""

from __future__ import annotations

from typing import Protocol

from gate.errors import DeviceError


class Card(Protocol):
    def reset(self) -> bytes: ...

    def transmit(self, command: bytes) -> bytes: ...


class InProcessTransport:
    """``ChipTransport`` over an in-memory card such as ``VirtualPassport``."""

    def __init__(self, card: Card) -> None:
        self._card = card
        self._connected = False
        self.apdus = 0

    def connect(self) -> bytes:
        self._connected = True
        return self._card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        if not self._connected:
            raise DeviceError("in-process chip transport: transmit before connect")
        self.apdus += 1
        return self._card.transmit(apdu)

    def close(self) -> None:
        self._connected = False

    def __enter__(self) -> InProcessTransport:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
