"""The shift report: what each lane did in the last hours, as the console saw it: travellers
and their outcomes, referrals by reason, the officers' decisions (from the console's
store), alarms and how many were acknowledged. For supervisors and auditors, as JSON or CSV;
no photo, name or document number is ever in it."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gate.console.endpoints import AUDIT, ApiError, Console, endpoint, log
from gate.console.users import Session


def shift_report(console: Console, hours: float) -> dict[str, Any]:
    since = time.time() - hours * 3600
    lanes: dict[str, dict[str, Any]] = {}

    def lane(name: str) -> dict[str, Any]:
        return lanes.setdefault(
            name, {"travellers": 0, "outcomes": Counter(), "decisions": Counter(), "alarms": 0,
                   "acknowledged": 0}
        )  # fmt: skip

    for name, at, decision, _ in console.hall.history():
        if at >= since:
            lane(name)["travellers"] += 1
            lane(name)["outcomes"][decision] += 1
    for alarm in console.hall.alarm_views():
        if alarm["at"] >= since:
            lane(alarm["lane"])["alarms"] += 1
            lane(alarm["lane"])["acknowledged"] += bool(alarm["acknowledged_by"])
    store = console.hall.store
    for attempt in store.attempts() if store is not None else []:
        if attempt["at"] >= since and attempt["lane"]:
            sent = attempt["result"] == "sent"
            key = f"{attempt['officer']} {attempt['decision']}{'' if sent else ' (refused)'}"
            lane(attempt["lane"])["decisions"][key] += 1
    return {
        "since": since,
        "until": time.time(),
        "lanes": {name: {k: dict(v) if isinstance(v, Counter) else v for k, v in row.items()}
                  for name, row in sorted(lanes.items())},
    }  # fmt: skip


def _csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["lane", "what", "count"])
    for name, row in report["lanes"].items():
        for what in ("travellers", "alarms", "acknowledged"):
            writer.writerow([name, what, row[what]])
        for group in ("outcomes", "decisions"):
            for key, count in sorted(row[group].items()):
                writer.writerow([name, f"{group[:-1]} {key}", count])
    return out.getvalue()


@endpoint(AUDIT)
async def report(request: Request, session: Session) -> Response:
    console: Console = request.app.state.console
    try:
        hours = float(request.query_params.get("hours", "8"))
    except ValueError as exc:
        raise ApiError(422, "'hours' must be a number") from exc
    if not 0 < hours <= 168:
        raise ApiError(422, "'hours' must be more than 0 and at most 168")
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(422, "'format' must be json or csv")
    made = shift_report(console, hours)
    log.info("console: %s took the shift report (%g h)", session.user.name, hours)
    if fmt == "json":
        return JSONResponse(made)
    return PlainTextResponse(
        _csv(made),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="shift-report.csv"'},
    )
