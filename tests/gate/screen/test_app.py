"""The screen's web page without a browser: what it serves, with which headers, and the
language choice (JSON only)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gate.errors import ConfigError
from gate.screen import Screen
from gate.screen.app import create_app
from gate.screen.server import allowed_hosts, is_loopback, parse_listen


@pytest.fixture
def client() -> Iterator[tuple[TestClient, Screen]]:
    screen = Screen()
    with TestClient(create_app(screen)) as test_client:
        yield test_client, screen
    screen.close()


def test_the_page_its_files_and_headers(client: tuple[TestClient, Screen]) -> None:
    http, _ = client
    page = http.get("/")
    assert page.status_code == 200 and "Place your passport on the reader" in page.text
    assert "<html lang='en' dir='ltr'>" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert page.headers["cache-control"] == "no-store"
    for path in ("/", "/static/screen.js", "/static/screen.css", "/fonts/sans.ttf"):
        response = http.get(path)
        assert response.status_code == 200, path
        assert "set-cookie" not in response.headers
        if path != "/fonts/sans.ttf":  # nothing from another site, ever
            assert not re.search(r"(https?:)?//[a-z]", response.text.replace("://", "")), path
    script = http.get("/static/screen.js").text
    assert "localStorage" not in script.replace("no localStorage", "")
    assert "sessionStorage" not in script.replace("no sessionStorage", "")
    assert "document.cookie" not in script
    assert http.get("/static/other.js").status_code == 404
    assert http.get("/fonts/../../etc/passwd").status_code == 404


def test_the_language_choice(client: tuple[TestClient, Screen]) -> None:
    http, screen = client
    assert http.post("/language", json={"lang": "zh"}).status_code == 204
    assert screen.current()["lang"] == "zh"
    assert "请将护照放在阅读器上" in http.get("/").text
    assert http.post("/language", data={"lang": "fr"}).status_code == 415  # a form: refused
    assert http.post("/language", json={"lang": "xx"}).status_code == 422
    assert http.post("/language", json=["fr"]).status_code == 422
    assert http.post("/language", content=b"{", headers={"content-type": "application/json"}
                     ).status_code == 422  # fmt: skip
    assert screen.current()["lang"] == "zh"


def test_a_request_for_another_host_is_refused() -> None:
    screen = Screen()
    try:
        app = create_app(screen, hosts=allowed_hosts("127.0.0.1"))
        with TestClient(app, base_url="http://127.0.0.1:8090") as http:
            assert http.get("/").status_code == 200
            for host in ("localhost:8090", "[::1]:8090", "127.0.0.1"):
                assert http.get("/", headers={"host": host}).status_code == 200, host
            for host in ("evil.example", "evil.example:8090", "[::2]:8090", ""):
                refused = http.get("/events", headers={"host": host})
                assert refused.status_code == 421, host
        assert allowed_hosts("0.0.0.0") is None
    finally:
        screen.close()


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8090") == ("127.0.0.1", 8090)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("8090", "host:", "host:99999", "a b:80", ":80"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            parse_listen(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("kiosk.example")
