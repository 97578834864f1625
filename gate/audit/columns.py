"""The columns of a chained row, in chain order (``id`` binds a row to its place)."""

from __future__ import annotations

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
    "liveness",  # since schema 4 (JSON of numbers: score, cues, challenge); likewise
)
# Columns added to the chain later: a NULL at the end of a row is left out of its MAC (so a
# row written before the column existed verifies unchanged), and an export made before
# them may lack them (read as NULL).
OPTIONAL_COLUMNS = ("chip_auth", "liveness")
EXPORT_COLUMNS = (*CHAINED_COLUMNS, "mac")
