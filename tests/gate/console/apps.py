"""A console on an in-process hub fed by a fake lane with a real audit log: what the web
tests (TestClient, schemathesis) talk to."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from gate.audit import AuditLog
from gate.console.reporter import LaneReporter
from gate.console.server import Wiring, make_console
from gate.console.users import Users
from gate.console.web import Console, create_app
from gate.fakes import FakeLane
from gate.lane import Lane
from gate.lane.adapters import AuditLogSink

PASSWORDS = {"olga": "officer-pass", "sam": "supervisor-pass", "ada": "auditor-pass"}
ROLES = {"olga": "officer", "sam": "supervisor", "ada": "auditor"}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll a condition that another thread makes true (messages arriving); the timeout is
    only a bound for a broken build, generous for a loaded machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@functools.cache
def shared_users() -> Users:
    """The three accounts, hashed once per test run (argon2 is slow on purpose)."""
    users = Users({})
    for name, password in PASSWORDS.items():
        users.add(name, ROLES[name], password)
    return users


class ConsoleWithLane:
    def __init__(self, folder: Path, tls: bool = False, state: Path | None = None) -> None:
        wiring = self.wiring = Wiring.make(None)
        self.state = state
        self.audit_path = folder / "audit.db"
        self.audit_log = AuditLog.open(self.audit_path)
        self.restart_console(tls)
        self.fake = FakeLane()
        self.fake.audit = AuditLogSink(self.audit_log)  # type: ignore[assignment]
        assert wiring.hub is not None
        trust = wiring.trust(own_console=True)  # the lane believes this console's key
        self.reporter = LaneReporter("site", "lane-1", wiring.hub, trust=trust)
        self.lane: Lane = self.fake.build(observers=(self.reporter,))
        self.reporter.attach(self.lane)
        self.reporter.start()
        self.lane.start()

    def restart_console(self, tls: bool = False) -> Console:
        """A new console on the same hub and state folder; the old one stops hearing
        anything (as if its process had died)."""
        old = getattr(self, "console", None)
        if old is not None:
            old.hall.close()
            assert self.wiring.hub is not None
            self.wiring.hub.unsubscribe(old.hall.receive)
            if old.hall.store is not None:
                old.hall.store.close()
        logs = {"lane-1": self.audit_path}
        self.console, _ = make_console(self.wiring, shared_users(), logs, self.state)
        self.console.tls = tls
        self.app = create_app(self.console)
        return self.console

    def traveller(self, kind: str) -> str:
        seen = len(self.console.hall.history())
        self.fake.traveller(kind)
        tx = self.lane.serve_one(1.0)
        assert tx is not None
        assert wait_for(lambda: len(self.console.hall.history()) > seen)
        return tx.transaction_id

    def client(self, user: str | None = None) -> tuple[TestClient, str]:
        """A client logged in as ``user`` (or not at all) and its CSRF token."""
        base = "https://testserver" if self.console.tls else "http://testserver"
        client = TestClient(self.app, base_url=base)
        if user is None:
            return client, ""
        response = client.post(
            "/login", data={"username": user, "password": PASSWORDS[user]}, follow_redirects=False
        )
        assert response.status_code == 303 and response.headers["location"] == "/hall"
        csrf = client.get("/api/session").json()["csrf"]
        return client, csrf

    def close(self) -> None:
        self.reporter.close()
        self.console.hall.close()
        self.audit_log.close()

    def __enter__(self) -> ConsoleWithLane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def console_app(folder: Path) -> tuple[ConsoleWithLane, Console]:
    made = ConsoleWithLane(folder)
    return made, made.console
