"""What a watch store holds, for people: its versions and lists (``egate watchlist stats``)
and the current version's entries (``export``: references and keyed hashes, never a
template or a document number, which the store does not hold)."""

from __future__ import annotations

from typing import Any

from gate.watch.store import WatchStore


def stats(store: WatchStore) -> dict[str, Any]:
    """The store's versions and its current version's lists."""
    meta = store.meta()
    version = store.current_version()
    with store.connect() as db:
        lists = db.execute(
            "SELECT l.name, l.kind, (SELECT COUNT(*) FROM documents d WHERE d.version = "
            "l.version AND d.list = l.name) + (SELECT COUNT(*) FROM persons p WHERE "
            "p.version = l.version AND p.list = l.name) FROM lists l WHERE l.version = ? "
            "ORDER BY l.name",
            (version,),
        ).fetchall()
        versions = db.execute(
            "SELECT version, source, source_version, signer, created, documents, persons, "
            "index_kind FROM versions ORDER BY version"
        ).fetchall()
    return {
        "store": str(store.folder),
        "pack": store.pack,
        "embedding_size": store.embedding_size,
        "signer": meta["signer"],
        "current_version": version,
        "lists": [{"name": n, "kind": k, "entries": int(c)} for n, k, c in lists],
        "versions": [
            dict(
                zip(
                    (
                        "version",
                        "source",
                        "source_version",
                        "signer",
                        "created",
                        "documents",
                        "persons",
                        "index",
                    ),
                    row,
                    strict=True,
                )
            )
            for row in versions
        ],
    }


def export(store: WatchStore) -> dict[str, Any]:
    """The current version's entries: references and keyed hashes, never a template or
    a document number (they are not in the store to export)."""
    version = store.current_version()
    with store.connect() as db:
        documents = db.execute(
            "SELECT list, ref, digest FROM documents WHERE version = ? ORDER BY rowid",
            (version,),
        ).fetchall()
        persons = db.execute(
            "SELECT list, ref FROM persons WHERE version = ? ORDER BY row", (version,)
        ).fetchall()
        lists = dict(db.execute("SELECT name, kind FROM lists WHERE version = ?", (version,)))
    return {
        "version": version,
        "pack": store.pack,
        "lists": lists,
        "documents": [{"list": name, "ref": r, "hmac": bytes(d).hex()} for name, r, d in documents],
        "persons": [{"list": name, "ref": r} for name, r in persons],
    }
