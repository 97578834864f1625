"""Lane events over MQTT (paho-mqtt 2, Eclipse Mosquitto).

``MqttLink`` is both sides: a lane's ``Link`` (publish, receive commands) and a console's
feed (subscribe to ``egate/+/+/+``, publish commands). paho's network thread reconnects on
its own (1 s to 2 s back-off). While the broker is away a lane keeps the messages that
matter (``keep``: decisions, referrals, alarms ...) in a bounded backlog: at most
``BACKLOG`` messages, none older than ``BACKLOG_AGE_S``; they are published, in order, as
soon as the broker is back *and a console listens*. A console announces itself with the
retained ``egate/console/online`` = 1 (its last will sets 0), so a lane that reconnects
before the console does, or runs while no console is up, does not publish its backlog into
the void. Credentials: ``mqtt://user@host:port`` with the password in
``EGATE_MQTT_PASSWORD`` (never on the command line); ``mqtts://`` is TLS, checked against
the system CAs or ``EGATE_MQTT_CA``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from gate.console.reporter import CommandHandler
from gate.console.wire import PREFIX, check_name
from gate.errors import ConfigError, DeviceError

log = logging.getLogger("gate.console")
BACKLOG = 1000
BACKLOG_AGE_S = 600.0
CONSOLE_ONLINE = f"{PREFIX}/console/online"
MessageHandler = Callable[[str, bytes], object]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"broker {url!r}: use mqtt://host[:port] or mqtts://host[:port]")
        if parts.password is not None:
            raise ConfigError("broker: put the password in EGATE_MQTT_PASSWORD, not the URL")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError as exc:
            raise ConfigError(f"broker {url!r}: bad port") from exc
        username = unquote(parts.username) if parts.username else None
        return cls(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "mqtts",
            username=username,
            password=os.environ.get("EGATE_MQTT_PASSWORD") if username else None,
            ca_file=os.environ.get("EGATE_MQTT_CA") or None,
        )


class MqttLink:
    """One paho client; ``start`` connects in the background and returns at once."""

    def __init__(self, address: BrokerAddress, client_id: str = "", console: bool = False) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.address = address
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"egate-{uuid.uuid4().hex}"
        )
        if address.username:
            self._client.username_pw_set(address.username, address.password)
        if address.tls:
            context = ssl.create_default_context(cafile=address.ca_file)
            self._client.tls_set_context(context)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self.is_console = console
        if console:
            self._client.will_set(CONSOLE_ONLINE, b"0", qos=1, retain=True)
        self._lock = threading.Lock()
        self._backlog: deque[tuple[float, str, bytes]] = deque()
        self._subscriptions: dict[str, MessageHandler] = {}
        self.connected = threading.Event()
        self.console_listens = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged our subscriptions
        self.lost = 0  # kept messages dropped: backlog full or too old
        self.refused = ""  # why the broker refused us (its CONNACK), until it accepts us
        self._retained: dict[str, bytes] = {}  # re-published at every connect
        if not console:
            self._subscriptions[CONSOLE_ONLINE] = self._console_online

    def start(self) -> MqttLink:
        self._client.connect_async(self.address.host, self.address.port, keepalive=5)
        self._client.loop_start()
        return self

    def will(self, topic_name: str, payload: bytes) -> None:
        """What the broker says for us when we vanish (set before ``start``)."""
        self._client.will_set(topic_name, payload, qos=1, retain=False)

    def status(self) -> tuple[bool, str]:
        """(up, what to show): connected, refused by the broker (and why), or away."""
        where = f"broker {self.address.host}:{self.address.port}"
        if self.connected.is_set():
            return True, where
        if self.refused:
            return False, f"{where} refused this console: {self.refused}"
        return False, f"{where} not reachable"

    def retain(self, topic_name: str, payload: bytes) -> None:
        """A retained message (empty: clear it), kept here and re-published at each connect,
        so a broker that restarted (it keeps nothing on disk) has it again."""
        with self._lock:
            if payload:
                self._retained[topic_name] = payload
            else:
                self._retained.pop(topic_name, None)
        if self.connected.is_set():
            self._client.publish(topic_name, payload, qos=1, retain=True)

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def close(self) -> None:
        if self.is_console and self.connected.is_set():
            info = self._client.publish(CONSOLE_ONLINE, b"0", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(1.0)
        self._client.disconnect()
        self._client.loop_stop()

    # -- publishing ---------------------------------------------------------------------------
    def send(self, topic_name: str, payload: bytes, keep: bool) -> None:
        with self._lock:
            live = self.connected.is_set() and self.console_listens.is_set()
            if keep and (self._backlog or not live):
                self._keep(topic_name, payload)
                return
        if not self.connected.is_set():
            return
        info = self._client.publish(topic_name, payload, qos=1 if keep else 0)
        if info.rc != 0 and keep:
            with self._lock:
                self._keep(topic_name, payload)

    def _keep(self, topic_name: str, payload: bytes) -> None:
        self._backlog.append((time.monotonic(), topic_name, payload))
        while len(self._backlog) > BACKLOG:
            self._backlog.popleft()
            self.lost += 1

    def _console_online(self, topic_name: str, payload: bytes) -> None:
        if payload == b"1":
            self.console_listens.set()
            self._flush()
        else:
            self.console_listens.clear()

    def _flush(self) -> None:
        """Publish the backlog in order (paho's thread: connected, a console listens)."""
        while self.connected.is_set() and self.console_listens.is_set():
            with self._lock:
                if not self._backlog:
                    return
                at, topic_name, payload = self._backlog.popleft()
            if time.monotonic() - at > BACKLOG_AGE_S:
                self.lost += 1
                continue
            self._client.publish(topic_name, payload, qos=1)

    # -- receiving ----------------------------------------------------------------------------
    def on_command(self, site: str, lane: str, handler: CommandHandler) -> None:
        name = f"{PREFIX}/{check_name(site, 'site')}/{check_name(lane, 'lane')}/command"
        self.subscribe(name, lambda _topic, payload: handler(payload))

    def subscribe(self, pattern: str, handler: MessageHandler) -> None:
        with self._lock:
            self._subscriptions[pattern] = handler
        if self.connected.is_set():
            self._client.subscribe(pattern, qos=1)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s:%d refused us: %s", self.address.host, self.address.port, reason)
            self.refused = str(reason)[:100]
            return
        log.info("connected to broker %s:%d", self.address.host, self.address.port)
        self.refused = ""
        with self._lock:
            patterns = list(self._subscriptions)
            retained = list(self._retained.items())
        for pattern in patterns:
            client.subscribe(pattern, qos=1)
        for topic_name, payload in retained:
            client.publish(topic_name, payload, qos=1, retain=True)
        if self.is_console:
            client.publish(CONSOLE_ONLINE, b"1", qos=1, retain=True)
        self.connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, codes: Any, props: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected.is_set():
            log.warning("broker %s:%d lost: %s", self.address.host, self.address.port, reason)
        self.connected.clear()
        self.subscribed.clear()
        self.console_listens.clear()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        import paho.mqtt.client as paho

        with self._lock:
            handlers = [
                h
                for p, h in self._subscriptions.items()
                if paho.topic_matches_sub(p, message.topic)
            ]
        for handler in handlers:
            try:
                handler(message.topic, bytes(message.payload))
            except Exception:  # one bad message must not stop the feed
                log.exception("mqtt handler failed on %s", message.topic[:80])

    def command(self, site: str, lane: str, payload: bytes) -> bool:
        """The console's side: send a command to a lane; False while the broker is away."""
        if not self.connected.is_set():
            return False
        info = self._client.publish(f"{PREFIX}/{site}/{lane}/command", payload, qos=1)
        return bool(info.rc == 0)


def connect_error(address: BrokerAddress) -> DeviceError:
    return DeviceError(f"broker {address.host}:{address.port} did not answer")
