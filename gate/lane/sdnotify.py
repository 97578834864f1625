"""systemd's notify protocol, spoken directly: one datagram to ``$NOTIFY_SOCKET`` per message
(``READY=1``, ``WATCHDOG=1``, ``STATUS=...``, ``STOPPING=1``). Outside systemd (no
``NOTIFY_SOCKET``) every call is a no-op. A name starting with ``@`` is an abstract socket.

``Heartbeat``: the lane's watchdog pings, at most one a second, from the lane's own thread
(the idle loop and each lane event), so a lane stuck anywhere stops pinging and systemd
restarts it after ``WatchdogSec``.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


def sd_notify(message: str) -> bool:
    """Send ``message`` to systemd; False when not under systemd or the send failed."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode("utf-8"), address)
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", message, exc)
        return False
    return True


class Heartbeat:
    """``WATCHDOG=1`` at most every ``every_s`` seconds."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self._last = float("-inf")

    def __call__(self, *_: object) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            sd_notify("WATCHDOG=1")
