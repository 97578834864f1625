"""The audit log: a SQLite table of chained rows, two per transaction.

* ``decision`` rows are written ahead: the lane commits what it decided before any door
  moves for it (the exit for an accepted traveller, the entry for a referred one walking
  back). A gate killed while the door is open has already recorded the ACCEPT.
* ``result`` rows are appended when the transaction ends (passage completed, timed out,
  tailgating, forced door, walked back), linked by ``transaction_id``.

Durability: WAL journal with ``synchronous=FULL``. Integrity: every row carries the MAC of
``gate.audit.chain``. Privacy: no images, no templates, no MRZ; the document number is stored
only as an HMAC-SHA256 under the per-installation secret kept beside the database (0600), so
an auditor holding it can check "was passport X here?" while the table alone reveals nothing.
Auditors open the log read-only (``AuditLog.open_readonly``): nothing is created or changed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from gate.audit.chain import GENESIS, ChainReport, chain_key, row_mac, verify_chain
from gate.audit.columns import EXPORT_COLUMNS
from gate.audit.export import render
from gate.audit.head import ChainHead, head_key, read_head, write_head
from gate.audit.secret import hash_document_number, load_or_create_secret, load_secret
from gate.audit.sqlite_io import check_integrity, connect_readonly, text_or_marker
from gate.errors import AuditError
from gate.sqlite_files import check_database_file

# 3: chip_auth column (Chip Authentication), added to version-2 logs; 4: liveness column
# (the score, each cue and the challenge, JSON of numbers), added to version-2 and -3 logs.
SCHEMA_VERSION = 4
# The columns each older version lacks (read as NULL from a log opened read-only).
_MISSING_IN = {2: ("chip_auth", "liveness"), 3: ("liveness",)}
EntryKind = Literal["decision", "result"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('decision', 'result')),
    transaction_id TEXT NOT NULL,
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
    chip_auth      TEXT,
    liveness       TEXT,
    detail         TEXT NOT NULL DEFAULT '',
    mac            TEXT NOT NULL,
    UNIQUE (transaction_id, kind)
);
CREATE INDEX IF NOT EXISTS entries_started ON entries(started_at);
"""
_LARGEST_PAGE_COUNT = 1_073_741_823  # SQLite's own maximum
CHECKPOINT_EVERY = 100  # rows between two signed chain heads (and one more on close)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpointing:
    """Where and how often the writer signs the chain's head (``gate.audit.head``).
    ``path`` ``None``: beside the database, with the suffix ``.head``."""

    lane: str = ""
    path: Path | None = None
    every: int = CHECKPOINT_EVERY
    # Called with each signed head (its JSON text) once it is on disk, e.g. to publish it to
    # the broker; a failing publisher is logged and never fails the row.
    publish: Callable[[str], None] | None = None


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
    chip_auth: str | None = None
    stage_ms: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    # JSON of numbers and fixed labels: the liveness score, each cue, the challenge asked
    # (``gate.lane.adapters.evidence_json``); never an image or a landmark.
    liveness: str | None = None


class AuditLog:
    """The chained audit log in SQLite (WAL). Use :meth:`open` or :meth:`open_readonly`."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, secret: bytes | None, writable: bool
    ) -> None:
        self._db = connection
        self.path = path
        self._secret = secret
        self.writable = writable
        self.missing: tuple[str, ...] = ()  # columns an older log opened read-only lacks
        self._checkpointing: Checkpointing | None = None
        self._head_path: Path | None = None
        self._tail: tuple[int, str] | None = None  # (id, mac) last written, not yet in a head

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path | str,
        salt_path: Path | str | None = None,
        checkpoint: Checkpointing | None = None,
    ) -> AuditLog:
        """Open (or create) the log for writing; creates the secret file when missing.
        A signed chain head is written every ``checkpoint.every`` rows and on close, and an
        existing one is checked first: a log shorter than its checkpoint is refused."""
        path = Path(path)
        checkpoint = checkpoint or Checkpointing()
        if type(checkpoint.every) is not int or checkpoint.every < 1:
            raise AuditError(f"audit.checkpoint_every: {checkpoint.every!r} must be >= 1 (rows)")
        # Never a FIFO or a folder, and never another program's database: egate's table is
        # not added to it (checked before the secret is made beside it).
        check_database_file(path, "audit database", ("entries",), error=AuditError)
        secret = load_or_create_secret(_secret_path(path, salt_path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
            db.text_factory = text_or_marker
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                db.close()
                raise AuditError(
                    f"audit database {path} has schema version {version}; "
                    f"this egate understands up to {SCHEMA_VERSION}"
                )
            if version == 1:
                db.close()
                raise AuditError(
                    f"audit database {path} is an unchained version-1 log: export it with the "
                    "egate that wrote it and start a new log"
                )
            # The chain stays valid: a NULL in a later column is not in the MAC. Only the
            # columns really missing are added (a log may have been upgraded half-way).
            present = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
            for column in _MISSING_IN.get(version, ()):
                if column not in present:
                    db.execute(f"ALTER TABLE entries ADD COLUMN {column} TEXT")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            check_integrity(db, path)
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open the audit database {path}: {exc}") from exc
        opened = cls(db, path, secret, writable=True)
        try:
            opened._start_checkpoints(checkpoint)
        except BaseException:
            opened.close()
            raise
        return opened

    @classmethod
    def open_readonly(cls, path: Path | str, salt_path: Path | str | None = None) -> AuditLog:
        """Open an existing log read-only (``mode=ro``): no secret, table or journal mode is
        created, and a SQLite file that is not an egate audit log is refused. The secret is
        read when it is there and readable (``verify`` needs it; ``export`` does not)."""
        path = Path(path)
        if not path.is_file():
            raise AuditError(f"audit database {path} does not exist")
        try:
            db = connect_readonly(path)
            db.text_factory = text_or_marker
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open the audit database {path}: {exc}") from exc
        if version not in (*_MISSING_IN, SCHEMA_VERSION) or "entries" not in tables:
            db.close()
            raise AuditError(
                f"{path} is not an egate audit log (schema {version}, tables: "
                f"{', '.join(sorted(tables)) or 'none'})"
            )
        secret = load_secret(_secret_path(path, salt_path))
        log = cls(db, path, secret, writable=False)
        log.missing = _MISSING_IN.get(version, ())  # read as is, those columns as NULL
        return log

    # -- writing ------------------------------------------------------------------------------
    def record(self, rec: AuditRecord, kind: EntryKind = "result") -> int:
        """Commit one chained row durably and return its id. A ``decision`` row must be
        committed before the lane acts on the decision; ``result`` ends the transaction."""
        if not self.writable or self._secret is None:
            raise AuditError(f"audit database {self.path} is open read-only")
        doc_hash = (
            hash_document_number(self._secret, rec.document_number) if rec.document_number else None
        )
        row: dict[str, object] = {
            "kind": kind,
            "transaction_id": rec.transaction_id,
            "started_at": float(rec.started_at),
            "finished_at": float(rec.finished_at),
            "outcome": rec.outcome,
            "score": None if rec.score is None else float(rec.score),
            "threshold": None if rec.threshold is None else float(rec.threshold),
            "pack_id": rec.pack_id,
            "document_hash": doc_hash,
            "passive_auth": rec.passive_auth,
            "active_auth": rec.active_auth,
            "chip_auth": rec.chip_auth,
            "stage_ms": json.dumps(
                {k: round(float(v), 3) for k, v in rec.stage_ms.items()}, sort_keys=True
            ),
            "detail": rec.detail,
            "liveness": rec.liveness,
        }
        key = chain_key(self._secret)
        try:
            with self._db:  # BEGIN ... COMMIT, or ROLLBACK on error
                self._db.execute("BEGIN IMMEDIATE")  # the chain's tail cannot move under us
                last = self._db.execute(
                    "SELECT id, mac FROM entries ORDER BY id DESC LIMIT 1"
                ).fetchone()
                row["id"] = 1 if last is None else int(last[0]) + 1
                previous = GENESIS if last is None else str(last[1])
                row["mac"] = row_mac(key, previous, row)
                self._db.execute(
                    f"INSERT INTO entries ({', '.join(EXPORT_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in EXPORT_COLUMNS)})",
                    [row[name] for name in EXPORT_COLUMNS],
                )
        except sqlite3.Error as exc:
            self._rollback_quietly()
            raise AuditError(
                f"audit {kind} row for transaction {rec.transaction_id} not written to "
                f"{self.path}: {exc}"
            ) from exc
        row_id = int(str(row["id"]))
        self._tail = (row_id, str(row["mac"]))
        if self._checkpointing is not None and row_id % self._checkpointing.every == 0:
            self._write_head()
        return row_id

    # -- chain heads --------------------------------------------------------------------------
    def _start_checkpoints(self, settings: Checkpointing) -> None:
        """Check the existing head against the rows, then keep heads from now on."""
        assert self._secret is not None
        head_path = settings.path or self.path.with_suffix(".head")
        if head_path.exists() or head_path.is_symlink():
            head = read_head(head_path, head_key(self._secret))
            last = self._query("SELECT id, mac FROM entries WHERE id = ?", (head.rows,))
            if head.rows and (not last or last[0][1] != head.last_mac):
                have = self._scalar("SELECT COUNT(*) FROM entries")
                raise AuditError(
                    f"audit database {self.path} holds {have} rows and does not match "
                    f"{head.describe()} ({head_path}, {head.rows} rows): rows were removed "
                    "or rewritten; check it with egate audit verify --checkpoint, then move "
                    "the log and its checkpoint aside to start a new one"
                )
        self._checkpointing, self._head_path = settings, head_path

    def _write_head(self) -> None:
        """Sign and write the head of the rows written so far. A failure is logged, not
        raised: the rows are committed, and the next head (or the one on close) retries."""
        if self._tail is None or self._head_path is None or self._secret is None:
            return
        settings = self._checkpointing or Checkpointing()
        head = ChainHead(settings.lane, self._tail[0], self._tail[1], time.time())
        key = head_key(self._secret)
        try:
            write_head(self._head_path, head, key)
        except AuditError as exc:
            log.error("%s", exc)
            return
        self._tail = None
        if settings.publish is not None:
            try:
                settings.publish(head.to_json(key))
            except Exception:  # the head is on disk; the publisher's failure is its own
                log.exception("audit: the chain head of %s rows was not published", head.rows)

    def _rollback_quietly(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error is the one worth reporting

    def page_count(self) -> int:
        """The database's size in SQLite pages."""
        return self._scalar("PRAGMA page_count")

    def limit_pages(self, pages: int | None) -> None:
        """Cap the database at ``pages`` pages (``None``: SQLite's own maximum).

        A quota for a kiosk's small disk: past it a write fails as on a full disk
        (``AuditError``), the lane fails safe, and the log works again once raised.
        """
        limit = _LARGEST_PAGE_COUNT if pages is None else int(pages)
        self._query(f"PRAGMA max_page_count = {limit}")

    # -- reading ------------------------------------------------------------------------------
    def document_hash(self, number: str) -> str:
        """The hash this installation stores for ``number`` (for an auditor's look-up)."""
        if self._secret is None:
            raise AuditError(f"the secret of {self.path} is not readable: cannot hash")
        return hash_document_number(self._secret, number)

    def count(self) -> int:
        """How many transactions the log holds (each has a decision or a result row)."""
        return self._scalar("SELECT COUNT(DISTINCT transaction_id) FROM entries")

    def entries(self, since: float | None = None) -> Iterator[dict[str, object]]:
        """Every row of the chain in order, MAC included (what an export carries)."""
        columns = [f"NULL AS {c}" if c in self.missing else c for c in EXPORT_COLUMNS]
        query = f"SELECT {', '.join(columns)} FROM entries"
        params: tuple[float, ...] = ()
        if since is not None:
            query += " WHERE started_at >= ?"
            params = (since,)
        for values in self._query(query + " ORDER BY id", params):
            yield dict(zip(EXPORT_COLUMNS, values, strict=True))

    def rows(self, since: float | None = None) -> Iterator[dict[str, object]]:
        """One row per transaction, in order: its result, or its decision while it has none
        (a gate stopped mid-passage)."""
        latest: dict[str, dict[str, object]] = {}
        for entry in self.entries(since):
            tid = str(entry["transaction_id"])
            if entry["kind"] == "result" or tid not in latest:
                latest[tid] = entry
        yield from latest.values()

    def verify(self, checkpoint: Path | None = None) -> ChainReport:
        """Check the whole chain with the installation's key; with ``checkpoint`` (a signed
        head), also that no row after it is missing and none before it rewritten."""
        if self._secret is None:
            raise AuditError(f"the secret of {self.path} is not readable: cannot verify")
        head = None if checkpoint is None else read_head(checkpoint, head_key(self._secret))
        return verify_chain(chain_key(self._secret), self.entries(), head)

    def export(self, fmt: str = "csv", since: float | None = None) -> str:
        return render(list(self.entries(since)), fmt)

    def _scalar(self, sql: str) -> int:
        value = self._query(sql)[0][0]
        if not isinstance(value, int):
            raise AuditError(f"audit database {self.path}: {sql} gave {value!r}")
        return value

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            return list(self._db.execute(sql, params))
        except sqlite3.Error as exc:
            raise AuditError(f"audit database {self.path}: {exc}") from exc

    def close(self) -> None:
        if self.writable and self._tail is not None:
            self._write_head()  # the shutdown head: it covers every row written
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


def _secret_path(path: Path, salt_path: Path | str | None) -> Path:
    return Path(salt_path) if salt_path is not None else path.with_suffix(".salt")
