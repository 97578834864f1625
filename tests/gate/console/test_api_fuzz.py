"""Schemathesis fuzzes the console's JSON API from its published OpenAPI schema, logged in
as a supervisor (every route open to it) with the session's CSRF token: no input may cause
a server error, and every answer must be one the schema documents."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from tests.gate.console.apps import ConsoleWithLane

_FOLDER = Path(tempfile.mkdtemp(prefix="egate-fuzz-"))
MADE = ConsoleWithLane(_FOLDER)
MADE.traveller("impostor")  # one open referral, one lane, rows in the audit log
schema = schemathesis.openapi.from_asgi("/api/openapi.json", MADE.app)


def _login() -> tuple[str, str]:
    client, csrf = MADE.client("sam")
    return client.cookies["egate_session"], csrf


SESSION, CSRF = _login()


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_on_any_input(case: schemathesis.Case) -> None:
    response = case.call(headers={"X-CSRF-Token": CSRF}, cookies={"egate_session": SESSION})
    assert response.status_code < 500, response.text
    assert response.headers["content-type"][0].startswith("application/json")
    if response.status_code >= 400:
        assert response.json()["error"]
