"""The audit chain as CSV or JSON for auditors: every row with its kind and MAC, so a copy
can be checked (``egate audit verify --export FILE``) by whoever holds the key."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

from gate.audit.chain import CHAINED_COLUMNS
from gate.errors import AuditError

EXPORT_COLUMNS = (*CHAINED_COLUMNS, "mac")


def render(rows: Sequence[Mapping[str, object]], fmt: str) -> str:
    if fmt == "json":
        # stage_ms stays the stored text: the MAC covers those exact bytes.
        return json.dumps([dict(row) for row in rows], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    raise AuditError(f"unknown export format {fmt!r}: use csv or json")


def parse_json_export(text: str, source: str) -> list[dict[str, object]]:
    """Rows of a JSON export, for verification of a copy; errors name the file."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuditError(f"{source}: not a JSON audit export ({exc.msg})") from exc
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise AuditError(f"{source}: not a JSON audit export (expected a list of rows)")
    rows: list[dict[str, object]] = data
    missing = [c for c in EXPORT_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise AuditError(f"{source}: not a JSON audit export (missing {', '.join(missing)})")
    return rows
