"""Login hardening: limits by socket peer and by account that a rotating X-Forwarded-For
does not move (no proxy header is believed unless a trusted proxy is configured); argon2
off the event loop and as slow for an unknown name; JSON depth and size limits (4xx, never
500, chunked bodies included); a warning when serving beyond loopback without TLS."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gate.console.endpoints import MAX_BODY
from gate.console.server import ConsoleServer
from gate.console.users import LoginLimiter
from tests.gate.console.apps import ConsoleWithLane
from tests.gate.console.broker import free_port


@pytest.fixture
def made(tmp_path: Path) -> Iterator[ConsoleWithLane]:
    with ConsoleWithLane(tmp_path) as console:
        yield console


def _serve(made: ConsoleWithLane, trusted_proxy: str | None = None) -> ConsoleServer:
    listen = f"127.0.0.1:{free_port()}"
    return ConsoleServer(made.console, listen, trusted_proxy=trusted_proxy).start()


def _tries(url: str, count: int, rotate_names: bool) -> list[int]:
    """``count`` wrong logins, each from a new X-Forwarded-For (and a new name)."""
    codes = []
    with httpx.Client(base_url=url) as client:
        for n in range(count):
            name = f"user{n}" if rotate_names else "olga"
            headers = {"X-Forwarded-For": f"10.{n // 250}.{n % 250}.7"}
            form = {"username": name, "password": "wrong-guess"}
            codes.append(client.post("/login", data=form, headers=headers).status_code)
    return codes


def test_a_rotating_forwarded_for_is_held_to_the_configured_limits(
    made: ConsoleWithLane,
) -> None:
    made.console.limiter = LoginLimiter(per_account=5, per_peer=12)
    server = _serve(made)
    try:
        one_account = _tries(server.url, 100, rotate_names=False)
        assert one_account.count(303) == 5 and one_account.count(429) == 95
        with httpx.Client(base_url=server.url) as client:  # the right password: still held
            right = client.post("/login", data={"username": "olga", "password": "officer-pass"})
        assert right.status_code == 429
        made.console.limiter = LoginLimiter(per_account=5, per_peer=12)
        many_accounts = _tries(server.url, 100, rotate_names=True)
        assert many_accounts.count(303) == 12 and many_accounts.count(429) == 88
    finally:
        server.stop()


def test_a_trusted_proxy_is_believed_and_then_only_it(made: ConsoleWithLane) -> None:
    made.console.limiter = LoginLimiter(per_account=100, per_peer=3)
    server = _serve(made, trusted_proxy="127.0.0.1")
    try:
        codes = _tries(server.url, 8, rotate_names=True)  # each a different client, by its proxy
        assert codes.count(303) == 8
    finally:
        server.stop()


def test_argon2_runs_off_the_event_loop_and_unknown_names_cost_a_verification(
    made: ConsoleWithLane, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    calls: list[tuple[str, bool]] = []
    real_check, real_verify = made.console.users.check, PasswordHasher.verify

    def check(name: str, password: str) -> object:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        calls.append((name, on_loop))
        return real_check(name, password)

    verified: list[str] = []

    def verify(self: PasswordHasher, hashed: str, password: str) -> bool:
        verified.append(password)
        return real_verify(self, hashed, password)

    monkeypatch.setattr(made.console.users, "check", check)
    monkeypatch.setattr(PasswordHasher, "verify", verify)
    client, _ = made.client()
    for name in ("olga", "nobody-here"):
        client.post("/login", data={"username": name, "password": "wrong-pass"})
    assert calls == [("olga", False), ("nobody-here", False)]  # in a worker thread
    assert verified == ["wrong-pass", "wrong-pass"]  # the unknown name too (a dummy hash)


def test_deep_or_huge_json_is_a_4xx_never_a_500(made: ConsoleWithLane) -> None:
    tid = made.traveller("impostor")
    officer, csrf = made.client("olga")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    path = f"/api/referrals/{tid}/decision"
    brackets = b"[" * (MAX_BODY - 10)
    deep = b'{"decision": "refuse", "reason": "x", "more": ' + b'{"a": ' * 20 + b"1" + b"}" * 21
    for body, status in ((brackets, 400), (deep, 400), (b"[" * (MAX_BODY + 1), 413)):
        response = officer.post(path, content=body, headers=headers)
        assert response.status_code == status, (len(body), response.text)
        assert "error" in response.json()

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        for _ in range(20):
            yield b"[" * 1024

    chunked = officer.post(path, content=chunks(), headers=headers)
    assert chunked.status_code == 413, chunked.text
    login = officer.post("/login", content=chunks(), headers={"Content-Type": "text/plain"})
    assert login.status_code == 413
    made.lane.serve_one(0.0)
    assert made.console.hall.referral(tid) is not None  # nothing was sent


def test_serving_beyond_loopback_without_tls_warns(made: ConsoleWithLane) -> None:
    said = io.StringIO()
    ConsoleServer(made.console, "0.0.0.0:0", stream=said)
    assert "without TLS" in said.getvalue()
    quiet = io.StringIO()
    ConsoleServer(made.console, "127.0.0.1:0", stream=quiet)
    assert quiet.getvalue() == ""


def test_the_limits_count_by_account_and_by_peer() -> None:
    limiter = LoginLimiter(per_account=2, per_peer=3)
    for peer in ("a", "b"):
        limiter.failed(peer, "olga")
    assert limiter.blocked("c", "olga") and not limiter.blocked("c", "sam")
    limiter.failed("a", "sam")
    limiter.failed("a", "ada")
    assert limiter.blocked("a", "eve") and not limiter.blocked("b", "eve")
