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
        self._retained: dict[str, bytes] = {}

    # -- the lane's side (``Link``) ------------------------------------------------------------
    def send(self, topic_name: str, payload: bytes, keep: bool) -> None:
        with self._lock:
            subscribers = tuple(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(topic_name, payload)
            except Exception:  # a console's bug must not stop the lane's reporter
                log.exception("hub subscriber failed on %s", topic_name)

    def retain(self, topic_name: str, payload: bytes) -> None:
        """Like a broker's retained message: kept (empty clears it) and given to every
        console that subscribes later."""
        with self._lock:
            if payload:
                self._retained[topic_name] = payload
            else:
                self._retained.pop(topic_name, None)
        self.send(topic_name, payload, False)

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
            retained = list(self._retained.items())
        for topic_name, payload in retained:
            handler(topic_name, payload)

    def unsubscribe(self, handler: MessageHandler) -> None:
        with self._lock:
            if handler in self._subscribers:
                self._subscribers.remove(handler)

    def command(self, site: str, lane: str, payload: bytes) -> bool:
        """Deliver a command; False when no lane of that name is connected."""
        with self._lock:
            handler = self._commands.get((site, lane))
        if handler is None:
            return False
        handler(payload)
        return True
