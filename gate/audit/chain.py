"""The tamper-evident chain over the audit log's rows.

Each row carries ``mac = HMAC-SHA256(key, previous row's mac || canonical(row))``, where the
canonical form is the row's id and every content column, in a fixed order, as compact JSON.
Every field is type-checked first (``gate.audit.rows``), and ids must run 1, 2, 3 ... in
order. Changing a value or a type, deleting or inserting a row, or swapping two rows breaks
the chain at the first row concerned. Rows cut off at the newest end (truncation) leave a
valid, shorter chain: a signed chain head (``gate.audit.head``) that covers more rows, or
whose last MAC differs, shows it.

The key is derived from the installation's secret file (0600, kept apart from the rows), so
an auditor with a copy of the database and of the key can check it, and one with the rows
alone cannot forge them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gate.audit.columns import CHAINED_COLUMNS, OPTIONAL_COLUMNS
from gate.audit.head import ChainHead
from gate.audit.rows import row_label, row_problem

GENESIS = ""  # the "previous MAC" of the first row
_KEY_LABEL = b"egate audit chain/1"

__all__ = ["CHAINED_COLUMNS", "GENESIS", "ChainReport", "ChainStatus", "chain_key", "verify_chain"]


def chain_key(secret: bytes) -> bytes:
    """The chain's HMAC key, derived from the installation secret (not the secret itself,
    which also keys the document-number hashes)."""
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def canonical(row: Mapping[str, object]) -> bytes:
    """The row's chained content as bytes: compact JSON of ``CHAINED_COLUMNS`` in order."""
    values = [row.get(name) for name in CHAINED_COLUMNS]
    optional = len(OPTIONAL_COLUMNS)
    while optional and values[-1] is None:  # trailing NULLs of the later columns
        values.pop()
        optional -= 1
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def row_mac(key: bytes, previous: str, row: Mapping[str, object]) -> str:
    return hmac.new(key, previous.encode("ascii") + canonical(row), hashlib.sha256).hexdigest()


class ChainStatus(enum.Enum):
    INTACT = "intact"
    BROKEN = "broken"


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found. ``status`` says intact or broken; a broken report always
    carries a reason (and, when one row is to blame, ``where``: that row)."""

    status: ChainStatus
    rows: int  # rows read before the verdict
    where: str = ""
    reason: str = ""
    note: str = ""  # an intact chain's extra (the checkpoint it matched)

    def __post_init__(self) -> None:
        if self.status is ChainStatus.BROKEN and not self.reason:
            raise ValueError("a broken chain report needs a reason")
        if self.status is ChainStatus.INTACT and (self.where or self.reason):
            raise ValueError("an intact chain report names no bad row")

    @classmethod
    def intact(cls, rows: int, note: str = "") -> ChainReport:
        return cls(ChainStatus.INTACT, rows, note=note)

    @classmethod
    def broken(cls, rows: int, reason: str, where: str = "") -> ChainReport:
        return cls(ChainStatus.BROKEN, rows, where, reason)

    @property
    def ok(self) -> bool:
        return self.status is ChainStatus.INTACT

    def describe(self) -> str:
        if self.status is ChainStatus.INTACT:
            return f"audit chain intact: {self.rows} rows" + (f"; {self.note}" if self.note else "")
        at = f" at {self.where}" if self.where else ""
        return f"audit chain broken{at}: {self.reason}"


def _missing(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}-{last}"


def verify_chain(key: bytes, rows: Iterable[object], head: ChainHead | None = None) -> ChainReport:
    """Walk the rows in order and name the first that is not well typed, not next in order,
    or whose MAC does not follow; with ``head`` (a checkpoint already checked for its
    signature), also name rows missing at the end and a chain rewritten after it."""
    previous = GENESIS
    last_id = 0
    for position, row in enumerate(rows, start=1):
        where = row_label(row, position)
        problem = row_problem(row)
        if problem is not None:
            return ChainReport.broken(position, problem, where)
        assert isinstance(row, Mapping)  # row_problem checked it
        row_id = int(row["id"])
        if row_id > last_id + 1:
            gone = _missing(last_id + 1, row_id - 1)
            verb = "is" if row_id == last_id + 2 else "are"
            why = (
                "deleted, or left out of an export made with --since" if not last_id else "deleted"
            )
            return ChainReport.broken(position, f"{gone} before it {verb} missing ({why})", where)
        if row_id <= last_id:
            return ChainReport.broken(
                position, f"it follows row {last_id}: rows repeated or out of order", where
            )
        stored = str(row["mac"])
        if not hmac.compare_digest(row_mac(key, previous, row), stored):
            return ChainReport.broken(
                position, "its MAC does not match: the row was changed, inserted or moved", where
            )
        if head is not None and row_id == head.rows and stored != head.last_mac:
            return ChainReport.broken(
                position, f"it differs from {head.describe()}: the chain was rewritten", where
            )
        previous, last_id = stored, row_id
    if head is not None and last_id < head.rows:
        after = f" after row {last_id}" if last_id else " (the log holds no row)"
        return ChainReport.broken(
            last_id,
            f"{_missing(last_id + 1, head.rows)} missing{after}: "
            f"{head.describe()} covers {head.rows} rows",
        )
    note = f"{head.describe()} covers {head.rows} of them" if head is not None else ""
    return ChainReport.intact(last_id, note)
