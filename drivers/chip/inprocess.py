"""A ChipTransport that calls a card object directly: no PC/SC (unit tests, emulator: readers)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gate.errors import DeviceError
from gate.icao.transport import ChipTransportBase


class Card(Protocol):
    def reset(self) -> bytes: ...

    def transmit(self, command: bytes) -> bytes: ...


class InProcessTransport(ChipTransportBase):
    """``ChipTransport`` over an in-memory card such as ``VirtualPassport``."""

    def __init__(self, card: Card) -> None:
        super().__init__()
        self._card = card
        self._connected = False

    @classmethod
    def from_passport_folder(cls, folder: str | Path) -> InProcessTransport:
        """A transport to the virtual passport in ``folder``, loaded now: a fresh chip, as
        if the passport were laid on the reader again (``emulator:FOLDER`` addresses)."""
        # Imported here: the transport itself works with any card, without the emulator.
        from drivers.chip.passport_folder import load_passport_folder

        return cls(load_passport_folder(Path(folder)))

    def _connect(self) -> bytes:
        self._connected = True
        return self._card.reset()

    def _transmit(self, apdu: bytes) -> bytes:
        if not self._connected:
            raise DeviceError("in-process chip transport: transmit before connect")
        return self._card.transmit(apdu)

    def _close(self) -> None:
        self._connected = False


class PassportFolderReader:
    """What an ``emulator:FOLDER`` address opens: each call lays the virtual passport of
    ``FOLDER`` on the reader again (a freshly powered chip). The folder is loaded once now,
    so a folder that does not load fails when the reader is opened."""

    def __init__(self, folder: str | Path, *, timeout: float = 5.0) -> None:
        self.folder = Path(folder)
        self.timeout = timeout  # a card is always there: nothing to wait for
        InProcessTransport.from_passport_folder(self.folder)

    def __call__(self) -> InProcessTransport:
        return InProcessTransport.from_passport_folder(self.folder)

    def close(self) -> None:
        """Nothing is held between calls."""
