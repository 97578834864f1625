"""The auditor's search and export of a lane's audit log (opened read-only for each request)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gate.audit import AuditLog
from gate.console.endpoints import AUDIT, ApiError, Console, endpoint, log
from gate.console.users import Session
from gate.console.wire import NAME
from gate.errors import GateError

SHOWN = ("kind", "transaction_id", "started_at", "finished_at", "outcome", "score")
SHOWN_TOO = ("passive_auth", "active_auth", "chip_auth", "detail")


def search(path: Path, lane: str, text: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` rows whose id, outcome or detail contains ``text`` (any case)."""
    needle = text.strip().lower()[:100]
    try:
        with AuditLog.open_readonly(path) as audit_log:
            entries = list(audit_log.entries())
    except GateError as exc:
        return [{"lane": lane, "error": str(exc), "finished_at": 0.0}]
    rows: list[dict[str, Any]] = []
    for entry in reversed(entries):
        haystack = " ".join(str(entry[k]) for k in ("transaction_id", "outcome", "detail"))
        if needle and needle not in haystack.lower():
            continue
        rows.append(_row_view(entry, lane))
        if len(rows) >= limit:
            break
    return rows


def _row_view(entry: dict[str, Any], lane: str) -> dict[str, Any]:
    """A row as the audit page shows it. A log may have been edited by hand (a BLOB where
    text belongs, a ``stage_ms`` that is not JSON): such a field is shown as unreadable and
    the row says which, instead of the whole search failing (``egate audit verify`` names
    the break in the chain)."""
    row: dict[str, Any] = {"lane": lane}
    bad: list[str] = []
    for key in (*SHOWN, *SHOWN_TOO):
        value = entry.get(key)
        if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
            row[key] = value if not isinstance(value, float) or math.isfinite(value) else None
        else:
            row[key], bad = None, [*bad, key]
    try:
        stage_ms = json.loads(str(entry.get("stage_ms") or "{}"))
    except (ValueError, RecursionError):
        stage_ms = None
    if isinstance(stage_ms, dict) and all(
        isinstance(v, int | float) and math.isfinite(v) for v in stage_ms.values()
    ):
        row["stage_ms"] = stage_ms
    else:
        row["stage_ms"], bad = {}, [*bad, "stage_ms"]
    if not isinstance(row.get("finished_at"), int | float):
        row["finished_at"] = 0.0
    if bad:
        row["error"] = f"unreadable field(s) {', '.join(bad)}: the log was edited"
    return row


def attempts(console: Console, lane: str | None, text: str) -> list[dict[str, Any]]:
    """The officers' decision attempts as the console saw them (refused ones included:
    a lost lane, a traveller who left, a role, a decision after another's), as rows."""
    assert console.hall.store is not None
    needle, rows = text.strip().lower()[:100], []
    for a in console.hall.store.attempts():
        if lane and a["lane"] != lane:
            continue
        sent = a["result"] == "sent"
        row = {k: None for k in (*SHOWN, *SHOWN_TOO)} | {
            "kind": "console",
            "lane": a["lane"] or "-",
            "transaction_id": a["rid"],
            "finished_at": a["at"],
            "outcome": f"CONSOLE_{a['decision'].upper()}{'' if sent else '_REFUSED'}",
            "detail": f"officer {a['officer']} ({a['role']}): {a['result']}",
            "stage_ms": {},
        }
        if not needle or needle in " ".join(str(row[k]) for k in SHOWN_TOO + SHOWN).lower():
            rows.append(row)
    return rows


def _audit_path(console: Console, lane_name: str) -> Path:
    if not NAME.fullmatch(lane_name) or lane_name not in console.audit_logs:
        raise ApiError(404, f"no audit log for lane {lane_name[:40]!r}")
    return console.audit_logs[lane_name]


@endpoint(AUDIT)
async def audit_search(request: Request, session: Session) -> Response:
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
    if console.hall.store is not None:
        rows += attempts(console, query.get("lane"), query.get("text", ""))
    rows.sort(key=lambda row: float(row["finished_at"]), reverse=True)
    return JSONResponse({"rows": rows[:limit], "lanes": sorted(console.audit_logs)})


@endpoint(AUDIT)
async def audit_export(request: Request, session: Session) -> Response:
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
