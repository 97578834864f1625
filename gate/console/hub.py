"""The in-process hub: with no broker configured, one process's lanes and its console talk
through it. Same messages and the same checks as over Mosquitto, without the network."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gate.console.reporter import CommandHandler

log = logging.getLogger("gate.console")
MessageHandler = Callable[[str, bytes], object]


class LocalHub:
    """Lanes ``send``; consoles ``subscribe``; commands go back by ``command``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[MessageHandler] = []
        self._commands: dict[tuple[str, str], CommandHandler] = {}

    # -- the lane's side (``Link``) ------------------------------------------------------------
    def send(self, topic_name: str, payload: bytes, keep: bool) -> None:
        with self._lock:
            subscribers = tuple(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(topic_name, payload)
            except Exception:  # a console's bug must not stop the lane's reporter
                log.exception("hub subscriber failed on %s", topic_name)

    def on_command(self, site: str, lane: str, handler: CommandHandler) -> None:
        with self._lock:
            self._commands[(site, lane)] = handler

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()
            self._commands.clear()

    # -- the console's side -------------------------------------------------------------------
    def subscribe(self, handler: MessageHandler) -> None:
        with self._lock:
            self._subscribers.append(handler)

    def command(self, site: str, lane: str, payload: bytes) -> bool:
        """Deliver a command; False when no lane of that name is connected."""
        with self._lock:
            handler = self._commands.get((site, lane))
        if handler is None:
            return False
        handler(payload)
        return True
