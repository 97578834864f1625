"""The console's web plumbing: its state (``Console``), the guarded endpoint decorator
(session, role, CSRF), JSON bodies, errors as JSON, and the outermost middleware (bounded
bodies, no caching, security headers). The routes are in ``gate.console.web``."""

from __future__ import annotations

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
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "the body is not a JSON object")
    out: dict[str, str] = {}
    for key in keys:
        value = body.get(key)
        if not isinstance(value, str):
            raise ApiError(422, f"'{key}' must be a string")
        out[key] = value
    return out


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
        if not length.isdigit() or int(length) > self.max_body:
            await error(413, f"request body over {self.max_body} bytes")(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise ApiError(413, "request body too large")
            return message

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
