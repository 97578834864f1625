"""The uvicorn thread behind the console's and the screen's web servers."""

from __future__ import annotations

import socket
import urllib.request
from typing import Any

import pytest
import uvicorn

from gate.errors import DeviceError
from gate.web_server import WebServerThread, is_loopback


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def _thread(port: int) -> WebServerThread:
    config = uvicorn.Config(_hello, host="127.0.0.1", port=port, log_level="critical",
                            lifespan="off")  # fmt: skip
    return WebServerThread(uvicorn.Server(config), "test-web", "the test server did not start")


def test_it_serves_once_started_and_stops() -> None:
    web = _thread(0)
    web.start()
    try:
        url = web.url()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"hello"
        assert web.url("https").startswith("https://127.0.0.1:")
    finally:
        web.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=10)


def test_a_taken_port_is_one_device_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        web = _thread(taken.getsockname()[1])
        with pytest.raises(DeviceError, match="^the test server did not start$"):
            web.start()


def test_loopback() -> None:
    assert all(map(is_loopback, ("127.0.0.1", "127.5.0.1", "::1", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.0.2.1", "kiosk.example")))
