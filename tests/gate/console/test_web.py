"""The console's web security and bad input: sessions, CSRF, roles, cookies, bodies, ids,
exports, expiry, login rate limit; every refusal is a clear 4xx and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gate.console.apps import ConsoleWithLane, wait_for


@pytest.fixture
def made(tmp_path: Path) -> Iterator[ConsoleWithLane]:
    with ConsoleWithLane(tmp_path) as console:
        yield console


def _changes(made: ConsoleWithLane) -> list[tuple[str, dict[str, str]]]:
    """Every state-changing endpoint with a valid body, against live ids."""
    tid = made.traveller("tailgater")  # a referral with an alarm
    assert wait_for(lambda: bool(made.console.hall.alarm_views()))
    aid = made.console.hall.alarm_views()[0]["id"]
    return [
        (f"/api/referrals/{tid}/decision", {"decision": "refuse", "reason": "walk back"}),
        (f"/api/alarms/{aid}/ack", {"reason": "seen on camera"}),
        ("/api/lanes/lane-1/service", {"service": "closed", "reason": "cleaning"}),
        ("/logout", {}),
    ]


def test_every_change_needs_a_session_csrf_and_the_right_role(made: ConsoleWithLane) -> None:
    changes = _changes(made)
    nobody, _ = made.client()
    auditor, auditor_csrf = made.client("ada")
    officer, csrf = made.client("olga")
    for path, body in changes:
        assert nobody.post(path, json=body).status_code == 401, path
        assert officer.post(path, json=body).status_code == 403, path  # no CSRF token
        wrong = officer.post(path, json=body, headers={"X-CSRF-Token": "forged"})
        assert wrong.status_code == 403, path
        if path != "/logout":
            denied = auditor.post(path, json=body, headers={"X-CSRF-Token": auditor_csrf})
            assert denied.status_code == 403 and "auditor" in denied.json()["error"], path
    made.lane.serve_one(0.0)
    assert made.fake.audit.log.count() == 1  # type: ignore[attr-defined]  # nothing recorded
    for path, body in changes:
        response = officer.post(path, json=body, headers={"X-CSRF-Token": csrf})
        assert response.status_code in (200, 202), (path, response.text)
    made.lane.serve_one(0.0)
    rows = list(made.audit_log.entries())
    officer_rows = [r for r in rows if str(r["outcome"]).startswith("OFFICER_")]
    assert [r["outcome"] for r in officer_rows] == [
        "OFFICER_REFUSE",
        "OFFICER_ACKNOWLEDGE",
        "OFFICER_CLOSE_LANE",
    ]
    assert all("officer olga:" in str(r["detail"]) for r in officer_rows)


def test_auditors_search_and_export_officers_may_not(made: ConsoleWithLane) -> None:
    made.traveller("genuine")
    officer, _ = made.client("olga")
    auditor, _ = made.client("ada")
    assert officer.get("/api/audit").status_code == 403
    assert officer.get("/api/audit/lane-1/export").status_code == 403
    rows = auditor.get("/api/audit", params={"text": "accept"}).json()["rows"]
    assert [r["outcome"] for r in rows] == ["ACCEPT", "ACCEPT"]  # its decision and result
    export = auditor.get("/api/audit/lane-1/export", params={"format": "json"})
    assert export.status_code == 200 and '"mac"' in export.text
    assert "attachment" in export.headers["content-disposition"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/audit/..%2F..%2Fetc%2Fpasswd/export",
        "/api/audit/lane-1%2F..%2F..%2Fetc%2Fpasswd/export",
        "/api/audit/%2e%2e/export",
        "/api/audit/lane-9/export",
        "/api/audit?lane=../../etc/passwd",
    ],
)
def test_path_traversal_in_export_is_refused(made: ConsoleWithLane, path: str) -> None:
    auditor, _ = made.client("ada")
    response = auditor.get(path)
    assert response.status_code == 404, response.text
    assert "root:" not in response.text


def test_unknown_lanes_referrals_and_alarms_are_404(made: ConsoleWithLane) -> None:
    made.traveller("genuine")
    officer, csrf = made.client("olga")
    headers = {"X-CSRF-Token": csrf}
    assert officer.get("/api/lanes/lane-9").status_code == 404
    assert officer.get("/api/lanes/lane-1").status_code == 200
    assert officer.get("/api/lanes/lane-9/preview.jpg").status_code == 404
    body = {"service": "closed", "reason": "x"}
    assert officer.post("/api/lanes/lane-9/service", json=body, headers=headers).status_code == 404
    body = {"decision": "accept", "reason": "x"}
    response = officer.post("/api/referrals/nosuch/decision", json=body, headers=headers)
    assert response.status_code == 404 and "unknown referral" in response.json()["error"]
    assert officer.post("/api/alarms/nosuch/ack", json=body, headers=headers).status_code == 404


def test_bad_bodies_get_a_clear_4xx_and_nothing_is_sent(made: ConsoleWithLane) -> None:
    tid = made.traveller("impostor")
    officer, csrf = made.client("olga")
    headers = {"X-CSRF-Token": csrf}
    path = f"/api/referrals/{tid}/decision"
    cases = [
        (b"x" * 20_000, 413),
        (b"{not json", 400),
        (b"[]", 400),
        (b'{"decision": "accept"}', 422),
        (b'{"decision": "open_everything", "reason": "x"}', 422),
        (b'{"decision": "accept", "reason": ""}', 422),
        (b'{"decision": "accept", "reason": "a\\u0000b"}', 422),
    ]
    for body, status in cases:
        response = officer.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == status, (body[:40], response.text)
        assert response.json()["error"]
    made.lane.serve_one(0.0)
    assert not [r for r in made.audit_log.entries() if str(r["outcome"]).startswith("OFFICER")]
    assert made.console.hall.referral(tid) is not None  # still open


def test_expired_sessions_get_401(made: ConsoleWithLane) -> None:
    officer, csrf = made.client("olga")
    assert officer.get("/api/hall").status_code == 200
    made.console.sessions.expire_all()
    assert officer.get("/api/hall").status_code == 401
    response = officer.post("/api/lanes/lane-1/service", json={}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 401
    assert officer.get("/hall", follow_redirects=False).headers["location"] == "/login"


def test_cookies_images_and_headers(
    made: ConsoleWithLane, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tid = made.traveller("impostor")
    client, _ = made.client("olga")
    cookie = next(c for c in client.cookies.jar)
    assert cookie.has_nonstandard_attr("HttpOnly")
    login = made.client()[0].post("/login", data={"username": "olga", "password": "officer-pass"})
    set_cookie = login.history[0].headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert "secure" not in set_cookie  # plain HTTP in this test; see the TLS test
    image = client.get(f"/api/referrals/{tid}/chip.jpg")
    assert image.status_code == 200 and image.content.startswith(b"\xff\xd8")
    assert image.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in image.headers["content-security-policy"]
    # No biometric data (JPEG bytes, base64 of them) in any log line.
    assert "/9j/" not in caplog.text and "\\xff\\xd8" not in caplog.text


def test_secure_cookie_under_tls(tmp_path: Path) -> None:
    with ConsoleWithLane(tmp_path, tls=True) as made:
        client, _ = made.client()
        login = client.post(
            "/login", data={"username": "olga", "password": "officer-pass"}, follow_redirects=False
        )
        assert "secure" in login.headers["set-cookie"].lower()


def test_logins_are_rate_limited(made: ConsoleWithLane) -> None:
    client, _ = made.client()
    for _ in range(5):
        response = client.post(
            "/login", data={"username": "olga", "password": "wrong"}, follow_redirects=False
        )
        assert response.status_code == 303 and "failed" in response.headers["location"]
    blocked = client.post("/login", data={"username": "olga", "password": "officer-pass"})
    assert blocked.status_code == 429 and "too many" in blocked.json()["error"]


def test_pages_need_a_session_and_carry_no_cdn(made: ConsoleWithLane) -> None:
    nobody, _ = made.client()
    assert nobody.get("/hall", follow_redirects=False).status_code == 303
    officer, _ = made.client("olga")
    for page in ("/hall", "/lanes/lane-1", "/referrals", "/alarms", "/audit", "/metrics"):
        html = officer.get(page).text
        assert "<script src='/static/console.js'>" in html and "http" not in html.split("<body")[1]
    assert officer.get("/static/../web.py").status_code == 404
    assert officer.get("/plots/latency.svg").text.startswith("<svg")


def test_the_console_offers_only_what_the_lane_allows(made: ConsoleWithLane) -> None:
    gone = made.traveller("impostor")  # REJECT_MISMATCH: walked back out
    held = made.traveller("tailgater")  # TAILGATING: held in the lane

    def walked_out() -> bool:
        referral = made.console.hall.referral(gone)
        return referral is not None and referral.left

    assert wait_for(walked_out)
    views = {r["id"]: r for r in made.console.hall.referral_views()}
    assert views[held]["accept_roles"] == ["supervisor"] and not views[held]["left"]
    officer, csrf = made.client("olga")
    body = {"decision": "accept", "reason": "looks fine"}
    headers = {"X-CSRF-Token": csrf}
    left = officer.post(f"/api/referrals/{gone}/decision", json=body, headers=headers)
    assert left.status_code == 409 and "has left" in left.json()["error"]
    plain = officer.post(f"/api/referrals/{held}/decision", json=body, headers=headers)
    assert plain.status_code == 403 and "supervisor" in plain.json()["error"]
    supervisor, sam_csrf = made.client("sam")
    before = len(made.fake.turnstile.commands)
    sent = supervisor.post(
        f"/api/referrals/{held}/decision", json=body, headers={"X-CSRF-Token": sam_csrf}
    )
    assert sent.status_code == 202
    made.lane.serve_one(0.0)  # the lane checks the signed command and opens the exit
    assert "open_exit" in made.fake.turnstile.commands[before:]
    rows = [r for r in made.audit_log.entries() if str(r["outcome"]).startswith("OFFICER_")]
    assert [r["outcome"] for r in rows] == ["OFFICER_ACCEPT"]
    assert "officer sam: looks fine" in str(rows[0]["detail"])


def test_an_edited_lane_log_is_shown_not_a_500(made: ConsoleWithLane) -> None:
    """A BLOB where the detail belongs and a stage_ms that is not JSON (a log edited by
    hand): the auditor's search still answers, with the row marked, for every lane."""
    import sqlite3

    made.traveller("genuine")
    with sqlite3.connect(made.audit_path) as db:
        db.execute("UPDATE entries SET detail = ? WHERE id = 1", (b"\x00\xffblob",))
        db.execute("UPDATE entries SET stage_ms = '{not json' WHERE id = 2")
    auditor, _ = made.client("ada")
    response = auditor.get("/api/audit")
    assert response.status_code == 200, response.text
    rows = {r["outcome"] + str(r["detail"]): r for r in response.json()["rows"]}
    errors = sorted(r.get("error", "") for r in response.json()["rows"])
    assert any("detail" in e for e in errors) and any("stage_ms" in e for e in errors), rows
