"""A durable console: referrals and alarms survive a console restart (SQLite in the state
folder, never a photo; the lane's retained referrals bring the photos back), officers are
sent to log in again, and the first decision on a referral wins with every attempt on record.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gate.console.server import Wiring, lane_reporter, make_console
from gate.console.store import Store
from gate.errors import ConfigError
from gate.fakes import FakeLane
from gate.lane.officer import OfficerAction
from tests.gate.console.apps import ConsoleWithLane, shared_users, wait_for
from tests.gate.console.broker import Broker


@pytest.fixture
def made(tmp_path: Path) -> Iterator[ConsoleWithLane]:
    with ConsoleWithLane(tmp_path, state=tmp_path / "state") as console:
        yield console


def _referral_ids(client: TestClient) -> list[str]:
    response = client.get("/api/referrals")
    assert response.status_code == 200, response.text
    return sorted(r["id"] for r in response.json()["referrals"])


def test_a_restarted_console_has_all_ten_open_referrals_and_officers_log_in_again(
    made: ConsoleWithLane, tmp_path: Path
) -> None:
    tids = sorted(made.traveller("impostor") for _ in range(10))
    made.traveller("tailgater")  # and an alarm
    officer, _ = made.client("olga")
    before = _referral_ids(officer)
    photos = {
        r["id"]: (r["has_chip_photo"], r["has_best_shot"])
        for r in officer.get("/api/referrals").json()["referrals"]
    }
    assert all(photos[t][0] for t in tids)  # the fake lane sends a chip photo
    assert set(tids) <= set(before) and len(before) == 11
    alarms = [a["id"] for a in officer.get("/api/alarms").json()["alarms"]]
    assert alarms
    cookie = officer.cookies.get("egate_session")
    assert cookie

    made.restart_console()
    stale = TestClient(made.app, base_url="http://testserver")
    stale.cookies.set("egate_session", cookie)
    assert stale.get("/api/referrals").status_code == 401  # the old session is gone
    page = stale.get("/referrals", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    again, _ = made.client("olga")
    assert _referral_ids(again) == before  # all of them are back
    assert [a["id"] for a in again.get("/api/alarms").json()["alarms"]] == alarms
    # The photos were never on disk: the lane's retained announcements brought them back.
    views = again.get("/api/referrals").json()["referrals"]
    assert {v["id"]: (v["has_chip_photo"], v["has_best_shot"]) for v in views} == photos
    assert again.get(f"/api/referrals/{tids[0]}/chip.jpg").content.startswith(b"\xff\xd8")
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "console.db").stat().st_mode) == 0o600
    for path in state.iterdir():
        data = path.read_bytes()
        assert b"\xff\xd8\xff" not in data and b"/9j/" not in data, path  # no JPEG, raw or b64


def test_without_the_lane_a_restarted_console_has_them_without_photos(
    made: ConsoleWithLane,
) -> None:
    tids = sorted(made.traveller("impostor") for _ in range(3))
    assert made.wiring.hub is not None
    made.wiring.hub._retained.clear()  # noqa: SLF001  # a broker that lost its retained ones
    made.restart_console()
    officer, _ = made.client("olga")
    views = officer.get("/api/referrals").json()["referrals"]
    assert sorted(v["id"] for v in views) == tids
    assert not any(v["has_chip_photo"] for v in views)
    assert officer.get(f"/api/referrals/{tids[0]}/chip.jpg").status_code == 404


def test_the_first_decision_wins_the_other_officer_is_told_and_both_are_audited(
    made: ConsoleWithLane,
) -> None:
    tid = made.traveller("tailgater")  # held in the lane: a supervisor may accept
    supervisor, sam_csrf = made.client("sam")
    officer, olga_csrf = made.client("olga")
    path = f"/api/referrals/{tid}/decision"
    first = supervisor.post(
        path, json={"decision": "accept", "reason": "family"}, headers={"X-CSRF-Token": sam_csrf}
    )
    assert first.status_code == 202, first.text
    # Olga's screen shows at once who decided (before the lane has answered).
    card = next(r for r in officer.get("/api/referrals").json()["referrals"] if r["id"] == tid)
    assert card["claim"]["officer"] == "sam" and card["claim"]["decision"] == "accept"
    second = officer.post(
        path, json={"decision": "refuse", "reason": "no"}, headers={"X-CSRF-Token": olga_csrf}
    )
    assert second.status_code == 409
    assert "sam decided accept" in second.json()["error"]
    made.lane.serve_one(0.0)  # the lane applies the first and refuses the second
    rows = [r for r in made.audit_log.entries() if str(r["outcome"]).startswith("OFFICER_")]
    assert [r["outcome"] for r in rows] == ["OFFICER_ACCEPT", "OFFICER_REFUSE_REFUSED"]
    assert "officer sam:" in str(rows[0]["detail"]) and "officer olga:" in str(rows[1]["detail"])
    assert "no open referral" in str(rows[1]["detail"])
    assert wait_for(lambda: made.console.hall.referral(tid) is None)
    late = officer.post(
        path, json={"decision": "refuse", "reason": "late"}, headers={"X-CSRF-Token": olga_csrf}
    )
    assert late.status_code == 409 and "sam decided accept" in late.json()["error"]
    store = made.console.hall.store
    assert store is not None
    attempts = [(a["officer"], a["decision"], a["result"][:6]) for a in store.attempts(tid)]
    assert attempts == [
        ("olga", "refuse", "alread"),
        ("olga", "refuse", "second"),
        ("sam", "accept", "sent"),
    ]
    assert made.wiring.hub is not None and not made.wiring.hub._retained  # noqa: SLF001


def test_the_state_folder_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match="not ours alone"):
        Store(shared)
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    (folder / "console.db").symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(ConfigError, match="not a private file"):
        Store(folder)


def test_a_retained_referral_topic_must_name_its_own_transaction() -> None:
    from gate.console.wire import LaneMessage, WireError, decode, encode

    body = encode(LaneMessage("site", "lane-1", "referral", "abc", "idle", "x", 1.0, {}))
    assert decode("egate/site/lane-1/referral/abc", body).tid == "abc"
    with pytest.raises(WireError, match="not the topic's"):
        decode("egate/site/lane-1/referral/other", body)


def test_through_mosquitto_lanes_re_announce_open_referrals_to_a_new_console(
    broker: Broker, tmp_path: Path
) -> None:
    """Ten open referrals; the console dies; a console with an empty state folder gets all
    ten from the lane's retained messages, photos included; a decided one is cleared."""
    wiring = Wiring.make(broker.url)
    reporter = lane_reporter(wiring, "site", "lane-1", own_console=True)
    fake = FakeLane()
    lane = fake.build(observers=(reporter,))
    reporter.attach(lane)
    reporter.start()
    lane.start()
    first, link = make_console(wiring, shared_users(), state=tmp_path / "one")
    assert link is not None
    try:
        tids = set()
        for _ in range(10):
            fake.traveller("impostor")
            tx = lane.serve_one(1.0)
            assert tx is not None
            tids.add(tx.transaction_id)
        assert wait_for(lambda: {r["id"] for r in first.hall.referral_views()} == tids)
        first.hall.close()
        link.close()  # the console is gone
        decided = sorted(tids)[0]
        action = OfficerAction("refuse", "olga", "walked back", decided)
        reporter._command(wiring.key.sign(action, "lane-1"))  # noqa: SLF001  # queued on the lane
        lane.serve_one(0.0)
        second, link = make_console(wiring, shared_users(), state=tmp_path / "two")
        assert link is not None
        want = tids - {decided}
        assert wait_for(lambda: {r["id"] for r in second.hall.referral_views()} == want)
        assert all(r["has_chip_photo"] for r in second.hall.referral_views())
        second.hall.close()
    finally:
        link.close()
        reporter.close()
        reporter.link.close()


def test_a_state_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="console state"):
        Store(blocker / "state")


def test_the_auditor_sees_every_attempt_refused_ones_included(made: ConsoleWithLane) -> None:
    tid = made.traveller("tailgater")
    officer, csrf = made.client("olga")
    path = f"/api/referrals/{tid}/decision"
    headers = {"X-CSRF-Token": csrf}
    denied = officer.post(path, json={"decision": "accept", "reason": "ok"}, headers=headers)
    assert denied.status_code == 403  # a tailgating alarm: a supervisor's to accept
    assert "supervisor only" in denied.json()["error"]
    sent = officer.post(path, json={"decision": "refuse", "reason": "no"}, headers=headers)
    assert sent.status_code == 202
    auditor, _ = made.client("ada")
    rows = auditor.get("/api/audit", params={"text": tid}).json()["rows"]
    console_rows = [(r["outcome"], r["detail"]) for r in rows if r["kind"] == "console"]
    assert console_rows == [
        ("CONSOLE_REFUSE", "officer olga (officer): sent"),
        (
            "CONSOLE_ACCEPT_REFUSED",
            "officer olga (officer): a TAILGATING may be accepted by supervisor only",
        ),
    ]
