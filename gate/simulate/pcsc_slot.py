"""The card slot through the real PC/SC stack: pyscard -> pcscd -> vpcd -> virtual card.

The virtual passport connects to vpcd's TCP port like a contactless card entering the
field; the gate's reader code talks to it through pcscd exactly as to a real reader.

The slot claims one vpcd port for the whole run (another simulation, or ``egate chip
serve``, takes another vpcd reader, or waits, saying so), so no one can take the port
between two travellers. Before each card it makes sure pcscd is there: a daemon that died
is restarted when this process started it, else waited for (``PcscDaemon.ensure``). A card
that cannot be presented (the daemon died, vpcd refused) leaves a reader that fails to
connect, so the lane refers that traveller (REFER_DEVICE) and the run goes on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gate.errors import DeviceError
from gate.interfaces import ChipTransport

if TYPE_CHECKING:
    from drivers.chip.pcscd import PcscdStatus
    from drivers.chip.vpcd import VpcdCardLink

log = logging.getLogger(__name__)


class UnavailableReader:
    """The reader as the gate finds it when the card could not be presented: it fails."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def connect(self) -> bytes:
        raise DeviceError(f"card reader unavailable: {self.reason}")

    def transmit(self, apdu: bytes) -> bytes:
        raise DeviceError(f"card reader unavailable: {self.reason}")

    def close(self) -> None:
        pass


class PcscSlot:
    """Presents each traveller's card on one vpcd reader held for the slot's lifetime."""

    def __init__(self, *, port_wait_s: float = 120.0) -> None:
        from drivers.chip.pcscd import PcscDaemon
        from drivers.chip.vpcd import claim_vpcd_port

        self.daemon = PcscDaemon()
        self.status: PcscdStatus = self.daemon.start()
        try:
            self.port = claim_vpcd_port(timeout=port_wait_s)
        except BaseException:
            self.daemon.close()
            raise
        self.reader_name = self.port.reader_name
        self._link: VpcdCardLink | None = None
        self._transport: ChipTransport | None = None

    def insert(self, card: Any) -> ChipTransport:
        from drivers.chip.pcsc import PcscTransport
        from drivers.chip.vpcd import VpcdCardLink

        self.remove()
        try:
            self.status = self.daemon.ensure()
            self._link = VpcdCardLink(card, claim=self.port).start()
        except DeviceError as exc:
            log.warning("card not presented on %s: %s", self.reader_name, exc)
            self._transport = UnavailableReader(str(exc))
            return self._transport
        self._transport = PcscTransport(self._link.reader_name)
        return self._transport

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
            try:
                self.port.release()
            finally:
                self.daemon.close()
