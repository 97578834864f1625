"""Secure messaging as a transport over a transport (a decorator, as pyscard's
CardConnectionDecorator): plain commands go in, each is wrapped under the session keys
(``gate.icao.sm.SecureMessaging``) and sent over the transport below; the protected answer
is checked (a status word at all, its MAC) and unwrapped to a plain response.

Observers of the transport below see only protected APDUs; the reader observes that one.
"""

from __future__ import annotations

from gate.errors import ProtocolError
from gate.icao.apdu import Command, Response
from gate.icao.bac import SessionKeys
from gate.icao.sm import SecureMessaging
from gate.icao.transport import TransportDecorator, check_status_word
from gate.interfaces import ChipTransport


class SecureMessagingTransport(TransportDecorator):
    """A secure-messaging session over ``inner`` (already connected: the session ends with
    the connection, so connecting this transport again is not allowed)."""

    def __init__(self, inner: ChipTransport, keys: SessionKeys) -> None:
        super().__init__(inner)
        self.session = SecureMessaging(keys)

    def _connect(self) -> bytes:
        raise ProtocolError("secure messaging: a session cannot be reconnected (power off ends it)")

    def _transmit(self, apdu: bytes) -> bytes:
        protected = self.session.wrap(Command.parse(apdu))
        raw = self.inner.transmit(protected)
        check_status_word(Response.parse(raw).sw)
        return self.session.unwrap(raw).encode()
