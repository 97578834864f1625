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
import re
import time
from collections.abc import AsyncIterator
from typing import Any

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
from starlette.types import ASGIApp

from gate.console import pages, plots
from gate.console.audit_view import audit_export, audit_search
from gate.console.cards import Referral
from gate.console.endpoints import (
    ANYONE,
    COOKIE,
    DECIDE,
    ApiError,
    Console,
    Guard,
    endpoint,
    error,
    image,
    json_body,
    lane_name,
    log,
    officer_action,
    send,
)
from gate.console.openapi import schema
from gate.console.report import report
from gate.console.users import Session, User
from gate.console.wire import NAME

__all__ = ["Console", "create_app"]
# An event stream looks for the server's stop this often (its shutdown waits for the streams
# to end) and sends a keep-alive comment after this many quiet polls (10 s).
STREAM_POLL_S = 0.1
KEEP_ALIVE_POLLS = 100
TID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# -- pages ---------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    return HTMLResponse(pages.login_page(request.query_params.get("failed") == "1"))


async def login(request: Request) -> Response:
    """The peer is the socket's (uvicorn trusts no proxy header unless ``--trusted-proxy``);
    argon2 runs in a worker thread (a few at a time), never on the event loop, and an
    unknown name costs the same as a known one (a dummy hash)."""
    console: Console = request.app.state.console
    client = request.client.host if request.client else "?"
    if console.limiter.blocked(client):
        return error(429, "too many failed logins; wait a minute")
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        return error(403, "login from another site")
    form = await request.form()
    name, password = form.get("username"), form.get("password")
    account = name[:64] if isinstance(name, str) else ""
    if console.limiter.blocked(client, account):
        return error(429, "too many failed logins for this account; wait a minute")
    user: User | None = None
    if isinstance(name, str) and isinstance(password, str):
        async with console.hashing:
            user = await asyncio.to_thread(console.users.check, name, password)
    if user is None:
        console.limiter.failed(client, account)
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
        return error(404, "unknown lane")
    return HTMLResponse(pages.shell(view, lane, session.user.name, session.user.role))


async def static(request: Request) -> Response:
    name = str(request.path_params["name"])
    text = pages.static_file(name)
    if text is None:
        return error(404, "no such file")
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
    ok, link = console.hall.link_status()
    return JSONResponse(
        {
            "lanes": console.hall.hall_view(),
            "rejected_messages": console.hall.rejected,
            "link": {"ok": ok, "detail": link},
        }
    )


@endpoint(ANYONE)
async def lane(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    return JSONResponse(console.hall.lane_view(lane_name(request, console.hall)))


@endpoint(DECIDE)
async def preview(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    return image(console.hall.preview(lane_name(request, console.hall)))


@endpoint(DECIDE, change=True)
async def lane_service(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    name = lane_name(request, console.hall)
    body = await json_body(request, "service", "reason")
    if body["service"] not in ("open", "closed"):
        raise ApiError(422, "'service' must be 'open' or 'closed'")
    kind = "open_lane" if body["service"] == "open" else "close_lane"
    if not console.hall.lane_alive(name):
        raise ApiError(503, f"lane {name} is lost (no report); nothing was sent")
    tile = console.hall.lane_view(name) or {}
    send(console, str(tile.get("site")), name, officer_action(kind, session, body["reason"]))
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
    return image(referral.chip_photo if which == "chip" else referral.best_shot)


@endpoint(DECIDE, change=True)
async def decide(request: Request, session: Session) -> Response:
    """The first decision on a referral wins: every later one is told who decided, and is
    still passed to the lane (the arbiter, even with several consoles), which records it
    as refused. Every attempt is kept in the console's store with what became of it."""
    console: Console = request.app.state.console
    rid = _referral_id(request)
    body = await json_body(request, "decision", "reason")
    if body["decision"] not in ("accept", "refuse"):
        raise ApiError(422, "'decision' must be 'accept' or 'refuse'")
    action = officer_action(body["decision"], session, body["reason"], rid)
    referral = console.hall.referral(rid)
    if referral is None:
        first = console.hall.claim(rid, session.user.name, session.user.role, action.kind)
        why = f"already decided: {_who(first)}" if first else "unknown referral (decided or gone)"
        _attempt(console, rid, "", session, action.kind, why)
        raise ApiError(409 if first else 404, why)
    refusal = _refusal(console, referral, session, action.kind)
    if refusal is not None:
        _attempt(console, rid, referral.lane, session, action.kind, refusal.args[0])
        raise refusal
    first = console.hall.claim(rid, session.user.name, session.user.role, action.kind)
    try:
        send(console, referral.site, referral.lane, action)
    except ApiError as exc:
        if first is None:
            console.hall.release(rid)
        _attempt(console, rid, referral.lane, session, action.kind, str(exc))
        raise
    if first is not None:
        why = f"{_who(first)} first; the lane takes only the first (yours: recorded as refused)"
        _attempt(console, rid, referral.lane, session, action.kind, f"second: {_who(first)} first")
        raise ApiError(409, why)
    _attempt(console, rid, referral.lane, session, action.kind, "sent")
    return JSONResponse({"status": "sent"}, status_code=202)


def _refusal(console: Console, referral: Referral, session: Session, kind: str) -> ApiError | None:
    """What the console refuses before sending anything (the lane's own rules, and a lane
    that is lost)."""
    if not console.hall.lane_alive(referral.lane):
        return ApiError(503, f"lane {referral.lane} is lost (no report); nothing was sent")
    if kind == "accept":
        if referral.left:
            return ApiError(409, "the traveller has left the lane; no door opens for them")
        if session.user.role not in referral.accept_roles():
            who = " or ".join(referral.accept_roles()) or "nobody"
            return ApiError(403, f"a {referral.decision} may be accepted by {who} only")
    return None


def _who(claim: dict[str, Any]) -> str:
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(claim.get("at") or 0)))
    return f"{claim.get('officer') or 'an officer'} decided {claim.get('decision')} at {at}"


def _attempt(
    console: Console, rid: str, lane: str, session: Session, kind: str, result: str
) -> None:
    log.info(
        "console: %s (%s) %s on referral %s: %s",
        session.user.name,
        session.user.role,
        kind,
        rid,
        result,
    )
    if console.hall.store is not None:
        console.hall.store.attempt(rid, lane, session.user.name, session.user.role, kind, result)


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
    body = await json_body(request, "reason")
    action = officer_action("acknowledge", session, body["reason"], aid)
    send(console, alarm.site, alarm.lane, action)
    console.hall.acknowledge(aid, session.user.name)
    return JSONResponse({"status": "sent"}, status_code=202)


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
            yield f"data: {json.dumps(console.hall.link_update())}\n\n"  # broker up or not
            quiet = 0
            while not console.stopping() and console.sessions.alive(session.token):
                try:
                    update = await asyncio.wait_for(updates.get(), timeout=STREAM_POLL_S)
                except asyncio.TimeoutError:
                    quiet += 1
                    if quiet % KEEP_ALIVE_POLLS == 0:
                        yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(update)}\n\n"
        finally:
            console.hall.unlisten(listener)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) as JSON like ours."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return error(status, str(detail))


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
        Route("/api/report", report),
        Route("/plots/{name}.svg", plot),
        Route("/api/events", events),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.console = console
    return Guard(app)
