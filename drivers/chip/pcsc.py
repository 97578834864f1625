"""ChipTransport over PC/SC (pyscard's ``smartcard.scard`` layer): real readers and vpcd.

The low-level API is used on purpose: one SCardTransmit per APDU without pyscard's observer
machinery, and SCardGetStatusChange to wait for a card without polling.
"""

from __future__ import annotations

import time
from typing import Any

from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError, ProtocolError

_REMOVED = {0x80100069, 0x80100068, 0x8010000C, 0x80100017}  # removed, reset, no card, unavailable
_NO_DAEMON = {0x8010001D, 0x8010001E}  # no service, service stopped: pcscd is gone


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as exc:
        raise DeviceError("pyscard is not installed (pip install 'egate[pcsc]')") from exc
    return scard


class PcscTransport:
    """``ChipTransport`` on a PC/SC reader chosen by (part of) its name or its index."""

    def __init__(self, reader: str | int = 0, *, timeout: float = 5.0) -> None:
        self.reader_spec = reader
        self.timeout = timeout
        self.reader: str | None = None
        self._scard = _scard()
        self._context: Any = None
        self._card: Any = None
        self._protocol: Any = None

    def _fail(self, what: str, code: int) -> DeviceError:
        where = self.reader or self.reader_spec
        text = self._scard.SCardGetErrorMessage(code)
        message = f"PC/SC {what} on {where}: {text} ({code & 0xFFFFFFFF:#010x})"
        if code & 0xFFFFFFFF in _NO_DAEMON:
            return DeviceError(f"{message}: pcscd stopped")
        if code & 0xFFFFFFFF in _REMOVED:
            return DeviceGoneError(message)
        return DeviceError(message)

    def _pick_reader(self) -> str:
        s = self._scard
        result, readers = s.SCardListReaders(self._context, [])
        if result != s.SCARD_S_SUCCESS or not readers:
            raise DeviceError(
                f"PC/SC: no readers (is pcscd running?): {s.SCardGetErrorMessage(result)}"
            )
        if isinstance(self.reader_spec, int):
            if not 0 <= self.reader_spec < len(readers):
                raise DeviceError(f"PC/SC: no reader #{self.reader_spec}; readers: {readers}")
            return str(readers[self.reader_spec])
        for name in readers:
            if name == self.reader_spec or self.reader_spec in name:
                return str(name)
        raise DeviceError(f"PC/SC: no reader named {self.reader_spec!r}; readers: {readers}")

    def _wait_for_card(self) -> None:
        s = self._scard
        deadline = time.monotonic() + self.timeout
        state = s.SCARD_STATE_UNAWARE
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeoutError(f"PC/SC: no card on {self.reader} within {self.timeout} s")
            result, states = s.SCardGetStatusChange(
                self._context, int(remaining * 1000), [(self.reader, state)]
            )
            if result == s.SCARD_E_TIMEOUT:
                continue
            if result != s.SCARD_S_SUCCESS:
                raise self._fail("waiting for a card", result)
            _, event, _ = states[0]
            if event & s.SCARD_STATE_PRESENT and not event & s.SCARD_STATE_MUTE:
                return
            state = event & ~s.SCARD_STATE_CHANGED

    def connect(self) -> bytes:
        s = self._scard
        self.close()
        result, self._context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if result != s.SCARD_S_SUCCESS:
            raise DeviceError(f"PC/SC: no daemon (pcscd): {s.SCardGetErrorMessage(result)}")
        try:
            self.reader = self._pick_reader()
            self._wait_for_card()
            result, self._card, self._protocol = s.SCardConnect(
                self._context,
                self.reader,
                s.SCARD_SHARE_SHARED,
                s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1,
            )
            if result != s.SCARD_S_SUCCESS:
                raise self._fail("connect", result)
            result, _, _, _, atr = s.SCardStatus(self._card)
            if result != s.SCARD_S_SUCCESS:
                raise self._fail("status", result)
            return bytes(atr)
        except BaseException:
            self.close()
            raise

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            # vpcd frames a 1-byte message as power off/on/reset: it would never be answered.
            raise ProtocolError(
                f"PC/SC: an APDU of {len(apdu)} byte(s) is not a command (CLA INS P1 P2 at least)"
            )
        if self._card is None:
            raise DeviceError("PC/SC: transmit before connect")
        s = self._scard
        result, response = s.SCardTransmit(self._card, self._protocol, list(apdu))
        if result != s.SCARD_S_SUCCESS:
            # A dead daemon is not a removed card: say which, so the referral names it.
            if result & 0xFFFFFFFF not in _NO_DAEMON and self._card_left():
                raise DeviceGoneError(f"PC/SC: card removed from {self.reader}")
            raise self._fail("transmit", result)
        if len(response) < 2 and self._card_left():
            # vpcd answers an empty response when the card's link dropped mid-APDU.
            raise DeviceGoneError(f"PC/SC: card removed from {self.reader}")
        return bytes(response)

    def _card_left(self, timeout: float = 1.5) -> bool:
        """After a failed exchange: did the card leave the field? (pcscd notices late)."""
        s = self._scard
        deadline = time.monotonic() + timeout
        state = s.SCARD_STATE_UNAWARE
        while (remaining := deadline - time.monotonic()) > 0:
            result, states = s.SCardGetStatusChange(
                self._context, int(remaining * 1000) + 1, [(self.reader, state)]
            )
            if result != s.SCARD_S_SUCCESS:
                return bool(result != s.SCARD_E_TIMEOUT)
            event = states[0][1]
            if event & s.SCARD_STATE_EMPTY or event & s.SCARD_STATE_UNAVAILABLE:
                return True
            state = event & ~s.SCARD_STATE_CHANGED
        return False

    def close(self) -> None:
        s = self._scard
        if self._card is not None:
            s.SCardDisconnect(self._card, s.SCARD_LEAVE_CARD)
            self._card = None
        if self._context is not None:
            s.SCardReleaseContext(self._context)
            self._context = None

    def __enter__(self) -> PcscTransport:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
