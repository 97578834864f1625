"""``egate broker init`` / ``serve``: a Mosquitto where only named clients connect, each lane
publishes only its own topics and reads only its own commands, and only consoles command
lanes and see their photos."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gate.console.broker_setup import read_credentials, serve_command
from tests.gate.console.apps import wait_for
from tests.gate.console.broker import free_port, mosquitto_problem

EGATE = [sys.executable, "-m", "gate"]


class Client:
    """A paho client that records what it receives and how the broker answered."""

    def __init__(self, port: int, name: str | None, password: str | None = None) -> None:
        self.answered = threading.Event()
        self.refused: Any = None
        self.got: list[str] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{name}")
        if name is not None:
            self.client.username_pw_set(name, password)
        self.client.on_connect = self._connected
        self.client.on_message = lambda _c, _u, m: self.got.append(m.topic)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.refused = reason if reason.is_failure else None
        self.answered.set()

    def subscribe(self, pattern: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe(pattern, qos=1)
        assert done.wait(10)

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b'{"v": 1}', qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()  # first: the network loop then ends at once (not after 1 s)
        self.client.loop_stop()


@contextlib.contextmanager
def _serving(folder: Path) -> Iterator[None]:
    process = subprocess.Popen(serve_command(folder), stderr=subprocess.PIPE)
    port = int(read_credentials(folder / "credentials" / "console.env")[0].rsplit(":", 1)[1])
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.05)
        yield
    finally:
        process.kill()
        process.wait(5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    problem = mosquitto_problem()
    if problem:
        pytest.skip(problem)
    folder, port = tmp_path / "broker", free_port()
    args = ["broker", "init", str(folder), "--lane", "lane-1", "--lane", "lane-2"]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run([*EGATE, *args, "--listen", f"127.0.0.1:{port}"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with _serving(folder):
        yield folder, port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _login(folder: Path, port: int, name: str) -> Client:
    _url, password = read_credentials(folder / "credentials" / f"{name}.env")
    client = Client(port, name, password)
    assert client.answered.wait(10) and client.refused is None, client.refused
    return client


def test_files_are_private_and_anonymous_clients_are_refused(served: tuple[Path, int]) -> None:
    folder, port = served
    for path in [folder, folder / "passwords", *(folder / "credentials").iterdir()]:
        if not path.name.endswith(".pub"):
            assert path.stat().st_mode & 0o077 == 0, path
    assert "lane-1:" in (folder / "passwords").read_text()
    assert (
        read_credentials(folder / "credentials" / "lane-1.env")[1]
        not in (folder / "passwords").read_text()
    )  # hashed
    anonymous = Client(port, None)
    assert anonymous.answered.wait(10) and anonymous.refused is not None
    wrong = Client(port, "lane-1", "not-the-password")
    assert wrong.answered.wait(10) and wrong.refused is not None
    anonymous.close()
    wrong.close()


def test_a_lane_publishes_only_its_topics_and_never_reads_photos(served: tuple[Path, int]) -> None:
    folder, port = served
    console, lane1, lane2 = (_login(folder, port, n) for n in ("console", "lane-1", "lane-2"))
    try:
        console.subscribe("egate/+/+/+")
        lane1.subscribe("egate/#")  # asks for everything; gets only what the ACL lets it read
        # lane-1 forges lane-2's referral and a command to itself, then sends its own state.
        lane1.publish("egate/site/lane-2/referral")
        lane1.publish("egate/site/lane-1/command")
        lane1.publish("egate/site/lane-1/state")
        assert wait_for(lambda: "egate/site/lane-1/state" in console.got)
        assert console.got == ["egate/site/lane-1/state"]  # the forgeries never arrived
        # lane-2's referral (photos) reaches the console, never lane-1; the console's command
        # to lane-1, published after it, does reach lane-1.
        lane2.publish("egate/site/lane-2/referral")
        assert wait_for(lambda: "egate/site/lane-2/referral" in console.got)
        console.publish("egate/site/lane-1/command")
        assert wait_for(lambda: "egate/site/lane-1/command" in lane1.got)
        assert lane1.got == ["egate/site/lane-1/command"]
        assert "egate/site/lane-1/command" not in console.got  # its own commands: not read
    finally:
        for client in (console, lane1, lane2):
            client.close()


def test_a_signed_command_through_the_authenticated_broker(served: tuple[Path, int]) -> None:
    from gate.console.hall import Hall
    from gate.console.mqtt import MqttLink
    from gate.console.reporter import LaneReporter
    from gate.console.server import broker_address
    from gate.console.signing import ConsoleKey
    from gate.fakes import FakeLane
    from gate.lane.command_auth import ConsoleTrust, load_public_keys
    from gate.lane.officer import OfficerAction

    folder, _port = served
    credentials = folder / "credentials"
    hall = Hall()
    console = MqttLink(broker_address(str(credentials / "console.env")), "c", console=True)
    console.subscribe("egate/+/+/+", hall.receive)
    console.start()
    link = MqttLink(broker_address(str(credentials / "lane-1.env")), "l1").start()
    trust = ConsoleTrust.of(load_public_keys(folder / "trusted-consoles"))
    fake = FakeLane()
    reporter = LaneReporter("site", "lane-1", link, trust=trust)
    lane = fake.build(observers=(reporter,))
    reporter.attach(lane)
    reporter.start()
    try:
        lane.start()
        assert wait_for(link.console_listens.is_set) and link.subscribed.wait(10)
        fake.traveller("tailgater")
        tx = lane.serve_one(1.0)
        assert tx is not None
        assert wait_for(lambda: hall.referral(tx.transaction_id) is not None)
        key = ConsoleKey.load(credentials / "console.key")
        action = OfficerAction("accept", "sam", "family", tx.transaction_id, "supervisor")
        before = len(fake.turnstile.commands)
        assert console.command("site", "lane-1", key.sign(action, "lane-1"))
        assert wait_for(lambda: lane.serve_one(0.0) is None and bool(fake.audit.officer_actions))
        assert not fake.audit.officer_actions[0].refused
        assert "open_exit" in fake.turnstile.commands[before:]
        assert hall.rejected == 0
    finally:
        reporter.close()
        link.close()
        console.close()


def test_with_certificates_the_broker_speaks_only_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gate.console.broker_setup import BrokerPlan, init
    from gate.console.mqtt import MqttLink
    from gate.console.server import broker_address
    from tests.gate.console.certs import self_signed

    problem = mosquitto_problem()
    if problem:
        pytest.skip(problem)
    cert, key = self_signed(tmp_path)
    port = free_port()
    folder = tmp_path / "broker"
    init(folder, BrokerPlan("site", ("lane-1",), ("console",), "127.0.0.1", port, (cert, key)))
    with _serving(folder):
        credentials = str(folder / "credentials" / "lane-1.env")
        assert read_credentials(Path(credentials))[0].startswith("mqtts://")
        monkeypatch.setenv("EGATE_MQTT_CA", str(cert))
        link = MqttLink(broker_address(credentials)).start()
        assert link.wait_connected(10)
        link.close()
        _url, password = read_credentials(Path(credentials))
        plain = Client(port, "lane-1", password)  # the right password, but in clear
        assert not (plain.answered.wait(2) and plain.refused is None)
        plain.close()
