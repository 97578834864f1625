"""The audit log: one SQLite row per transaction, committed before the next traveller.

Durability: WAL journal with ``synchronous=FULL`` so a committed row survives a SIGKILL or a
power cut. Privacy: no images, no templates, no MRZ. The document number is stored only as
an HMAC-SHA256 under a random per-installation salt kept beside the database (mode 0600), so
an auditor holding the salt can check "was passport X here?" while the table alone reveals
nothing.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from gate.errors import AuditError

SCHEMA_VERSION = 1
SALT_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL UNIQUE,
    started_at     REAL NOT NULL,
    finished_at    REAL NOT NULL,
    outcome        TEXT NOT NULL,
    score          REAL,
    threshold      REAL,
    pack_id        TEXT,
    document_hash  TEXT,
    passive_auth   TEXT,
    active_auth    TEXT,
    stage_ms       TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS transactions_started ON transactions(started_at);
"""

EXPORT_COLUMNS = (
    "id",
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
)


@dataclass(frozen=True)
class AuditRecord:
    """What the gate reports about one transaction (the raw document number is hashed)."""

    transaction_id: str
    started_at: float
    finished_at: float
    outcome: str
    score: float | None = None
    threshold: float | None = None
    pack_id: str | None = None
    document_number: str | None = field(default=None, repr=False)
    passive_auth: str | None = None
    active_auth: str | None = None
    stage_ms: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""


def _load_or_create_salt(path: Path) -> bytes:
    try:
        if path.exists():
            salt = path.read_bytes()
            if len(salt) != SALT_BYTES:
                raise AuditError(
                    f"audit salt file {path} is {len(salt)} bytes, expected {SALT_BYTES}"
                )
            return salt
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_bytes(SALT_BYTES)
        # O_EXCL: two gates starting together must not overwrite each other's salt.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(salt)
            out.flush()
            os.fsync(out.fileno())
        return salt
    except FileExistsError:
        return _load_or_create_salt(path)
    except OSError as exc:
        raise AuditError(f"cannot read or create the audit salt file {path}: {exc}") from exc


def hash_document_number(salt: bytes, number: str) -> str:
    """HMAC-SHA256 of the normalised document number (upper case, no filler '<')."""
    normalised = number.strip().upper().rstrip("<")
    return hmac.new(salt, normalised.encode("ascii", "replace"), hashlib.sha256).hexdigest()


class AuditLog:
    """Append-only transaction log in SQLite (WAL). Use :meth:`open`."""

    def __init__(self, connection: sqlite3.Connection, path: Path, salt: bytes) -> None:
        self._db = connection
        self.path = path
        self._salt = salt

    @classmethod
    def open(cls, path: Path | str, salt_path: Path | str | None = None) -> AuditLog:
        path = Path(path)
        salt_file = Path(salt_path) if salt_path is not None else path.with_suffix(".salt")
        salt = _load_or_create_salt(salt_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                db.close()
                raise AuditError(
                    f"audit database {path} has schema version {version}; "
                    f"this egate understands up to {SCHEMA_VERSION}"
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
            if integrity != "ok":
                db.close()
                raise AuditError(f"audit database {path} failed its integrity check: {integrity}")
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open the audit database {path}: {exc}") from exc
        return cls(db, path, salt)

    def page_count(self) -> int:
        """The database's size in SQLite pages."""
        try:
            return int(self._db.execute("PRAGMA page_count").fetchone()[0])
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit database {self.path}: {exc}") from exc

    def limit_pages(self, pages: int | None) -> None:
        """Cap the database at ``pages`` pages (``None``: SQLite's own maximum).

        A quota for a kiosk's small disk: past it a write fails as on a full disk
        (``AuditError``), the lane fails safe, and the log works again once raised.
        """
        limit = 1_073_741_823 if pages is None else int(pages)  # SQLite's largest
        try:
            self._db.execute(f"PRAGMA max_page_count = {limit}")
        except sqlite3.Error as exc:
            raise AuditError(f"cannot limit the audit database {self.path}: {exc}") from exc

    def record(self, rec: AuditRecord) -> int:
        """Commit one transaction row durably and return its row id."""
        doc_hash = (
            hash_document_number(self._salt, rec.document_number) if rec.document_number else None
        )
        row = (
            rec.transaction_id,
            rec.started_at,
            rec.finished_at,
            rec.outcome,
            rec.score,
            rec.threshold,
            rec.pack_id,
            doc_hash,
            rec.passive_auth,
            rec.active_auth,
            json.dumps({k: round(float(v), 3) for k, v in rec.stage_ms.items()}, sort_keys=True),
            rec.detail,
        )
        try:
            with self._db:  # BEGIN ... COMMIT, or ROLLBACK on error
                self._db.execute("BEGIN IMMEDIATE")
                cursor = self._db.execute(
                    "INSERT INTO transactions (transaction_id, started_at, finished_at, outcome,"
                    " score, threshold, pack_id, document_hash, passive_auth, active_auth,"
                    " stage_ms, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
        except sqlite3.Error as exc:
            self._rollback_quietly()
            raise AuditError(
                f"audit record for transaction {rec.transaction_id} not written to "
                f"{self.path}: {exc}"
            ) from exc
        row_id = cursor.lastrowid
        if row_id is None:  # pragma: no cover - sqlite always sets it after INSERT
            raise AuditError(f"audit database {self.path} returned no row id")
        return row_id

    def _rollback_quietly(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error is the one worth reporting

    def document_hash(self, number: str) -> str:
        """The hash this installation stores for ``number`` (for an auditor's look-up)."""
        return hash_document_number(self._salt, number)

    def count(self) -> int:
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM transactions").fetchone()[0])
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit database {self.path}: {exc}") from exc

    def rows(self, since: float | None = None) -> Iterator[dict[str, object]]:
        """Transactions in commit order, optionally those started at or after ``since``."""
        query = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM transactions"
        params: tuple[float, ...] = ()
        if since is not None:
            query += " WHERE started_at >= ?"
            params = (since,)
        query += " ORDER BY id"
        try:
            for values in self._db.execute(query, params):
                yield dict(zip(EXPORT_COLUMNS, values, strict=True))
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit database {self.path}: {exc}") from exc

    def export(self, fmt: str = "csv", since: float | None = None) -> str:
        rows = list(self.rows(since))
        if fmt == "json":
            for row in rows:
                row["stage_ms"] = json.loads(str(row["stage_ms"]))
            return json.dumps(rows, indent=2) + "\n"
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            return buffer.getvalue()
        raise AuditError(f"unknown export format {fmt!r}: use csv or json")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
