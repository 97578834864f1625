"""The card slot through the real PC/SC stack: pyscard -> pcscd -> vpcd -> virtual card.

The virtual passport connects to vpcd's TCP port like a contactless card entering the
field; the gate's reader code talks to it through pcscd exactly as to a real reader. The
link holds vpcd's per-port lock, so simulations and chip tests on one machine take turns.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from gate.interfaces import ChipTransport

log = logging.getLogger(__name__)


class PcscSlot:
    def __init__(self) -> None:
        from drivers.chip.pcscd import ensure_pcscd

        self._stack = contextlib.ExitStack()
        self.status = self._stack.enter_context(ensure_pcscd())
        self._link: Any = None
        self._transport: ChipTransport | None = None

    def insert(self, card: Any) -> ChipTransport:
        from drivers.chip.pcsc import PcscTransport
        from drivers.chip.vpcd import VpcdCardLink

        self.remove()
        self._link = VpcdCardLink(card).start()
        transport: ChipTransport = PcscTransport(self._link.reader_name)
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
            self._link.stop()
            self._link = None

    def close(self) -> None:
        try:
            self.remove()
        finally:
            self._stack.close()
