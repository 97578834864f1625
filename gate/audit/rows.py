"""The type of every field of a chained row, checked before the row's MAC is computed.

A row read back from the database or from an export is only trusted once each field has
exactly the type egate writes: a row whose ``id`` is the text ``"5"`` or the number ``5.0``,
whose ``detail`` is a BLOB or whose ``mac`` is not 64 lowercase hex digits is a changed row,
named with the field, never a crash and never a chain that stops early and looks intact.

Values found in a file are never echoed (a forged field may carry anything); a refusal names
the row, the field and what kind of value it holds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gate.audit.columns import EXPORT_COLUMNS

MAX_ID = (1 << 63) - 1  # SQLite's largest integer
_MAC = re.compile(r"[0-9a-f]{64}")
_SAFE_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
KINDS = ("decision", "result")


@dataclass(frozen=True)
class Oversized:
    """A JSON number too long to be any field (it is not converted: a 5,000-digit integer
    would cost quadratic time and Python refuses it)."""

    digits: int


@dataclass(frozen=True)
class NonFinite:
    """``NaN``, ``Infinity`` or ``-Infinity`` in a JSON export (not JSON, but Python's
    ``json`` accepts them)."""

    name: str


@dataclass(frozen=True)
class Undecodable:
    """Text in the database that is not valid UTF-8 (SQLite stores whatever it is given)."""

    size: int


def describe_value(value: object) -> str:
    """What kind of value ``value`` is, in words, without its content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer" if abs(value) <= MAX_ID else "an integer out of range"
    if isinstance(value, float):
        return "a number" if math.isfinite(value) else "a number that is not finite"
    if isinstance(value, str):
        if not value.isascii():
            return "text with non-ASCII characters"
        return "text"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"a BLOB ({len(value)} bytes)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, Oversized):
        return f"a number of {value.digits} digits"
    if isinstance(value, NonFinite):
        return f"{value.name} (not a finite number)"
    if isinstance(value, Undecodable):
        return f"text that is not UTF-8 ({value.size} bytes)"
    return f"a {type(value).__name__}"


def _is_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _is_time(value: object) -> bool:
    return type(value) is float and math.isfinite(value)


def _is_number(value: object) -> bool:
    return value is None or _is_time(value)


def _is_text(value: object) -> bool:
    return type(value) is str


def _is_optional_text(value: object) -> bool:
    return value is None or type(value) is str


def _is_kind(value: object) -> bool:
    return type(value) is str and value in KINDS


def _is_mac(value: object) -> bool:
    return type(value) is str and _MAC.fullmatch(value) is not None


# field -> (check, what it must be)
FIELD_TYPES: dict[str, tuple[Callable[[object], bool], str]] = {
    "id": (_is_id, f"an integer from 1 to {MAX_ID}"),
    "kind": (_is_kind, "'decision' or 'result'"),
    "transaction_id": (_is_text, "text"),
    "started_at": (_is_time, "a finite number with a decimal point"),
    "finished_at": (_is_time, "a finite number with a decimal point"),
    "outcome": (_is_text, "text"),
    "score": (_is_number, "a finite number with a decimal point, or null"),
    "threshold": (_is_number, "a finite number with a decimal point, or null"),
    "pack_id": (_is_optional_text, "text or null"),
    "document_hash": (_is_optional_text, "text or null"),
    "passive_auth": (_is_optional_text, "text or null"),
    "active_auth": (_is_optional_text, "text or null"),
    "stage_ms": (_is_text, "text"),
    "detail": (_is_text, "text"),
    "chip_auth": (_is_optional_text, "text or null"),
    "liveness": (_is_optional_text, "text or null"),
    "mac": (_is_mac, "64 lowercase hex digits"),
}
assert tuple(FIELD_TYPES) == EXPORT_COLUMNS


def row_problem(row: object) -> str | None:
    """Why ``row`` is not a well-typed chained row (the first field found wrong), or
    ``None`` when every field has its type."""
    if not isinstance(row, Mapping):
        return f"it is {describe_value(row)}, not a row (an object of fields)"
    # an export made before the liveness column (schema 4) lacks it: read as NULL
    missing = [name for name in EXPORT_COLUMNS if name not in row and name != "liveness"]
    if missing:
        return f"field {missing[0]} is missing"
    extra = sorted(str(name) for name in row if name not in FIELD_TYPES)
    if extra:
        shown = extra[0] if _SAFE_LABEL.fullmatch(extra[0]) else "with an unusual name"
        return f"it has a field egate does not write ({shown})"
    for name, (check, expected) in FIELD_TYPES.items():
        value = row.get(name)
        if not check(value):
            return f"field {name} is {describe_value(value)}, expected {expected}"
    return None


def row_label(row: object, position: int) -> str:
    """How a report names a row: its id and transaction when they are sound, else its
    place in the walk."""
    if not isinstance(row, Mapping) or not _is_id(row.get("id")):
        return f"row #{position} in order"
    tid = row.get("transaction_id")
    label = f"row {row['id']}"
    if isinstance(tid, str) and _SAFE_LABEL.fullmatch(tid):
        label += f" (transaction {tid})"
    return label
