"""Only a signed, bound, fresh officer command moves a door, even on an open broker.

A private anonymous Mosquitto carries the commands; the lane has a real audit log. Each
hostile or stale command below opens no door and leaves a row in the audit log saying why;
a properly signed current one still opens the exit."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gate.audit import AuditLog
from gate.console.mqtt import BrokerAddress, MqttLink
from gate.console.reporter import LaneReporter
from gate.console.signing import ConsoleKey
from gate.fakes import FakeLane
from gate.lane import Lane
from gate.lane.adapters import AuditLogSink
from gate.lane.command_auth import ConsoleTrust, canonical
from gate.lane.officer import OfficerAction
from gate.outcome import Decision
from tests.gate.console.apps import wait_for
from tests.gate.console.broker import Broker

TOPIC = "egate/site/lane-1/command"


class SignedLane:
    """A fake lane with a real audit log behind a reporter on the broker, trusting one key."""

    def __init__(self, broker: Broker, folder: Path) -> None:
        self.key = ConsoleKey.generate()
        self.audit_log = AuditLog.open(folder / "audit.db")
        self.fake = FakeLane()
        self.fake.audit = AuditLogSink(self.audit_log)  # type: ignore[assignment]
        self.link = MqttLink(BrokerAddress.parse(broker.url), "lane-1").start()
        trust = ConsoleTrust.of([self.key.public])
        self.reporter = LaneReporter("site", "lane-1", self.link, trust=trust)
        self.lane: Lane = self.fake.build(observers=(self.reporter,))
        self.reporter.attach(self.lane)
        self.reporter.start()
        self.lane.start()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="anyone")  # anonymous
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.link.subscribed.wait(10)

    def referral(self, kind: str) -> str:
        self.fake.traveller(kind)
        tx = self.lane.serve_one(1.0)
        assert tx is not None and tx.decision is not Decision.ACCEPT
        return tx.transaction_id

    def rows(self) -> list[dict[str, object]]:
        return [r for r in self.audit_log.entries() if str(r["outcome"]).startswith("OFFICER_")]

    def publish(self, payload: bytes) -> dict[str, object]:
        """Publish ``payload`` as anyone on the broker; the lane's next officer row."""
        seen = len(self.rows())
        self.client.publish(TOPIC, payload, qos=1).wait_for_publish(10)
        assert wait_for(lambda: self.lane.serve_one(0.0) is None and len(self.rows()) > seen)
        assert len(self.rows()) == seen + 1
        return self.rows()[-1]

    def signed(self, kind: str, subject: str, role: str = "supervisor", lane: str = "lane-1",
               key: ConsoleKey | None = None) -> bytes:  # fmt: skip
        action = OfficerAction(kind, "sam", "checked at the desk", subject, role)  # type: ignore[arg-type]
        return (key or self.key).sign(action, lane)

    def close(self) -> None:
        self.client.disconnect()  # first: the network loop then ends at once (not after 1 s)
        self.client.loop_stop()
        self.reporter.close()
        self.link.close()
        self.audit_log.close()


@pytest.fixture
def made(broker: Broker, tmp_path: Path) -> Iterator[SignedLane]:
    lane = SignedLane(broker, tmp_path)
    try:
        yield lane
    finally:
        lane.close()


def _refused(made: SignedLane, payload: bytes, why: str) -> dict[str, object]:
    before = len(made.fake.turnstile.commands)
    row = made.publish(payload)
    assert "open_exit" not in made.fake.turnstile.commands[before:]
    assert str(row["outcome"]).endswith("_REFUSED"), row
    assert why in str(row["detail"]), row["detail"]
    return row


def test_the_forged_message_of_the_report_opens_no_door(made: SignedLane) -> None:
    tid = made.referral("tailgater")  # held in the lane: a supervisor could let them out
    forged = {"v": 1, "action": "accept", "officer": "olga", "reason": "forged via broker",
              "subject": tid}  # fmt: skip
    row = _refused(made, json.dumps(forged).encode(), "not a signed command")
    assert row["outcome"] == "OFFICER_ACCEPT_REFUSED" and tid in str(row["detail"])
    assert "forged via broker" not in str(row["detail"])  # the claim is not taken as a reason
    close = {"v": 1, "action": "close_lane", "officer": "sue", "reason": "x", "subject": ""}
    _refused(made, json.dumps(close).encode(), "not a signed command")
    assert made.lane.in_service
    _refused(made, b"\xff{[[[", "not JSON")


def test_a_signed_current_command_works_once_and_its_replay_is_refused(made: SignedLane) -> None:
    tid = made.referral("tailgater")
    genuine = made.signed("accept", tid)
    before = len(made.fake.turnstile.commands)
    row = made.publish(genuine)
    assert row["outcome"] == "OFFICER_ACCEPT" and "officer sam" in str(row["detail"])
    assert "open_exit" in made.fake.turnstile.commands[before:]
    _refused(made, genuine, "a replay")  # (b) the very same bytes again
    _refused(made, made.signed("accept", tid), "no open referral")  # (c) closed: decided


def test_no_door_opens_for_a_traveller_who_has_left(made: SignedLane) -> None:
    tid = made.referral("no_face")  # REFER_CAPTURE: the traveller walks back out
    row = _refused(made, made.signed("accept", tid, role="officer"), "has left the lane")
    assert "officer sam" in str(row["detail"])
    held = made.referral("tailgater")
    made.fake.traveller("genuine")  # a later traveller comes in: the held one has gone too
    assert made.lane.serve_one(1.0) is not None
    _refused(made, made.signed("accept", held), "has left the lane")
    # Refusing a referral whose traveller left still closes the card.
    assert made.publish(made.signed("refuse", tid, role="officer"))["outcome"] == "OFFICER_REFUSE"


def test_untrusted_expired_and_other_lane_commands_are_refused(made: SignedLane) -> None:
    tid = made.referral("tailgater")
    _refused(made, made.signed("accept", tid, key=ConsoleKey.generate()), "does not trust")
    past = ConsoleKey(made.key.private, now=lambda: time.time() - 120)
    _refused(made, made.signed("accept", tid, key=past), "expired")
    _refused(made, made.signed("accept", tid, lane="lane-2"), "not this lane")
    tampered = json.loads(made.signed("accept", tid, role="officer"))
    tampered["role"] = "supervisor"  # a plain officer's command made into a supervisor's
    _refused(made, json.dumps(tampered).encode(), "signature does not verify")
    auditor = json.loads(made.signed("close_lane", "", role="officer"))
    auditor["role"], auditor["nonce"] = "auditor", "n" * 20  # signed by the console itself
    signature = made.key.private.sign(canonical(auditor))
    auditor["sig"] = base64.b64encode(signature).decode()
    row = _refused(made, json.dumps(auditor).encode(), "does not act on lanes")
    assert row["outcome"] == "OFFICER_CLOSE_LANE_REFUSED" and made.lane.in_service
    # A plain officer may not open the exit over a tailgating alarm.
    _refused(made, made.signed("accept", tid, role="officer"), "supervisor only")
    # None of it closed the referral: the supervisor's signed accept still works.
    assert made.publish(made.signed("accept", tid))["outcome"] == "OFFICER_ACCEPT"
    text = " ".join(str(r["detail"]) for r in made.rows())
    assert "PRIVATE" not in text and made.key.key_id not in text  # no key material


def test_console_keys_are_made_0600_never_overwritten_and_loaded_only_so(tmp_path: Path) -> None:
    from gate.errors import ConfigError
    from gate.lane.command_auth import load_public_keys

    path = tmp_path / "console.key"
    key = ConsoleKey.generate()
    public = key.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="already exists"):
        ConsoleKey.generate().save(path)
    loaded = ConsoleKey.load(path)
    assert loaded.key_id == key.key_id
    trust = ConsoleTrust.of(load_public_keys(public))
    action = OfficerAction("open_lane", "sue", "clean again", role="supervisor")
    assert trust.verify(loaded.sign(action, "lane-4"), "lane-4").officer == "sue"
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by others"):
        ConsoleKey.load(path)
    with pytest.raises(ConfigError, match="not a PEM public key"):
        load_public_keys(path)  # the private key is no public key
    empty = tmp_path / "keys"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no \\*.pub"):
        load_public_keys(empty)
