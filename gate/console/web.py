"""The console's web application (Starlette): pages, the JSON API, server-sent events.

Security, in one place:
- every route but the login page, static files and the API schema needs a session (401);
- every state change needs the session's CSRF token in ``X-CSRF-Token`` (403) and a role
  allowed to make it (403): officers and supervisors decide referrals, acknowledge alarms and
  open or close lanes (doors); auditors and supervisors search and export the audit log;
- the session cookie is HttpOnly, SameSite=Strict, and Secure when served over TLS;
- failed logins are limited per client address (429); bodies over ``MAX_BODY`` get 413;
- images are served with ``Cache-Control: no-store`` (so is everything else) and only by
  ids (transaction ids, lane names): no biometric data is ever in a URL or a log line.
Every refusal is JSON ``{"error": "..."}`` naming what was wrong; nothing is kept of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gate.console import pages, plots
from gate.console.hall import Hall
from gate.console.openapi import schema
from gate.console.users import LoginLimiter, Role, Session, Sessions, User, Users
from gate.console.wire import NAME, encode_command
from gate.errors import GateError
from gate.lane import OfficerAction

log = logging.getLogger("gate.console")
COOKIE = "egate_session"
MAX_BODY = 16 * 1024
DECIDE: frozenset[Role] = frozenset({"officer", "supervisor"})
AUDIT: frozenset[Role] = frozenset({"auditor", "supervisor"})
ANYONE: frozenset[Role] = frozenset({"officer", "supervisor", "auditor"})
TID = re.compile(r"[A-Za-z0-9_-]{1,64}")


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


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
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
                return _error(401, "not logged in (or the session expired)")
            if change and request.headers.get("x-csrf-token") != session.csrf:
                return _error(403, "missing or wrong CSRF token")
            if session.user.role not in roles:
                return _error(403, f"the {session.user.role} role may not do this")
            try:
                return await handler(request, session)
            except ApiError as exc:
                return _error(exc.status, str(exc))

        return run

    return wrap


async def _json_body(request: Request, *keys: str) -> dict[str, str]:
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


def _lane_name(request: Request, hall: Hall) -> str:
    lane = str(request.path_params["lane"])
    if not NAME.fullmatch(lane) or hall.lane_view(lane) is None:
        raise ApiError(404, f"unknown lane {lane[:40]!r}")
    return lane


def _image(data: bytes | None) -> Response:
    if data is None:
        raise ApiError(404, "no such image")
    return Response(data, media_type="image/jpeg")


def _send(console: Console, site: str, lane: str, action: OfficerAction) -> None:
    payload = encode_command(action.kind, action.officer, action.reason, action.subject)
    if not console.commands.command(site, lane, payload):
        raise ApiError(503, f"lane {lane} is not reachable now; nothing was sent")


def _action(kind: str, session: Session, reason: str, subject: str = "") -> OfficerAction:
    try:
        return OfficerAction(kind, session.user.name, reason, subject)  # type: ignore[arg-type]
    except GateError as exc:
        raise ApiError(422, str(exc)) from exc


# -- pages ---------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    return HTMLResponse(pages.login_page(request.query_params.get("failed") == "1"))


async def login(request: Request) -> Response:
    console: Console = request.app.state.console
    client = request.client.host if request.client else "?"
    if console.limiter.blocked(client):
        return _error(429, "too many failed logins; wait a minute")
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        return _error(403, "login from another site")
    form = await request.form()
    name, password = form.get("username"), form.get("password")
    user: User | None = None
    if isinstance(name, str) and isinstance(password, str):
        user = console.users.check(name, password)
    if user is None:
        console.limiter.failed(client)
        log.warning("console: failed login from %s", client)
        return RedirectResponse("/login?failed=1", status_code=303)
    session = console.sessions.create(user)
    log.info("console: %s (%s) logged in", user.name, user.role)
    response = RedirectResponse("/hall", status_code=303)
    response.set_cookie(
        COOKIE, session.token, httponly=True, samesite="strict", secure=console.tls, path="/"
    )
    return response


@endpoint(ANYONE, change=True)
async def logout(request: Request, session: Session) -> Response:
    request.app.state.console.sessions.end(session.token)
    response = JSONResponse({"status": "logged out"})
    response.delete_cookie(COOKIE, path="/")
    return response


async def shell(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return RedirectResponse("/login", status_code=303)
    view = request.url.path.strip("/").split("/")[0] or "hall"
    lane = str(request.path_params.get("lane", ""))
    if lane and not NAME.fullmatch(lane):
        return _error(404, "unknown lane")
    return HTMLResponse(pages.shell(view, lane, session.user.name, session.user.role))


async def static(request: Request) -> Response:
    name = str(request.path_params["name"])
    text = pages.static_file(name)
    if text is None:
        return _error(404, "no such file")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return PlainTextResponse(text, media_type=media)


async def openapi(request: Request) -> Response:
    return JSONResponse(schema())


# -- the JSON API --------------------------------------------------------------------------------
@endpoint(ANYONE)
async def session_info(request: Request, session: Session) -> Response:
    user = session.user
    return JSONResponse({"user": user.name, "role": user.role, "csrf": session.csrf})


@endpoint(ANYONE)
async def hall(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    return JSONResponse(
        {"lanes": console.hall.hall_view(), "rejected_messages": console.hall.rejected}
    )


@endpoint(ANYONE)
async def lane(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    return JSONResponse(console.hall.lane_view(_lane_name(request, console.hall)))


@endpoint(DECIDE)
async def preview(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    return _image(console.hall.preview(_lane_name(request, console.hall)))


@endpoint(DECIDE, change=True)
async def lane_service(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    name = _lane_name(request, console.hall)
    body = await _json_body(request, "service", "reason")
    if body["service"] not in ("open", "closed"):
        raise ApiError(422, "'service' must be 'open' or 'closed'")
    kind = "open_lane" if body["service"] == "open" else "close_lane"
    tile = console.hall.lane_view(name) or {}
    _send(console, str(tile.get("site")), name, _action(kind, session, body["reason"]))
    return JSONResponse({"status": "sent"}, status_code=202)


@endpoint(ANYONE)
async def referrals(request: Request, session: Session) -> Response:
    return JSONResponse({"referrals": request.app.state.console.hall.referral_views()})


def _referral_id(request: Request) -> str:
    rid = str(request.path_params["rid"])
    if not TID.fullmatch(rid):
        raise ApiError(404, "unknown referral")
    return rid


@endpoint(DECIDE)
async def referral_image(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    referral = console.hall.referral(_referral_id(request))
    if referral is None:
        raise ApiError(404, "unknown referral (decided or gone)")
    which = request.path_params["which"]
    if which not in ("chip", "best"):
        raise ApiError(404, "no such image")
    return _image(referral.chip_photo if which == "chip" else referral.best_shot)


@endpoint(DECIDE, change=True)
async def decide(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    rid = _referral_id(request)
    referral = console.hall.referral(rid)
    if referral is None:
        raise ApiError(404, "unknown referral (decided or gone)")
    body = await _json_body(request, "decision", "reason")
    if body["decision"] not in ("accept", "refuse"):
        raise ApiError(422, "'decision' must be 'accept' or 'refuse'")
    action = _action(body["decision"], session, body["reason"], rid)
    _send(console, referral.site, referral.lane, action)
    console.hall.mark_pending(rid, body["decision"])
    return JSONResponse({"status": "sent"}, status_code=202)


@endpoint(ANYONE)
async def alarms(request: Request, session: Session) -> Response:
    return JSONResponse({"alarms": request.app.state.console.hall.alarm_views()})


@endpoint(DECIDE, change=True)
async def acknowledge(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    aid = str(request.path_params["aid"])
    alarm = console.hall.alarm(aid) if TID.fullmatch(aid) else None
    if alarm is None:
        raise ApiError(404, "unknown alarm")
    body = await _json_body(request, "reason")
    _send(console, alarm.site, alarm.lane, _action("acknowledge", session, body["reason"], aid))
    console.hall.acknowledge(aid, session.user.name)
    return JSONResponse({"status": "sent"}, status_code=202)


def _audit_path(console: Console, lane_name: str) -> Path:
    if not NAME.fullmatch(lane_name) or lane_name not in console.audit_logs:
        raise ApiError(404, f"no audit log for lane {lane_name[:40]!r}")
    return console.audit_logs[lane_name]


@endpoint(AUDIT)
async def audit_search(request: Request, session: Session) -> Response:
    from gate.console.audit_view import search

    console: Console = request.app.state.console
    query = request.query_params
    lanes = [query["lane"]] if query.get("lane") else sorted(console.audit_logs)
    try:
        limit = int(query.get("limit", "200"))
    except ValueError as exc:
        raise ApiError(422, "'limit' must be a whole number") from exc
    if not 1 <= limit <= 1000:
        raise ApiError(422, "'limit' must be 1 to 1000")
    rows: list[dict[str, Any]] = []
    for name in lanes:
        rows += search(_audit_path(console, name), name, query.get("text", ""), limit)
    rows.sort(key=lambda row: float(row["finished_at"]), reverse=True)
    return JSONResponse({"rows": rows[:limit], "lanes": sorted(console.audit_logs)})


@endpoint(AUDIT)
async def audit_export(request: Request, session: Session) -> Response:
    from gate.audit import AuditLog

    console: Console = request.app.state.console
    name = str(request.path_params["lane"])
    path = _audit_path(console, name)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise ApiError(422, "'format' must be csv or json")
    try:
        with AuditLog.open_readonly(path) as audit_log:
            text = audit_log.export(fmt)
    except GateError as exc:
        raise ApiError(409, f"audit log of lane {name} not readable: {exc}") from exc
    log.info("console: %s exported the audit log of lane %s", session.user.name, name)
    return PlainTextResponse(
        text,
        media_type="text/csv" if fmt == "csv" else "application/json",
        headers={"Content-Disposition": f'attachment; filename="audit-{name}.{fmt}"'},
    )


@endpoint(ANYONE)
async def metrics(request: Request, session: Session) -> Response:
    return JSONResponse(plots.metrics(request.app.state.console.hall.history()))


@endpoint(ANYONE)
async def plot(request: Request, session: Session) -> Response:
    svg = plots.plot(str(request.path_params["name"]), request.app.state.console.hall.history())
    if svg is None:
        raise ApiError(404, "no such plot")
    return Response(svg, media_type="image/svg+xml")


@endpoint(ANYONE)
async def events(request: Request, session: Session) -> Response:
    """Server-sent events: every change in the hall, as it arrives (no images)."""
    console: Console = request.app.state.console
    loop = asyncio.get_running_loop()
    updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

    def listener(update: dict[str, Any]) -> None:
        def put() -> None:
            if not updates.full():
                updates.put_nowait(update)

        loop.call_soon_threadsafe(put)

    async def stream() -> AsyncIterator[str]:
        console.hall.listen(listener)
        try:
            yield "retry: 1000\n\n"
            quiet = 0
            while not console.stopping() and console.sessions.alive(session.token):
                try:
                    update = await asyncio.wait_for(updates.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    quiet += 1
                    if quiet % 20 == 0:
                        yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(update)}\n\n"
        finally:
            console.hall.unlisten(listener)

    return StreamingResponse(stream(), media_type="text/event-stream")


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
            await _error(413, f"request body over {self.max_body} bytes")(scope, receive, send)
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
            await _error(exc.status, str(exc))(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) as JSON like ours."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return _error(status, str(detail))


def create_app(console: Console) -> ASGIApp:
    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", shell),
        Route("/hall", shell),
        Route("/lanes/{lane}", shell),
        Route("/referrals", shell),
        Route("/alarms", shell),
        Route("/audit", shell),
        Route("/metrics", shell),
        Route("/static/{name}", static),
        Route("/api/openapi.json", openapi),
        Route("/api/session", session_info),
        Route("/api/hall", hall),
        Route("/api/lanes/{lane}", lane),
        Route("/api/lanes/{lane}/preview.jpg", preview),
        Route("/api/lanes/{lane}/service", lane_service, methods=["POST"]),
        Route("/api/referrals", referrals),
        Route("/api/referrals/{rid}/{which}.jpg", referral_image),
        Route("/api/referrals/{rid}/decision", decide, methods=["POST"]),
        Route("/api/alarms", alarms),
        Route("/api/alarms/{aid}/ack", acknowledge, methods=["POST"]),
        Route("/api/audit", audit_search),
        Route("/api/audit/{lane}/export", audit_export),
        Route("/api/metrics", metrics),
        Route("/plots/{name}.svg", plot),
        Route("/api/events", events),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.console = console
    return Guard(app)
