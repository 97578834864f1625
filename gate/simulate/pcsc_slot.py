"""The card slot through the real PC/SC stack: pyscard -> pcscd -> vpcd -> virtual card.

The virtual passport connects to vpcd's TCP port like a contactless card entering the
field; the gate's reader code talks to it through pcscd exactly as to a real reader.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gate.errors import DeviceError
from gate.interfaces import ChipTransport

log = logging.getLogger(__name__)


class PcscSlot:
    def __init__(self, reader: str | None = None, settle_s: float = 5.0) -> None:
        from drivers.chip.pcscd import ensure_pcscd  # type: ignore[import-not-found,unused-ignore]

        self._daemon = ensure_pcscd()
        self._reader = reader
        self._settle_s = settle_s
        self._link: Any = None
        self._transport: ChipTransport | None = None

    def insert(self, card: Any) -> ChipTransport:
        from drivers.chip.pcsc import PcscTransport  # type: ignore[import-not-found,unused-ignore]
        from drivers.chip.vpcd import VpcdCardLink  # type: ignore[import-not-found,unused-ignore]

        self.remove()
        self._link = VpcdCardLink(card)
        transport: ChipTransport = PcscTransport(self._reader)
        self._transport = transport
        return transport

    def remove(self) -> None:
        if self._transport is not None:
            try:
                self._transport.close()
            except Exception:
                log.debug("closing the PC/SC transport failed", exc_info=True)
            self._transport = None
        if self._link is not None:
            self._link.close()
            self._link = None
            time.sleep(0.01)

    def close(self) -> None:
        self.remove()
        stop = getattr(self._daemon, "stop", None)
        if callable(stop):
            try:
                stop()
            except Exception as exc:
                raise DeviceError(f"stopping pcscd failed: {exc}") from exc
