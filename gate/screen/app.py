"""The screen's web page (Starlette): the page, its script, style and fonts, the lane's
changes as server-sent events, and the traveller's language choice.

Nothing comes from anywhere else (a strict Content-Security-Policy), nothing is cached or
kept by the browser (no cookie, no storage, ``no-store``), and the only thing a page can
change is the language of the current traveller's screen.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.errors import GateError
from gate.screen.fonts import font_path
from gate.screen.page import CSP, STATIC, shell, static_file
from gate.screen.screen import Screen

# An event stream looks for the server's stop this often (its shutdown waits for the streams
# to end) and sends a keep-alive comment after this many quiet polls (10 s).
STREAM_POLL_S = 0.1
KEEP_ALIVE_POLLS = 100
MAX_PENDING_FRAMES = 3  # a slow page skips frames; it never falls behind the lane
HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
]


async def page(request: Request) -> Response:
    screen: Screen = request.app.state.screen
    return HTMLResponse(shell(screen.current()))


async def static(request: Request) -> Response:
    name = str(request.path_params["name"])
    text = static_file(name)
    if text is None:
        return Response("not found", 404, media_type="text/plain")
    return Response(text, media_type=STATIC[name])


async def font(request: Request) -> Response:
    path = font_path(str(request.path_params["name"]))
    if path is None:
        return Response("not found", 404, media_type="text/plain")
    return FileResponse(path, media_type="font/ttf")


async def language(request: Request) -> Response:
    """``{"lang": "fr"}`` as JSON only (a form of another site cannot send it)."""
    screen: Screen = request.app.state.screen
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return Response("JSON only", 415, media_type="text/plain")
    try:
        body = json.loads(await request.body())
        screen.choose(str(body["lang"]) if isinstance(body, dict) else "")
    except (ValueError, KeyError, GateError):
        return Response("not a language of this screen", 422, media_type="text/plain")
    return Response(status_code=204)


async def events(request: Request) -> Response:
    """Server-sent events: ``view`` (what to show, drawn) and ``frame`` (the mirror)."""
    screen: Screen = request.app.state.screen
    stopping: Callable[[], bool] = request.app.state.stopping
    loop = asyncio.get_running_loop()
    updates: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def listener(name: str, payload: dict[str, Any]) -> None:
        def put() -> None:
            if name != "frame" or updates.qsize() < MAX_PENDING_FRAMES:
                updates.put_nowait((name, payload))

        loop.call_soon_threadsafe(put)

    async def stream() -> AsyncIterator[str]:
        current = screen.listen(listener)
        try:
            yield "retry: 500\n\n"
            yield f"event: view\ndata: {json.dumps(current)}\n\n"
            quiet = 0
            while not stopping():
                try:
                    name, payload = await asyncio.wait_for(updates.get(), timeout=STREAM_POLL_S)
                except asyncio.TimeoutError:
                    quiet += 1
                    if quiet % KEEP_ALIVE_POLLS == 0:
                        yield ": keep-alive\n\n"
                    continue
                yield f"event: {name}\ndata: {json.dumps(payload)}\n\n"
        finally:
            screen.unlisten(listener)

    return StreamingResponse(stream(), media_type="text/event-stream")


def host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8090`` -> ``::1``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Secured:
    """Every response: no caching, no framing, no sniffing, the strict CSP; and a request
    naming another host than the screen's is refused (a page of another site that
    rebinds its name to this machine sees nothing, the live mirror least of all)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hosts is not None and scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(host).lower() not in self.hosts:
                refused = Response("unknown host", 421, media_type="text/plain")
                await refused(scope, receive, send)
                return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, secured)


def create_app(
    screen: Screen,
    stopping: Callable[[], bool] = lambda: False,
    hosts: frozenset[str] | None = None,
) -> ASGIApp:
    """The page of ``screen``; ``hosts``: the names a request may give (None: any)."""
    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/fonts/{name}", font),
        Route("/events", events),
        Route("/language", language, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.screen = screen
    app.state.stopping = stopping
    return Secured(app, hosts)
