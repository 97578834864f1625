"""The tamper-evident chain over the audit log's rows.

Each row carries ``mac = HMAC-SHA256(key, previous row's mac || canonical(row))``, where the
canonical form is the row's id and every content column, in a fixed order, as compact JSON.
Changing a value, deleting or inserting a row, or swapping two rows breaks the chain at the
first row concerned. What it cannot show: rows cut off at the newest end (truncation) leave a
valid, shorter chain, unless the newest MAC is kept elsewhere (``docs/reliability.md``).

The key is derived from the installation's secret file (0600, kept apart from the rows), so
an auditor with a copy of the database and of the key can check it, and one with the rows
alone cannot forge them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Columns covered by the MAC, in chain order (``id`` binds a row to its place).
CHAINED_COLUMNS = (
    "id",
    "kind",
    "transaction_id",
    "started_at",
    "finished_at",
    "outcome",
    "score",
    "threshold",
    "pack_id",
    "document_hash",
    "passive_auth",
    "active_auth",
    "stage_ms",
    "detail",
    "chip_auth",  # since schema 3; left out of the MAC while NULL, so older rows still verify
)
GENESIS = ""  # the "previous MAC" of the first row
_KEY_LABEL = b"egate audit chain/1"


def chain_key(secret: bytes) -> bytes:
    """The chain's HMAC key, derived from the installation secret (not the secret itself,
    which also keys the document-number hashes)."""
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def canonical(row: Mapping[str, object]) -> bytes:
    """The row's chained content as bytes: compact JSON of ``CHAINED_COLUMNS`` in order."""
    values = [row.get(name) for name in CHAINED_COLUMNS]
    if values[-1] is None:
        values.pop()
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def row_mac(key: bytes, previous: str, row: Mapping[str, object]) -> str:
    return hmac.new(key, previous.encode("ascii") + canonical(row), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: ``ok``, how many rows it checked, and the first bad row."""

    rows: int
    bad_id: int | None = None
    bad_transaction: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bad_id is None

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.rows} rows"
        return (
            f"audit chain broken at row {self.bad_id} (transaction {self.bad_transaction}): "
            f"{self.reason}"
        )


def verify_chain(key: bytes, rows: Iterable[Mapping[str, object]]) -> ChainReport:
    """Walk the rows in id order and name the first whose MAC does not follow."""
    previous = GENESIS
    count = 0
    last_id: int | None = None
    for row in rows:
        count += 1
        row_id = _as_int(row.get("id"))
        expected = row_mac(key, previous, row)
        stored = str(row.get("mac") or "")
        if not hmac.compare_digest(expected, stored):
            gap = last_id is not None and row_id is not None and row_id != last_id + 1
            reason = (
                "a row before it is missing (deleted)"
                if gap
                else "its MAC does not match: the row was changed, inserted or moved"
            )
            return ChainReport(count, row_id, str(row.get("transaction_id")), reason)
        previous = stored
        last_id = row_id
    return ChainReport(count)


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) else None
