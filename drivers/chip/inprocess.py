"""A ChipTransport that calls a card object directly: no PC/SC (unit tests, emulator: readers)."""

from __future__ import annotations

from pathlib import Path
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

    @classmethod
    def from_passport_folder(cls, folder: str | Path) -> InProcessTransport:
        """A transport to the virtual passport in ``folder``, loaded now: a fresh chip, as
        if the passport were laid on the reader again (``emulator:FOLDER`` addresses)."""
        # Imported here: the transport itself works with any card, without the emulator.
        from drivers.chip.passport_folder import load_passport_folder

        return cls(load_passport_folder(Path(folder)))

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
