"""ChipTransport over PC/SC (pyscard's ``smartcard.scard`` layer): real readers and vpcd.

The low-level API is used on purpose: one SCardTransmit per APDU without pyscard's observer
machinery (``ChipTransportBase`` has its own), and SCardGetStatusChange to wait for a card
without polling.

Every PC/SC context is a Unix socket to pcscd, and pcscd serves a bounded number of them
(``pcscd -t``, 200 by default). A lane therefore holds one ``PcscContext`` for its whole
life (``PcscReader``, what ``pcsc`` reader addresses open): every traveller's transport
borrows it, releases its card handle when it closes, and the context is established again
only after pcscd went away. A ``PcscTransport`` built on its own owns a context for the time
it is connected.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError
from gate.icao.transport import ChipTransportBase

log = logging.getLogger(__name__)

_REMOVED = {0x80100069, 0x80100068, 0x8010000C, 0x80100017}  # removed, reset, no card, unavailable
_NO_DAEMON = {0x8010001D, 0x8010001E}  # no service, service stopped: pcscd is gone
_INVALID_HANDLE = 0x80100003  # a context or card handle of a daemon that has gone away
ANY_READER = "*"  # the reader spec of a bare ``pcsc`` address: whichever reader holds a card
_ANY_POLL_MS = 250  # with ANY_READER, readers plugged in meanwhile are seen this often


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as exc:
        raise DeviceError("pyscard is not installed (pip install 'egate[pcsc]')") from exc
    return scard


def _code(result: int) -> int:
    return result & 0xFFFFFFFF


class PcscContext:
    """One PC/SC context (one connection to pcscd), established when first needed and
    again only after ``lost`` said pcscd went away. Not for two threads at once."""

    def __init__(self) -> None:
        self._scard = _scard()
        self._handle: Any = None
        self.established = 0  # how many times a context was established (1 while pcscd lives)

    @property
    def handle(self) -> Any:
        if self._handle is None:
            s = self._scard
            result, handle = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
            if result != s.SCARD_S_SUCCESS:
                raise DeviceError(_refused(s, result))
            self._handle = handle
            self.established += 1
        return self._handle

    def check(self, result: int) -> None:
        """After a failed call: a code that says pcscd is gone drops the context, so the
        next use establishes a new one with the daemon that replaced it."""
        if _code(result) in _NO_DAEMON or _code(result) == _INVALID_HANDLE:
            log.info("PC/SC: pcscd went away (%#010x): the next card opens a new context",
                     _code(result))  # fmt: skip
            self.lost()

    def lost(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._scard.SCardReleaseContext(handle)  # frees the socket; its result is moot

    def release(self) -> None:
        self.lost()


def _refused(s: Any, result: int) -> str:
    """What an SCardEstablishContext failure means. pcscd answers a client beyond its limit
    (``pcscd -t``, 200 by default) with the same codes as when it is not there at all
    ("Service not available", or "Access denied"), so its socket is asked which it is."""
    text = f"{s.SCardGetErrorMessage(result).rstrip('.')}, {_code(result):#010x}"
    if not _daemon_listening():
        return f"PC/SC: pcscd is not running (nobody listens on {_socket_path()}; {text})"
    return (
        f"PC/SC: pcscd is running but refused a new context ({text}): is it at its limit "
        "of clients (pcscd -t)? Each PC/SC context is one client"
    )


def _socket_path() -> str:
    return os.environ.get("PCSCLITE_CSOCK_NAME", "/run/pcscd/pcscd.comm")


def _daemon_listening() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(_socket_path())
        except OSError:
            return False
    return True


class PcscTransport(ChipTransportBase):
    """``ChipTransport`` on a PC/SC reader chosen by (part of) its name or its index.

    With ``context`` it borrows that context (the lane's); without, it establishes its own
    on ``connect`` and releases it on ``close``."""

    def __init__(
        self, reader: str | int = 0, *, timeout: float = 5.0, context: PcscContext | None = None
    ) -> None:
        super().__init__()
        self.reader_spec = reader
        self.timeout = timeout
        self.reader: str | None = None
        self._scard = _scard()
        self._owns_context = context is None
        self._context = context or PcscContext()
        self._card: Any = None
        self._protocol: Any = None

    @property
    def context(self) -> PcscContext:
        return self._context

    def _fail(self, what: str, code: int) -> DeviceError:
        self._context.check(code)
        where = self.reader or self.reader_spec
        text = self._scard.SCardGetErrorMessage(code)
        message = f"PC/SC {what} on {where}: {text} ({_code(code):#010x})"
        if _code(code) in _NO_DAEMON:
            return DeviceError(f"{message}: pcscd stopped")
        if _code(code) in _REMOVED:
            return DeviceGoneError(message)
        return DeviceError(message)

    def _list_readers(self, context: Any) -> list[str]:
        s = self._scard
        result, readers = s.SCardListReaders(context, [])
        if result != s.SCARD_S_SUCCESS:
            raise self._fail("listing the readers", result)
        if not readers:
            raise DeviceError("PC/SC: pcscd lists no reader")
        return [str(name) for name in readers]

    def _pick_reader(self, context: Any) -> str:
        readers = self._list_readers(context)
        if isinstance(self.reader_spec, int):
            if not 0 <= self.reader_spec < len(readers):
                raise DeviceError(f"PC/SC: no reader #{self.reader_spec}; readers: {readers}")
            return readers[self.reader_spec]
        for name in readers:
            if name == self.reader_spec or self.reader_spec in name:
                return name
        raise DeviceError(f"PC/SC: no reader named {self.reader_spec!r}; readers: {readers}")

    def _wait_for_card(self, context: Any) -> str:
        """The reader that holds a card: the named one, or (``ANY_READER``) the first of
        pcscd's readers to hold one, waiting up to ``timeout``."""
        s = self._scard
        deadline = time.monotonic() + self.timeout
        any_reader = self.reader_spec == ANY_READER
        states: dict[str, int] = {}
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                where = "any reader" if any_reader else self.reader
                raise DeviceTimeoutError(f"PC/SC: no card on {where} within {self.timeout} s")
            readers = self._list_readers(context) if any_reader else [self._pick_reader(context)]
            self.reader = readers[0]
            wait_ms = min(int(remaining * 1000) + 1, _ANY_POLL_MS if any_reader else 1 << 30)
            known = [(name, states.get(name, s.SCARD_STATE_UNAWARE)) for name in readers]
            result, seen = s.SCardGetStatusChange(context, wait_ms, known)
            if result == s.SCARD_E_TIMEOUT:
                continue
            if result != s.SCARD_S_SUCCESS:
                raise self._fail("waiting for a card", result)
            for name, event, _ in seen:
                if event & s.SCARD_STATE_PRESENT and not event & s.SCARD_STATE_MUTE:
                    return str(name)
                states[str(name)] = event & ~s.SCARD_STATE_CHANGED

    def _connect(self) -> bytes:
        s = self._scard
        self.close()
        try:
            context = self._context.handle
            self.reader = self._wait_for_card(context)
            result, self._card, self._protocol = s.SCardConnect(
                context,
                self.reader,
                s.SCARD_SHARE_SHARED,
                s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1,
            )
            if result != s.SCARD_S_SUCCESS:
                self._card = None
                raise self._fail("connect", result)
            result, _, _, _, atr = s.SCardStatus(self._card)
            if result != s.SCARD_S_SUCCESS:
                raise self._fail("status", result)
            return bytes(atr)
        except BaseException:
            self.close()
            raise

    def _transmit(self, apdu: bytes) -> bytes:
        if self._card is None:
            raise DeviceError("PC/SC: transmit before connect")
        s = self._scard
        result, response = s.SCardTransmit(self._card, self._protocol, list(apdu))
        if result != s.SCARD_S_SUCCESS:
            # A dead daemon is not a removed card: say which, so the referral names it.
            if _code(result) not in _NO_DAEMON and self._card_left():
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
        try:
            context = self._context.handle
        except DeviceError:
            return True
        while (remaining := deadline - time.monotonic()) > 0:
            result, states = s.SCardGetStatusChange(
                context, int(remaining * 1000) + 1, [(self.reader, state)]
            )
            if result != s.SCARD_S_SUCCESS:
                self._context.check(result)
                return bool(result != s.SCARD_E_TIMEOUT)
            event = states[0][1]
            if event & s.SCARD_STATE_EMPTY or event & s.SCARD_STATE_UNAVAILABLE:
                return True
            state = event & ~s.SCARD_STATE_CHANGED
        return False

    def _close(self) -> None:
        s = self._scard
        card, self._card = self._card, None
        if card is not None:
            result = s.SCardDisconnect(card, s.SCARD_LEAVE_CARD)
            if result != s.SCARD_S_SUCCESS:
                self._context.check(result)
        if self._owns_context:
            self._context.release()


class PcscReader:
    """What a ``pcsc`` (any reader with a card) / ``pcsc:NAME`` / ``pcsc:INDEX`` address
    opens: one context for the reader's life, and a new transport on it per call (per
    traveller). Making a transport closes the one
    made before it (its card handle), in case its user did not; ``close`` releases all."""

    def __init__(self, reader: str | int = ANY_READER, *, timeout: float = 5.0) -> None:
        # ``pcsc:1``: digits are the reader's index in pcscd's list (reader names have letters).
        digits = isinstance(reader, str) and reader.isascii() and reader.isdigit()
        self.reader: str | int = int(reader) if digits else reader
        self.timeout = timeout
        self.context = PcscContext()
        self._last: PcscTransport | None = None

    def __call__(self) -> PcscTransport:
        if self._last is not None:
            self._last.close()
        self._last = PcscTransport(self.reader, timeout=self.timeout, context=self.context)
        return self._last

    def check(self) -> None:
        """Raise a DeviceError unless pcscd answers and lists this reader (any reader, for
        a bare ``pcsc``): the lane's question before it takes a traveller. The error names
        the reader whichever way it fails: with pcscd stopped or listing nothing, the
        operator still learns which reader the lane waits for."""
        try:
            self._check_listed()
        except DeviceError as error:
            wanted = "any reader" if self.reader == ANY_READER else f"reader {self.reader!r}"
            raise DeviceError(f"{wanted} unavailable: {error}") from error

    def _check_listed(self) -> None:
        s = _scard()
        result, readers = s.SCardListReaders(self.context.handle, [])
        if result != s.SCARD_S_SUCCESS:
            self.context.check(result)
            raise DeviceError(f"PC/SC: listing the readers: {s.SCardGetErrorMessage(result)}")
        if not readers:
            raise DeviceError("PC/SC: pcscd lists no reader")
        if isinstance(self.reader, int):
            if not 0 <= self.reader < len(readers):
                raise DeviceError(f"PC/SC: no reader #{self.reader}")
        elif self.reader != ANY_READER and not any(self.reader in name for name in readers):
            raise DeviceError(f"PC/SC: no reader named {self.reader!r}")

    def close(self) -> None:
        if self._last is not None:
            self._last.close()
            self._last = None
        self.context.release()
