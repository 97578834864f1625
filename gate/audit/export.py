"""The audit chain as CSV or JSON for auditors: every row with its kind and MAC, so a copy
can be checked (``egate audit verify --export FILE``) by whoever holds the key.

Reading an export back trusts nothing: the file is read through the hardened reader (no
FIFO, folder or device, bounded size), JSON through ``gate.audit.jsontext`` (bounded
nesting, long numbers kept as markers) and CSV with exact text for numbers: a cell is
converted only when egate would have written exactly that text (``0.260`` is not ``0.26``),
so any change of any cell changes what the MAC covers or fails the row's type check.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from gate.audit.columns import EXPORT_COLUMNS
from gate.audit.jsontext import load_json
from gate.audit.rows import Undecodable, describe_value
from gate.errors import AuditError
from gate.files import read_regular_file

MAX_EXPORT_BYTES = 1 << 30
MAX_EXPORT_DEPTH = 16  # rows are 2 deep; a little more is parsed so the row check names it
_ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")
_FLOAT_COLUMNS = frozenset({"started_at", "finished_at", "score", "threshold"})
_NULLABLE = frozenset(
    {
        "score", "threshold", "pack_id", "document_hash", "passive_auth", "active_auth",
        "chip_auth", "liveness",
    }
)  # fmt: skip
# The columns of an export made before schema 4 (no liveness column): still read.
_BEFORE_LIVENESS = tuple(name for name in EXPORT_COLUMNS if name != "liveness")


def render(rows: Sequence[Mapping[str, object]], fmt: str) -> str:
    if fmt not in ("csv", "json"):
        raise AuditError(f"unknown export format {fmt!r}: use csv or json")
    for position, row in enumerate(rows, start=1):
        for name in EXPORT_COLUMNS:
            value = row.get(name)
            if isinstance(value, bytes | Undecodable):
                raise AuditError(
                    f"audit export: row #{position} in order, field {name} is "
                    f"{describe_value(value)}, not text: the database was changed outside "
                    "egate (egate audit verify names the first change)"
                )
    if fmt == "json":
        # stage_ms stays the stored text: the MAC covers those exact bytes.
        return json.dumps([dict(row) for row in rows], indent=2) + "\n"
    buffer = io.StringIO()
    # CRLF (RFC 4180): the writer then quotes a field holding a lone CR or LF, so every
    # field reads back exactly (with "\n" alone, a CR inside a field would split the row).
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_export(path: Path) -> list[object]:
    """The rows of the export at ``path`` (JSON or CSV, told apart by the first character),
    each as parsed: the chain's walk type-checks them."""
    raw = read_regular_file(path, "audit export", max_bytes=MAX_EXPORT_BYTES, error=AuditError)
    return parse_export(raw, f"audit export {path}")


def parse_export(raw: bytes, source: str) -> list[object]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuditError(f"{source}: not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise AuditError(f"{source}: empty, not an audit export")
    if text.lstrip()[0] in "[{":
        return parse_json_export(text, source)
    return parse_csv_export(text, source)


def parse_json_export(text: str, source: str) -> list[object]:
    """Rows of a JSON export, for verification of a copy; errors name the file."""
    data = load_json(text, source, MAX_EXPORT_DEPTH)
    if not isinstance(data, list):
        raise AuditError(f"{source}: not a JSON audit export (expected a list of rows)")
    return list(data)


def parse_csv_export(text: str, source: str) -> list[object]:
    """Rows of a CSV export: numbers converted only from the exact text egate writes, an
    empty cell of a nullable column read as null; anything else stays text."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:  # a field over csv's limit (128 KiB) or a stray quote is a csv.Error
        lines = list(reader)
    except csv.Error as exc:
        raise AuditError(
            f"{source}: not a CSV audit export (line {reader.line_num}: {exc})"
        ) from exc
    columns = tuple(lines[0]) if lines else ()
    if columns not in (EXPORT_COLUMNS, _BEFORE_LIVENESS):
        raise AuditError(
            f"{source}: not an audit export (the first line must name the columns "
            f"{','.join(EXPORT_COLUMNS)})"
        )
    rows: list[object] = []
    for number, cells in enumerate(lines[1:], start=1):
        if len(cells) != len(columns):
            raise AuditError(
                f"{source}: row #{number} in order has {len(cells)} fields, expected {len(columns)}"
            )
        named = zip(columns, cells, strict=True)
        rows.append({name: _cell(name, cell) for name, cell in named})
    return rows


def _cell(name: str, text: str) -> object:
    if name in _NULLABLE and text == "":
        return None
    if name == "id":
        return int(text) if _ID_TEXT.fullmatch(text) else text
    if name in _FLOAT_COLUMNS and text.isascii() and len(text) <= 40:
        try:
            value = float(text)
        except ValueError:
            return text
        return value if math.isfinite(value) and repr(value) == text else text
    return text
