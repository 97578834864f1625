"""The console's web plumbing: its state (``Console``), the guarded endpoint decorator
(session, role, CSRF), JSON bodies, errors as JSON, and the outermost middleware (bounded
bodies, no caching, security headers). The routes are in ``gate.console.web``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.console import pages
from gate.console.hall import Hall
from gate.console.signing import ConsoleKey
from gate.console.users import LoginLimiter, Role, Session, Sessions, Users
from gate.console.wire import NAME
from gate.errors import GateError
from gate.lane import OfficerAction

log = logging.getLogger("gate.console")
COOKIE = "egate_session"
MAX_BODY = 16 * 1024
MAX_DEPTH = 8  # our bodies are flat objects; anything deeper is refused
HASH_SLOTS = 1  # argon2 verifications at once (in a worker thread; argon2 uses its own lanes)
DECIDE: frozenset[Role] = frozenset({"officer", "supervisor"})
AUDIT: frozenset[Role] = frozenset({"auditor", "supervisor"})
ANYONE: frozenset[Role] = frozenset({"officer", "supervisor", "auditor"})


class Commands(Protocol):
    def command(self, site: str, lane: str, payload: bytes) -> bool: ...


@dataclass
class Console:
    hall: Hall
    users: Users
    commands: Commands
    audit_logs: dict[str, Path] = field(default_factory=dict)
    tls: bool = False
    sessions: Sessions = field(default_factory=Sessions)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    stopping: Callable[[], bool] = lambda: False  # the server is shutting down: end streams
    key: ConsoleKey = field(default_factory=ConsoleKey.generate)  # signs every command
    hashing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(HASH_SLOTS))


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


Handler = Callable[[Request, Session], Awaitable[Response]]


def endpoint(
    roles: frozenset[Role], *, change: bool = False
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Session (401), role (403) and, for changes, the CSRF token (403), before the handler."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            console: Console = request.app.state.console
            session = console.sessions.get(request.cookies.get(COOKIE))
            if session is None:
                return error(401, "not logged in (or the session expired)")
            if change and request.headers.get("x-csrf-token") != session.csrf:
                return error(403, "missing or wrong CSRF token")
            if session.user.role not in roles:
                return error(403, f"the {session.user.role} role may not do this")
            try:
                return await handler(request, session)
            except ApiError as exc:
                return error(exc.status, str(exc))

        return run

    return wrap


async def json_body(request: Request, *keys: str) -> dict[str, str]:
    try:
        body = json.loads(await request.body())
    except RecursionError as exc:
        raise ApiError(400, f"the JSON body is nested over {MAX_DEPTH} deep") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "the body is not JSON") from exc
    if _depth(body) > MAX_DEPTH:
        raise ApiError(400, f"the JSON body is nested over {MAX_DEPTH} deep")
    if not isinstance(body, dict):
        raise ApiError(400, "the body is not a JSON object")
    out: dict[str, str] = {}
    for key in keys:
        value = body.get(key)
        if not isinstance(value, str):
            raise ApiError(422, f"'{key}' must be a string")
        out[key] = value
    return out


def _depth(value: object) -> int:
    """How deeply ``value`` nests (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack += [(v, level + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, level + 1) for v in item]
    return deepest


def lane_name(request: Request, hall: Hall) -> str:
    lane = str(request.path_params["lane"])
    if not NAME.fullmatch(lane) or hall.lane_view(lane) is None:
        raise ApiError(404, f"unknown lane {lane[:40]!r}")
    return lane


def image(data: bytes | None) -> Response:
    if data is None:
        raise ApiError(404, "no such image")
    return Response(data, media_type="image/jpeg")


def send(console: Console, site: str, lane: str, action: OfficerAction) -> None:
    """Sign ``action`` for ``lane`` with the console's key and send it."""
    payload = console.key.sign(action, lane)
    if not console.commands.command(site, lane, payload):
        raise ApiError(503, f"lane {lane} is not reachable now; nothing was sent")


def officer_action(kind: str, session: Session, reason: str, subject: str = "") -> OfficerAction:
    """The action of the session's user (name and role, as the lane will check them)."""
    role = session.user.role
    try:
        return OfficerAction(kind, session.user.name, reason, subject, role)  # type: ignore[arg-type]
    except GateError as exc:
        raise ApiError(422, str(exc)) from exc


class Guard:
    """Outermost middleware: bounded bodies (413) and no caching of anything (no-store)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0")
        too_big = error(413, f"request body over {self.max_body} bytes")
        if not length.isdigit() or int(length) > self.max_body:
            await too_big(scope, receive, send)
            return
        # The whole body first (chunked ones too, which name no length), at most max_body.
        chunks: list[bytes] = []
        seen, more = 0, scope["method"] not in ("GET", "HEAD")
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = bool(message.get("more_body", False))
            if seen > self.max_body:
                await too_big(scope, receive, send)
                return
        replayed = False

        async def bounded() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),  # no-referrer would send "Origin: null"
                    (b"content-security-policy", pages.CSP.encode()),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, bounded, secured)
        except ApiError as exc:
            await error(exc.status, str(exc))(scope, receive, send)
