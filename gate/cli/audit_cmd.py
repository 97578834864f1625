"""``egate audit export``: the audit log as CSV or JSON for auditors."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from gate.cli import EXIT_OK, Registry
from gate.errors import AuditError, InputError


def _parse_since(text: str) -> float:
    """Accept a Unix time or an ISO 8601 date/time (UTC when no zone is given)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"--since {text!r} is neither a Unix time nor an ISO date (2026-11-26T08:00)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _export(args: argparse.Namespace) -> int:
    from gate.audit import AuditLog

    db = Path(args.db)
    if not db.is_file():
        raise AuditError(f"audit database {db} does not exist")
    since = _parse_since(args.since) if args.since else None
    with AuditLog.open(db, args.salt) as log:
        text = log.export(args.format, since)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def register(registry: Registry) -> None:
    registry.group("audit", "the transaction audit log")
    p = registry.command("audit export", "export audit records as CSV or JSON", _export)
    p.add_argument("--db", required=True, help="the audit database (SQLite)")
    p.add_argument("--salt", default=None, help="salt file (default: beside the database)")
    p.add_argument("--since", default=None, help="Unix time or ISO date/time (UTC)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
