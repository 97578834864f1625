"""The watch store: signed imports make versions; every bad file leaves the running one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.errors import ConfigError, InputError
from gate.watch import summary
from gate.watch.bundle import parse_bundle, public_key_id, verify_bundle
from gate.watch.keys import WatchKey, load_key
from gate.watch.store import WatchStore
from tests.gate.watch import lists

NUMBER = "L898902C3"
FACES = lists.templates(3, seed=1)


@pytest.fixture()
def issuer() -> Ed25519PrivateKey:
    return lists.signer()


@pytest.fixture()
def store(tmp_path: Path, issuer: Ed25519PrivateKey) -> WatchStore:
    return WatchStore.init(tmp_path / "w", lists.KEY, lists.public_pem(issuer), "fusion", 256)


def _import(store: WatchStore, path: Path) -> int:
    content = verify_bundle(path.read_bytes(), store.signer_key())
    signer = store.meta()["signer"]
    return store.import_bundle(parse_bundle(content, signer, store.pack, store.embedding_size))


def _first(tmp_path: Path, issuer: Ed25519PrivateKey) -> Path:
    body = lists.content(
        1,
        documents=[("SLTD", "D-1", "UTO", NUMBER), ("SLTD", "D-2", "D", "C01X00T47")],
        persons=[("wanted", f"P-{i}", t) for i, t in enumerate(FACES)],
    )
    return lists.signed(tmp_path / "v1.json", body, issuer)


def test_import_makes_a_version_with_hashed_documents_and_sealed_templates(
    tmp_path: Path, store: WatchStore, issuer: Ed25519PrivateKey
) -> None:
    assert _import(store, _first(tmp_path, issuer)) == 1
    snap = store.snapshot()
    assert snap.version == 1
    assert snap.documents[lists.KEY.document_digest("UTO", "L898902C3<")] == "SLTD"
    assert lists.KEY.document_digest("UTO", "L898902C4") not in snap.documents
    np.testing.assert_array_equal(snap.templates, FACES)
    assert snap.person_lists == ("wanted",) * 3
    stats = summary.stats(store)
    assert {e["name"]: e["entries"] for e in stats["lists"]} == {"SLTD": 2, "wanted": 3}
    for path in store.folder.iterdir():  # nothing in clear, nothing readable by others
        data = path.read_bytes()
        assert NUMBER.encode() not in data and FACES[0].tobytes()[:64] not in data
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name
    exported = summary.export(store)
    assert NUMBER not in str(exported) and "template" not in str(exported)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("signature", "bad signature"),
        ("other_signer", "the store trusts"),
        ("truncated", "truncated"),
        ("duplicate", "already imported"),
        ("older", "older than"),
        ("wrong_pack", "pack 'sface'"),
        ("short_template", "a template of 128 values"),
    ],
)
def test_a_bad_file_is_one_clear_error_and_the_version_stays(
    tmp_path: Path, store: WatchStore, issuer: Ed25519PrivateKey, spoil: str, message: str
) -> None:
    _import(
        store,
        lists.signed(
            tmp_path / "v5.json", lists.content(5, persons=[("w", "a", FACES[0])]), issuer
        ),
    )
    before = store.snapshot()
    path = tmp_path / "bad.json"
    body = lists.content(6, documents=[("SLTD", "D-9", "UTO", NUMBER)])
    if spoil == "signature":
        data = lists.signed(path, body, issuer).read_bytes()
        path.write_bytes(data.replace(b'"signature": "', b'"signature": "AAAA', 1))
    elif spoil == "other_signer":
        lists.signed(path, body, lists.signer())
    elif spoil == "truncated":
        data = lists.signed(path, body, issuer).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif spoil in ("duplicate", "older"):
        body["version"] = 5 if spoil == "duplicate" else 4
        lists.signed(path, body, issuer)
    elif spoil == "wrong_pack":
        lists.signed(path, {**body, "pack": "sface"}, issuer)
    else:
        short = lists.content(6, persons=[("w", "b", FACES[0][:128])])
        lists.signed(path, short, issuer)
    with pytest.raises(InputError, match=message) as caught:
        _import(store, path)
    assert "\n" not in str(caught.value)
    after = store.snapshot()
    assert after.version == before.version == 1
    assert after.documents == before.documents and after.person_lists == before.person_lists


def test_an_import_replaces_the_lists_it_names_and_add_face_adds_one(
    tmp_path: Path, store: WatchStore, issuer: Ed25519PrivateKey
) -> None:
    _import(store, _first(tmp_path, issuer))
    body = lists.content(2, documents=[("SLTD", "D-3", "UTO", "X1234567")])
    assert _import(store, lists.signed(tmp_path / "v2.json", body, issuer)) == 2
    snap = store.snapshot()
    assert list(snap.documents.values()) == ["SLTD"]
    assert lists.KEY.document_digest("UTO", "X1234567") in snap.documents
    assert snap.person_lists == ("wanted",) * 3  # not named in v2: kept
    extra = lists.templates(1, seed=9)[0]
    assert store.add_face("wanted", "P-new", extra) == 3
    snap = store.snapshot()
    np.testing.assert_array_equal(snap.templates[-1], extra)
    assert len(snap.documents) == 1 and len(snap.person_lists) == 4
    assert store.snapshot(1).version == 1  # older versions stay readable
    with pytest.raises(InputError, match="document list"):
        store.add_face("SLTD", "x", extra)


def test_the_store_refuses_a_wrong_key_and_a_key_file_others_can_read(
    tmp_path: Path, store: WatchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="not this store's key"):
        WatchStore(store.folder, WatchKey.from_bytes(b"\x01" * 32))
    key_file = tmp_path / "key"
    key_file.write_text("00" * 32)
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_key(key_file)
    key_file.chmod(0o600)
    assert load_key(key_file).check_value == WatchKey.from_bytes(bytes(32)).check_value
    monkeypatch.setenv("EGATE_WATCH_KEY", "zz")
    with pytest.raises(ConfigError, match="64 hex digits"):
        load_key(None)
    assert public_key_id(lists.signer().public_key()) != store.meta()["signer"]


def test_a_large_gallery_gets_a_sealed_index_the_snapshot_searches(
    tmp_path: Path, store: WatchStore, issuer: Ed25519PrivateKey
) -> None:
    from gate.watch.search import Gallery

    content = verify_bundle(_first(tmp_path, issuer).read_bytes(), store.signer_key())
    bundle = parse_bundle(content, store.meta()["signer"], "fusion", 256)
    store.import_bundle(bundle, ann_min=2)  # an index even for three templates
    snap = store.snapshot()
    assert snap.index is not None and snap.index.ntotal == 3
    assert FACES[1].tobytes()[:64] not in (store.folder / "v000001.faiss").read_bytes()
    hit = Gallery("fusion", snap.templates, snap.index).within(FACES[1:2], 0.0)
    assert hit is not None and hit.row == 1
