"""Lane events through a real Eclipse Mosquitto: what arrives, what a broken broker changes
(nothing in the lane), what comes back after it returns, and what a hostile message gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gate.console.hall import Hall
from gate.console.mqtt import BrokerAddress, MqttLink
from gate.console.reporter import QUEUE_SIZE, LaneReporter
from gate.console.signing import ConsoleKey
from gate.console.wire import MAX_PAYLOAD
from gate.fakes import FakeLane
from gate.lane import GateEvent, Lane
from gate.lane.command_auth import ConsoleTrust
from gate.lane.officer import OfficerAction
from gate.outcome import Decision, State
from tests.gate.console.apps import wait_for
from tests.gate.console.broker import Broker

KINDS = ("genuine", "impostor", "tampered", "tailgater")
EXPECTED = [Decision.ACCEPT, Decision.REJECT_MISMATCH, Decision.REFER_DOCUMENT]


class Setup:
    def __init__(self, broker: Broker) -> None:
        address = BrokerAddress.parse(broker.url)
        self.hall = Hall()
        self.console = MqttLink(address, "test-console", console=True)
        self.console.subscribe("egate/+/+/+", self.hall.receive)
        self.console.start()
        self.fake = FakeLane()
        self.link = MqttLink(address, "test-lane").start()
        self.key = ConsoleKey.generate()
        trust = ConsoleTrust.of([self.key.public])
        self.reporter = LaneReporter("site", "lane-7", self.link, trust=trust)
        self.lane: Lane = self.fake.build(observers=(self.reporter,))
        self.reporter.attach(self.lane)
        self.reporter.start()
        self.lane.start()

    def run(self, kinds: tuple[str, ...]) -> list[Decision]:
        decisions = []
        for kind in kinds:
            self.fake.traveller(kind)
            tx = self.lane.serve_one(1.0)
            assert tx is not None
            decisions.append(tx.decision)
        return decisions

    def finished(self) -> list[str]:
        return [decision for _, _, decision, _ in self.hall.history()]

    def close(self) -> None:
        self.reporter.close()
        self.link.close()
        self.console.close()


@pytest.fixture
def setup(broker: Broker) -> Iterator[Setup]:
    made = Setup(broker)
    try:
        yield made
    finally:
        made.close()


def test_lane_events_and_officer_commands_through_mosquitto(setup: Setup) -> None:
    assert setup.console.subscribed.wait(5) and setup.link.wait_connected(5)
    assert wait_for(setup.link.console_listens.is_set)
    assert setup.run(KINDS[:3]) == EXPECTED
    assert wait_for(lambda: len(setup.finished()) == 3)
    assert setup.finished() == [d.value for d in EXPECTED]
    tile = setup.hall.lane_view("lane-7")
    assert tile is not None and tile["online"] and tile["state"] == State.IDLE.value
    assert tile["referrals_today"] == {"REJECT_MISMATCH": 1, "REFER_DOCUMENT": 1}
    referral = next(r for r in setup.hall.referral_views() if r["decision"] == "REJECT_MISMATCH")
    assert referral["has_chip_photo"] and referral["checks"]["passive_auth"] == "valid"
    # The officer's signed refusal travels back through the broker and is applied by the lane
    # (an accept: the traveller walked back out already, see test_signed_commands).
    action = OfficerAction("refuse", "alice", "checked at the desk", referral["id"])
    assert setup.console.command("site", "lane-7", setup.key.sign(action, "lane-7"))
    assert wait_for(lambda: setup.lane.serve_one(0.0) is None and _recorded(setup))
    assert [a.officer for a in setup.fake.audit.officer_actions] == ["alice"]
    assert not setup.fake.audit.officer_actions[0].refused
    assert wait_for(lambda: setup.hall.referral(referral["id"]) is None)  # photos dropped
    assert setup.hall.rejected == 0  # the console's own command is not a bad lane message


def _recorded(setup: Setup) -> bool:
    return bool(setup.fake.audit.officer_actions)


def test_broker_down_changes_no_outcome_and_the_backlog_follows(
    setup: Setup, broker: Broker
) -> None:
    assert wait_for(setup.link.console_listens.is_set)
    broker.kill()
    assert wait_for(lambda: not setup.link.connected.is_set())
    started = time.monotonic()
    assert setup.run(KINDS[:3]) == EXPECTED  # the lane does not notice
    lane_time = time.monotonic() - started
    assert wait_for(lambda: len(setup.link._backlog) >= 3)  # noqa: SLF001
    broker.start()
    assert wait_for(lambda: len(setup.finished()) == 3, timeout=15)
    assert setup.finished() == [d.value for d in EXPECTED]
    assert wait_for(lambda: bool((setup.hall.lane_view("lane-7") or {}).get("online")))
    assert lane_time < 5.0, "the lane waited on the broker"


def test_a_reporter_whose_link_hangs_never_blocks_the_lane() -> None:
    release = threading.Event()

    class HangingLink:
        def send(self, topic_name: str, payload: bytes, keep: bool) -> None:
            release.wait()

        def retain(self, topic_name: str, payload: bytes) -> None: ...

        def on_command(self, site: str, lane: str, handler: object) -> None: ...

        def close(self) -> None: ...

    reporter = LaneReporter("site", "lane-1", HangingLink()).start()
    event = GateEvent("state", State.IDLE, 0.0)
    for _ in range(QUEUE_SIZE + 50):
        reporter(event)  # returns at once, even with the reporter's thread stuck
    assert reporter.dropped >= 49
    release.set()
    reporter.close()


MALFORMED = [
    ("egate/site/lane-1/transaction", b"{not json"),
    ("egate/site/lane-1/transaction", b"[1, 2]"),
    ("egate/site/lane-1/transaction", b'{"v": 1, "kind": "transaction", "sent": NaN}'),
    ("egate/site/lane-1/state", json.dumps({"v": 2, "kind": "state"}).encode()),
    ("egate/site/lane-1/nonsense", b"{}"),
    ("egate/site/lane 1/state", b"{}"),
    ("egate/site/lane-1/state", b"x" * (MAX_PAYLOAD + 1)),
    (
        "egate/site/lane-1/referral",
        json.dumps(
            {"v": 1, "kind": "referral", "tid": "../../x", "state": "s", "detail": "",
             "sent": 1.0, "data": {}}
        ).encode(),
    ),
]  # fmt: skip


def test_malformed_messages_on_the_broker_are_refused_and_nothing_kept(broker: Broker) -> None:
    hall = Hall()
    console = MqttLink(BrokerAddress.parse(broker.url), "hostile-test", console=True)
    console.subscribe("egate/+/+/+", hall.receive)
    console.start()
    assert console.subscribed.wait(5)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for count, (topic, payload) in enumerate(MALFORMED, start=1):
            client.publish(topic, payload, qos=1).wait_for_publish(5)
            assert wait_for(lambda n=count: hall.rejected == n), (topic, payload[:60])
            assert hall.hall_view() == [] and hall.referral_views() == []
            assert hall.last_rejection  # one line saying what was wrong
    finally:
        client.disconnect()  # first: the network loop then ends at once (not after 1 s)
        client.loop_stop()
        console.close()


def test_broker_with_passwords_refuses_a_wrong_one(monkeypatch: pytest.MonkeyPatch) -> None:
    broker = Broker(users={"lane": "right-password"}).start()
    try:
        monkeypatch.setenv("EGATE_MQTT_PASSWORD", "wrong-password")
        wrong = MqttLink(BrokerAddress.parse(f"mqtt://lane@127.0.0.1:{broker.port}")).start()
        monkeypatch.setenv("EGATE_MQTT_PASSWORD", "right-password")
        right = MqttLink(BrokerAddress.parse(f"mqtt://lane@127.0.0.1:{broker.port}")).start()
        assert right.wait_connected(5)
        assert not wrong.wait_connected(1.0)
        wrong.close()
        right.close()
    finally:
        broker.close()


def test_broker_urls_keep_passwords_out_of_argv() -> None:
    from gate.errors import ConfigError

    with pytest.raises(ConfigError, match="EGATE_MQTT_PASSWORD"):
        BrokerAddress.parse("mqtt://lane:secret@host:1883")
    with pytest.raises(ConfigError, match="mqtt://"):
        BrokerAddress.parse("http://host")
    assert BrokerAddress.parse("mqtts://host").port == 8883


def test_a_device_fault_shows_on_the_tile_until_a_traveller_passes() -> None:
    from gate.console.hub import LocalHub

    hub = LocalHub()
    hall = Hall()
    hub.subscribe(hall.receive)
    fake = FakeLane()
    reporter = LaneReporter("site", "lane-3", hub)
    lane = fake.build(observers=(reporter,))
    reporter.attach(lane)
    reporter.start()
    try:
        lane.start()
        fake.camera.die_after = 0  # the camera is gone for the next traveller
        fake.traveller("genuine")
        assert lane.serve_one(1.0).decision is Decision.REFER_DEVICE  # type: ignore[union-attr]

        def tile() -> dict[str, Any]:
            return hall.lane_view("lane-3") or {}

        assert wait_for(lambda: tile().get("devices", {}).get("camera") == "fault")
        assert tile()["devices"]["turnstile"] == "ok"
        fake.camera.die_after = None
        fake.traveller("genuine")
        assert lane.serve_one(1.0).decision is Decision.ACCEPT  # type: ignore[union-attr]
        assert wait_for(lambda: set(tile()["devices"].values()) == {"ok"})
    finally:
        reporter.close()
