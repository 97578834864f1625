"""The local watch store: versioned document and person lists in one folder.

``DIR/watch.db`` (SQLite, 0600) holds the versions, the lists and the entries; documents only
as keyed hashes (``gate.watch.keys``), persons as a row number into the version's template
file ``DIR/vNNNNNN.tpl`` (AES-GCM sealed float32 matrix, 0600) and, for a large gallery, its
faiss index ``DIR/vNNNNNN.faiss`` (sealed too). A version is a whole snapshot: an import
replaces the lists it names and keeps the others; ``add_face`` adds one person to a list.
Nothing of a new version is visible until its rows commit in one SQLite transaction, so a
refused or interrupted import leaves the running version as it was.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import ConfigError, InputError
from gate.sqlite_files import check_database_file
from gate.watch import search
from gate.watch.bundle import Bundle, public_key_id
from gate.watch.keys import WatchKey, write_private

DB_NAME = "watch.db"
TABLES = ("meta", "versions", "lists", "documents", "persons")
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions (version INTEGER PRIMARY KEY, source TEXT NOT NULL,
    source_version INTEGER, signer TEXT NOT NULL, sha256 TEXT NOT NULL, created REAL NOT NULL,
    documents INTEGER NOT NULL, persons INTEGER NOT NULL, index_kind TEXT NOT NULL);
CREATE TABLE lists (version INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (version, name));
CREATE TABLE documents (version INTEGER NOT NULL, list TEXT NOT NULL, ref TEXT NOT NULL,
    digest BLOB NOT NULL);
CREATE INDEX documents_by_version ON documents (version);
CREATE TABLE persons (version INTEGER NOT NULL, row INTEGER NOT NULL, list TEXT NOT NULL,
    ref TEXT NOT NULL, PRIMARY KEY (version, row));
"""
MAX_TEMPLATE_FILE = 1 << 34


@dataclass(frozen=True)
class VersionContent:
    """What a new version brings: where it comes from, the lists it replaces (name -> kind)
    and their new entries (documents as digests)."""

    source: str
    source_version: int | None
    signer: str
    sha256: str
    replaced: dict[str, str]
    documents: list[tuple[str, str, bytes]]
    persons: list[tuple[str, str]]
    templates: npt.NDArray[np.float32]
    ann_min: int


@dataclass(frozen=True)
class Snapshot:
    """One version as the lane checks against it: no document in clear, no entry names."""

    version: int
    documents: dict[bytes, str]  # digest -> list name
    lists: dict[str, str]  # list name -> kind
    person_lists: tuple[str, ...]  # one per template row
    templates: npt.NDArray[np.float32]
    index: Any = None  # a faiss index over ``search.ann_space`` vectors, or None


class WatchStore:
    """A store folder opened with its key."""

    def __init__(self, folder: Path, key: WatchKey) -> None:
        self.folder = Path(folder)
        self.key = key
        self.path = self.folder / DB_NAME
        if not check_database_file(self.path, "watch store", TABLES, error=ConfigError):
            raise ConfigError(f"watch store {self.folder}: not initialised (egate watchlist init)")
        meta = self.meta()
        if meta.get("key_check") != key.check_value:
            raise ConfigError(f"watch store {self.folder}: the key is not this store's key")
        self.pack = meta["pack"]
        self.embedding_size = int(meta["embedding_size"])

    @staticmethod
    def init(folder: Path, key: WatchKey, signer_pem: bytes, pack: str, size: int) -> WatchStore:
        """A new empty store (version 0) trusting ``signer_pem`` (an Ed25519 public key)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            public = load_pem_public_key(signer_pem)
        except (ValueError, TypeError) as exc:
            raise ConfigError("watchlist signer: not a PEM public key") from exc
        if not isinstance(public, Ed25519PublicKey):
            raise ConfigError("watchlist signer: not an Ed25519 public key")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / DB_NAME
        if check_database_file(path, "watch store", TABLES, error=ConfigError):
            raise ConfigError(f"watch store {folder}: already initialised")
        write_private(path, b"")  # created 0600 before SQLite opens it
        meta = {
            "format": "1",
            "pack": pack,
            "embedding_size": str(size),
            "signer_pem": signer_pem.decode("ascii"),
            "signer": public_key_id(public),
            "key_check": key.check_value,
        }
        db = sqlite3.connect(path)
        try:
            with db:
                db.executescript(SCHEMA)
                db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        finally:
            db.close()
        return WatchStore(folder, key)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0)
        try:
            yield db
        except sqlite3.Error as exc:
            raise InputError(f"watch store {self.folder}: {exc}") from exc
        finally:
            db.close()

    def meta(self) -> dict[str, str]:
        with self.connect() as db:
            return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}

    def signer_key(self) -> Any:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        return load_pem_public_key(self.meta()["signer_pem"].encode("ascii"))

    def current_version(self) -> int:
        with self.connect() as db:
            row = db.execute("SELECT MAX(version) FROM versions").fetchone()
        return int(row[0] or 0)

    # -- reading -------------------------------------------------------------------------
    def _template_path(self, version: int, suffix: str = ".tpl") -> Path:
        return self.folder / f"v{version:06d}{suffix}"

    def _templates(self, version: int, persons: int) -> npt.NDArray[np.float32]:
        if persons == 0:
            return np.zeros((0, self.embedding_size), dtype=np.float32)
        from gate.files import read_regular_file

        path = self._template_path(version)
        sealed = read_regular_file(path, "watch templates", max_bytes=MAX_TEMPLATE_FILE)
        plain = self.key.open(sealed, f"v{version}".encode(), str(path))
        matrix = np.frombuffer(plain, dtype="<f4").astype(np.float32)
        if matrix.size != persons * self.embedding_size:
            raise InputError(f"{path}: holds {matrix.size} values, expected {persons} templates")
        return matrix.reshape(persons, self.embedding_size)

    def _index(self, version: int) -> Any:
        from gate.files import read_regular_file

        path = self._template_path(version, ".faiss")
        sealed = read_regular_file(path, "watch index", max_bytes=MAX_TEMPLATE_FILE)
        return search.index_from_bytes(self.key.open(sealed, f"i{version}".encode(), str(path)))

    def snapshot(self, version: int | None = None) -> Snapshot:
        """The current (or a given) version, loaded and decrypted."""
        with self.connect() as db:
            number = self.current_version() if version is None else version
            head = db.execute(
                "SELECT persons, index_kind FROM versions WHERE version = ?", (number,)
            ).fetchone()
            if number and head is None:
                raise InputError(f"watch store {self.folder}: no version {number}")
            persons, index_kind = (0, "none") if head is None else (int(head[0]), str(head[1]))
            lists = dict(db.execute("SELECT name, kind FROM lists WHERE version = ?", (number,)))
            documents = {
                bytes(digest): str(name)
                for digest, name in db.execute(
                    "SELECT digest, list FROM documents WHERE version = ?", (number,)
                )
            }
            rows = db.execute(
                "SELECT list FROM persons WHERE version = ? ORDER BY row", (number,)
            ).fetchall()
        templates = self._templates(number, persons)
        index = self._index(number) if index_kind != "none" else None
        person_lists = tuple(str(name) for (name,) in rows)
        return Snapshot(number, documents, lists, person_lists, templates, index)

    # -- writing -------------------------------------------------------------------------
    def import_bundle(self, bundle: Bundle, *, ann_min: int = search.ANN_MIN) -> int:
        """A new version from a verified bundle; returns its number."""
        if bundle.pack != self.pack or bundle.embedding_size != self.embedding_size:
            raise InputError(f"watchlist file: templates of pack {bundle.pack}, not {self.pack}")
        with self.connect() as db:
            seen = db.execute(
                "SELECT version, source_version FROM versions WHERE signer = ? "
                "AND source_version >= ? ORDER BY source_version DESC",
                (bundle.signer, bundle.version),
            ).fetchone()
        if seen is not None:
            word = "already imported" if seen[1] == bundle.version else "older than one imported"
            raise InputError(
                f"watchlist file: version {bundle.version} is {word} "
                f"(store version {seen[0]} has issuer version {seen[1]}); nothing changed"
            )
        documents = [
            (e.list, e.ref, self.key.document_digest(e.state, e.number)) for e in bundle.documents
        ]
        persons = [(e.list, e.ref) for e in bundle.persons]
        templates = (
            np.stack([e.template for e in bundle.persons]).astype(np.float32)
            if bundle.persons
            else np.zeros((0, self.embedding_size), dtype=np.float32)
        )
        content = VersionContent("import", bundle.version, bundle.signer, bundle.sha256,
                                 bundle.lists, documents, persons, templates, ann_min)  # fmt: skip
        return self._new_version(self.snapshot(), content)

    def add_face(self, list_name: str, ref: str, template: npt.ArrayLike) -> int:
        """A new version with one more person on ``list_name`` (made a person list)."""
        return self.add_faces(list_name, [(ref, template)], source="add-face")

    def person_refs(self, list_name: str) -> set[str]:
        """The references on ``list_name`` in the current version."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT ref FROM persons WHERE version = ? AND list = ?",
                (self.current_version(), list_name),
            ).fetchall()
        return {str(ref) for (ref,) in rows}

    def check_person_list(self, list_name: str) -> None:
        """Refuses a list that exists as a document list (a new name becomes a person list)."""
        with self.connect() as db:
            row = db.execute(
                "SELECT kind FROM lists WHERE version = ? AND name = ?",
                (self.current_version(), list_name),
            ).fetchone()
        if row is not None and row[0] != "person":
            raise InputError(f"list {list_name!r} is a document list, not a person list")

    def add_faces(
        self,
        list_name: str,
        entries: Sequence[tuple[str, npt.ArrayLike]],
        *,
        source: str = "add-faces",
    ) -> int:
        """ONE new version with ``entries`` (reference, template) added to ``list_name``."""
        if not entries:
            raise InputError(f"no face to add to {list_name!r}; nothing changed")
        vectors = np.stack([np.asarray(t, dtype=np.float32).reshape(-1) for _, t in entries])
        if vectors.shape[1] != self.embedding_size:
            raise InputError(
                f"a template of {vectors.shape[1]} values for a store of pack "
                f"{self.pack} ({self.embedding_size})"
            )
        previous = self.snapshot()
        if previous.lists.get(list_name, "person") != "person":
            raise InputError(f"list {list_name!r} is a document list, not a person list")
        with self.connect() as db:
            keep = db.execute(
                "SELECT list, ref FROM persons WHERE version = ? AND list = ? ORDER BY row",
                (previous.version, list_name),
            ).fetchall()
        kept = np.array([name == list_name for name in previous.person_lists], dtype=bool)
        templates = np.concatenate([previous.templates[kept], vectors])
        persons = [(str(a), str(b)) for a, b in keep] + [(list_name, ref) for ref, _ in entries]
        content = VersionContent(source, None, "local", "-", {list_name: "person"}, [],
                                 persons, templates, search.ANN_MIN)  # fmt: skip
        return self._new_version(previous, content)

    def _new_version(self, previous: Snapshot, content: VersionContent) -> int:
        with self._writer():
            if self.current_version() != previous.version:
                raise InputError(f"watch store {self.folder}: another import made a new "
                                 "version meanwhile; nothing changed (run it again)")  # fmt: skip
            return self._write_version(previous, content)

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time (an exclusive lock on ``DIR/.lock``)."""
        import fcntl
        import os

        fd = os.open(
            self.folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_version(self, previous: Snapshot, content: VersionContent) -> int:
        replaced, templates = content.replaced, content.templates
        number = previous.version + 1
        with self.connect() as db:
            old_persons = db.execute(
                "SELECT list, ref FROM persons WHERE version = ? ORDER BY row", (previous.version,)
            ).fetchall()
        keep = np.array([name not in replaced for name, _ in old_persons], dtype=bool)
        all_persons = [
            (str(name), str(r)) for (name, r), k in zip(old_persons, keep, strict=True) if k
        ]
        all_persons += content.persons
        matrix = np.concatenate([previous.templates[keep], templates]).astype("<f4")
        index_kind = "none"
        if len(all_persons):
            write_private(
                self._template_path(number), self.key.seal(matrix.tobytes(), f"v{number}".encode())
            )
        if len(all_persons) >= content.ann_min:
            index = search.index_gallery(self.pack, matrix)
            index_kind = search.kind_of(index)
            write_private(
                self._template_path(number, ".faiss"),
                self.key.seal(search.index_to_bytes(index), f"i{number}".encode()),
            )
        lists = {k: v for k, v in previous.lists.items() if k not in replaced} | replaced
        with self.connect() as db, db:
            db.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    content.source,
                    content.source_version,
                    content.signer,
                    content.sha256,
                    time.time(),
                    0,
                    0,
                    index_kind,
                ),
            )
            db.executemany(
                "INSERT INTO lists VALUES (?, ?, ?)",
                [(number, n, k) for n, k in sorted(lists.items())],
            )
            names = ",".join("?" * len(replaced))
            db.execute(
                "INSERT INTO documents SELECT ?, list, ref, digest FROM documents "
                f"WHERE version = ? AND list NOT IN ({names}) ORDER BY rowid",
                (number, previous.version, *replaced),
            )
            db.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?)",
                [(number, name, r, d) for name, r, d in content.documents],
            )
            db.executemany(
                "INSERT INTO persons VALUES (?, ?, ?, ?)",
                [(number, i, name, r) for i, (name, r) in enumerate(all_persons)],
            )
            count = db.execute(
                "SELECT COUNT(*) FROM documents WHERE version = ?", (number,)
            ).fetchone()[0]
            db.execute(
                "UPDATE versions SET documents = ?, persons = ? WHERE version = ?",
                (count, len(all_persons), number),
            )
        return number
