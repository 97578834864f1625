"""Truthful status: a lane that stops reporting is lost (told at once to every page), its
cards are disabled and nothing is sent to it; an unanswered decision times out with a
message; a console the broker refuses says so instead of "live"."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.console import hall as hall_module
from gate.console.cards import OFFLINE_AFTER_S
from gate.console.mqtt import BrokerAddress, MqttLink
from gate.console.reporter import last_will
from gate.console.server import Wiring, make_console
from tests.gate.console.apps import ConsoleWithLane, shared_users, wait_for
from tests.gate.console.broker import Broker, mosquitto_problem


@pytest.fixture
def made(tmp_path: Path) -> Iterator[ConsoleWithLane]:
    with ConsoleWithLane(tmp_path, state=tmp_path / "state") as console:
        yield console


def _silence(made: ConsoleWithLane) -> None:
    """The lane goes quiet (its process hung or killed): nothing more reaches the console."""
    made.reporter.link = _Deaf()


class _Deaf:
    def send(self, topic_name: str, payload: bytes, keep: bool) -> None: ...

    def retain(self, topic_name: str, payload: bytes) -> None: ...


def test_a_quiet_lane_is_lost_its_cards_disabled_and_nothing_is_sent(
    made: ConsoleWithLane,
) -> None:
    tid = made.traveller("tailgater")
    updates: list[dict[str, Any]] = []
    made.console.hall.listen(updates.append)
    officer, csrf = made.client("olga")
    assert officer.get("/api/lanes/lane-1").json()["online"]
    _silence(made)
    # The watch tells every page once the lane has been quiet for OFFLINE_AFTER_S (4 s):
    # with the half-second sweep, within 5 s of its last report.
    assert wait_for(lambda: any(u["kind"] == "lost" for u in updates), timeout=30)
    assert OFFLINE_AFTER_S + hall_module.SWEEP_S <= 5.0
    lost = next(u for u in updates if u["kind"] == "lost")
    assert lost["lane"] == "lane-1"
    hall = officer.get("/api/hall").json()["lanes"][0]
    assert not hall["online"] and hall["last_seen"] > 0
    assert not officer.get("/api/lanes/lane-1").json()["online"]
    card = officer.get("/api/referrals").json()["referrals"][0]
    assert card["id"] == tid and card["lane_online"] is False
    body = {"decision": "refuse", "reason": "walk back"}
    response = officer.post(
        f"/api/referrals/{tid}/decision", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 503 and "lost" in response.json()["error"]
    closing = officer.post(
        "/api/lanes/lane-1/service",
        json={"service": "closed", "reason": "cleaning"},
        headers={"X-CSRF-Token": csrf},
    )
    assert closing.status_code == 503 and "lost" in closing.json()["error"]
    made.lane.serve_one(0.0)
    assert not [r for r in made.audit_log.entries() if str(r["outcome"]).startswith("OFFICER")]


def test_a_lanes_last_will_makes_it_lost_at_once(made: ConsoleWithLane) -> None:
    made.traveller("genuine")
    _silence(made)
    updates: list[dict[str, Any]] = []
    made.console.hall.listen(updates.append)
    made.console.hall.receive(*last_will("site", "lane-1"))  # the broker's word for it
    assert [u["kind"] for u in updates if u["kind"] in ("lost", "back")] == ["lost"]
    assert made.console.hall.lane_view("lane-1")["online"] is False  # type: ignore[index]


def test_an_unanswered_decision_times_out_with_a_message(made: ConsoleWithLane) -> None:
    tid = made.traveller("tailgater")
    officer, csrf = made.client("olga")
    body = {"decision": "refuse", "reason": "walk back"}
    path = f"/api/referrals/{tid}/decision"
    assert officer.post(path, json=body, headers={"X-CSRF-Token": csrf}).status_code == 202
    referral = made.console.hall.referral(tid)
    assert referral is not None and referral.pending == "refuse"
    # The lane never applies it (its thread is busy); the clock moves past the timeout.
    referral.pending_at -= hall_module.PENDING_TIMEOUT_S + 1
    made.console.hall.sweep()
    card = officer.get("/api/referrals").json()["referrals"][0]
    assert card["pending"] == "" and card["claim"] is None
    assert "no answer from lane-1" in card["refused"]


def test_a_console_the_broker_refuses_shows_the_error_not_live(tmp_path: Path) -> None:
    problem = mosquitto_problem()
    if problem:
        pytest.skip(problem)
    broker = Broker(users={"console": "right-password"}).start()
    try:
        address = BrokerAddress.parse(f"mqtt://console@127.0.0.1:{broker.port}")
        wrong = BrokerAddress(address.host, address.port, username="console", password="wrong")
        wiring = Wiring.make(None)
        wiring.hub, wiring.broker = None, wrong
        console, link = make_console(wiring, shared_users())
        assert isinstance(link, MqttLink)
        try:
            assert wait_for(lambda: bool(link.refused), timeout=15)
            ok, text = console.hall.link_status()
            assert not ok and "refused this console" in text
            assert console.hall.link_update()["ok"] is False
        finally:
            console.hall.close()
            link.close()
    finally:
        broker.close()


def test_a_lane_that_reports_again_is_back(made: ConsoleWithLane) -> None:
    made.traveller("genuine")
    updates: list[dict[str, Any]] = []
    made.console.hall.listen(updates.append)
    link = made.reporter.link
    _silence(made)
    tile = made.console.hall.lanes["lane-1"]
    tile.last_seen = time.monotonic() - OFFLINE_AFTER_S - 1  # quiet for long enough
    made.console.hall.sweep()
    made.reporter.link = link  # it reports again (its heartbeat)

    def kinds() -> list[str]:
        return [u["kind"] for u in updates if u["kind"] in ("lost", "back")]

    assert wait_for(lambda: kinds() == ["lost", "back"]), kinds()
