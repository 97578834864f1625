"""The auditor's search over a lane's audit log (opened read-only for each request)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gate.audit import AuditLog
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
        row: dict[str, Any] = {k: entry.get(k) for k in (*SHOWN, *SHOWN_TOO)}
        row["lane"] = lane
        row["stage_ms"] = json.loads(str(entry["stage_ms"]) or "{}")
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows
