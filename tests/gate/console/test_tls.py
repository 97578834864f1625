"""The console served over TLS (uvicorn with a certificate and key): HTTPS answers, and the
session cookie is Secure; plain HTTP is not served on that port."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import httpx
import pytest

from gate.console.mqtt import BrokerAddress, MqttLink
from gate.console.server import ConsoleServer, Wiring, make_console
from gate.errors import ConfigError, DeviceError
from tests.gate.console.apps import PASSWORDS, shared_users
from tests.gate.console.broker import Broker, mosquitto_problem
from tests.gate.console.certs import self_signed


def test_console_over_tls_sets_secure_cookies(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    console, _ = make_console(Wiring.make(None), shared_users())
    server = ConsoleServer(console, "127.0.0.1:0", cert, key).start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with httpx.Client(verify=context, base_url=server.url) as client:
            login = client.post("/login", data={"username": "olga", "password": PASSWORDS["olga"]})
            assert login.status_code == 303
            cookie = login.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        plain = server.url.replace("https://", "http://")
        with pytest.raises(httpx.HTTPError):
            httpx.get(plain + "/login", timeout=2)
    finally:
        server.stop()


def test_tls_needs_both_files(tmp_path: Path) -> None:
    console, _ = make_console(Wiring.make(None), shared_users())
    with pytest.raises(ConfigError, match="both"):
        ConsoleServer(console, "127.0.0.1:0", tmp_path / "cert.pem", None)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        ConsoleServer(console, "8080", None, None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeviceError, match=f"127.0.0.1:{port}: Address already in use"):
            ConsoleServer(console, f"127.0.0.1:{port}", None, None)


def test_lane_events_over_mqtt_tls_with_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = mosquitto_problem()
    if problem:
        pytest.skip(problem)
    cert, key = self_signed(tmp_path)
    broker = Broker(users={"lane": "lane-password"}, tls=(cert, key)).start()
    try:
        monkeypatch.setenv("EGATE_MQTT_CA", str(cert))
        monkeypatch.setenv("EGATE_MQTT_PASSWORD", "lane-password")
        address = BrokerAddress.parse(f"mqtts://lane@127.0.0.1:{broker.port}")
        assert address.tls and address.username == "lane"
        received: list[bytes] = []
        arrived = threading.Event()

        def receive(topic: str, payload: bytes) -> None:
            received.append(payload)
            arrived.set()

        console = MqttLink(address, "tls-console", console=True)
        console.subscribe("egate/+/+/+", receive)
        console.start()
        assert console.subscribed.wait(10)
        lane = MqttLink(address, "tls-lane").start()
        assert lane.wait_connected(10) and lane.console_listens.wait(10)
        lane.send("egate/site/lane-1/decision", b'{"over": "tls"}', keep=True)
        assert arrived.wait(10)
        assert received == [b'{"over": "tls"}']
        monkeypatch.delenv("EGATE_MQTT_CA")  # the system CAs do not know this certificate
        untrusted = MqttLink(BrokerAddress.parse(f"mqtts://lane@127.0.0.1:{broker.port}")).start()
        assert not untrusted.wait_connected(1.5)
        for link in (untrusted, lane, console):
            link.close()
    finally:
        broker.close()
