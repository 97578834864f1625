"""The one contract every chip transport keeps (pyscard's CardConnection, python-can's BusABC
are the models): ``ChipTransportBase.transmit`` does the common work (it refuses what is not
a command, counts the APDU, tells the observers the command and the response or the error)
and calls the backend's ``_transmit``; ``send`` adds the value layer (a ``Command`` in, a
``Response`` out, a status word that no chip would send refused). Backends fill in
``_connect``, ``_transmit`` and ``_close``.

A decorator is a transport over another one: ``TransportDecorator`` forwards, and the
secure-messaging transport (``gate.icao.sm_transport``) wraps every command on the way down
and unwraps every answer on the way up, so the reader never handles SM itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from gate.errors import GateError, ProtocolError
from gate.icao.apdu import Command, Response
from gate.icao.status_words import is_status_word
from gate.interfaces import ChipTransport


@dataclass(frozen=True)
class Exchange:
    """One command and what came back: the response APDU, or the error that ended it."""

    number: int  # 1 for the first APDU of the transport
    command: bytes
    response: bytes | None
    error: str | None = None


ApduObserver = Callable[[Exchange], None]


class ChipTransportBase(ABC):
    """``ChipTransport`` with counting, observers and the status-word check."""

    def __init__(self) -> None:
        self.apdus = 0  # APDUs transmitted over this transport's life
        self._observers: list[ApduObserver] = []

    # -- observers ------------------------------------------------------------------------
    def add_observer(self, observer: ApduObserver) -> None:
        self._observers.append(observer)

    def remove_observer(self, observer: ApduObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def _notify(self, exchange: Exchange) -> None:
        for observer in tuple(self._observers):
            observer(exchange)

    # -- the contract ---------------------------------------------------------------------
    def connect(self) -> bytes:
        """Power the card (wait for it where the backend does) and return its ATR."""
        return self._connect()

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU and return the response APDU with its status word."""
        if len(apdu) < 4:
            # vpcd frames a 1-byte message as power off/on/reset: it would never be answered.
            raise ProtocolError(
                f"an APDU of {len(apdu)} byte(s) is not a command (CLA INS P1 P2 at least)"
            )
        self.apdus += 1
        number = self.apdus
        try:
            response = self._transmit(bytes(apdu))
        except GateError as exc:
            self._notify(Exchange(number, bytes(apdu), None, str(exc)))
            raise
        self._notify(Exchange(number, bytes(apdu), response))
        return response

    def send(self, command: Command) -> Response:
        """``transmit`` for values: the response parsed, its status word checked to be one."""
        response = Response.parse(self.transmit(command.encode()))
        check_status_word(response.sw)
        return response

    def close(self) -> None:
        self._close()

    def __enter__(self) -> ChipTransportBase:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a backend fills in ----------------------------------------------------------
    @abstractmethod
    def _connect(self) -> bytes: ...

    @abstractmethod
    def _transmit(self, apdu: bytes) -> bytes: ...

    @abstractmethod
    def _close(self) -> None: ...


class TransportDecorator(ChipTransportBase):
    """A transport over ``inner`` (pyscard's CardConnectionDecorator): it forwards
    everything; subclasses change what they need."""

    def __init__(self, inner: ChipTransport) -> None:
        super().__init__()
        self.inner = inner

    def _connect(self) -> bytes:
        return self.inner.connect()

    def _transmit(self, apdu: bytes) -> bytes:
        return self.inner.transmit(apdu)

    def _close(self) -> None:
        self.inner.close()


def counted(transport: ChipTransport) -> ChipTransportBase:
    """``transport`` itself when it keeps the contract, else a decorator that does."""
    if isinstance(transport, ChipTransportBase):
        return transport
    return TransportDecorator(transport)


def check_status_word(sw: int) -> None:
    """``ProtocolError`` for a status word no ISO 7816 chip sends (SW1 61..6F or 90)."""
    if not is_status_word(sw):
        raise ProtocolError(f"chip answered garbage (status word {sw:04X})")
