"""Helpers for the watch tests: a signing key, signed files, fusion-like templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.watch.bundle import sign_bundle, template_text
from gate.watch.keys import WatchKey
from gate.watch.store import WatchStore

KEY = WatchKey.from_bytes(bytes(range(32)))
PACK = "fusion"
SIZE = 256


def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def templates(count: int, seed: int) -> npt.NDArray[np.float32]:
    """Fusion-shaped templates of distinct people: a dlib-like part (impostor distance near
    0.8) and an sface-like part (cosine near 0.9 apart)."""
    rng = np.random.default_rng(seed)
    dlib = rng.normal(0.0, 0.8 / np.sqrt(2 * 128), (count, 128))
    sface = rng.normal(0.0, 1.0, (count, 128))
    sface /= np.linalg.norm(sface, axis=1, keepdims=True)
    return np.concatenate([dlib, sface], axis=1).astype(np.float32)


def near(rows: npt.NDArray[np.float32], scale: float, seed: int) -> npt.NDArray[np.float32]:
    """Other shots of the same people: each row moved by ``scale`` of a stranger's distance."""
    noise = templates(len(rows), seed) * scale
    return (rows + noise).astype(np.float32)


def content(
    version: int,
    documents: list[tuple[str, str, str, str]] = (),  # type: ignore[assignment]
    persons: list[tuple[str, str, npt.ArrayLike]] = (),  # type: ignore[assignment]
    lists: dict[str, str] | None = None,
    pack: str = PACK,
    size: int = SIZE,
) -> dict[str, Any]:
    named = lists or {
        **{d[0]: "document" for d in documents},
        **{p[0]: "person" for p in persons},
    }
    return {
        "version": version,
        "pack": pack,
        "embedding_size": size,
        "lists": named,
        "documents": [
            {"list": name, "ref": r, "state": s, "number": n} for name, r, s, n in documents
        ],
        "persons": [
            {"list": name, "ref": r, "template": template_text(t)} for name, r, t in persons
        ],
    }


def signed(path: Path, body: dict[str, Any], key: Ed25519PrivateKey) -> Path:
    path.write_bytes(sign_bundle(body, key))
    return path


def dump(path: Path, body: dict[str, Any]) -> Path:
    path.write_text(json.dumps(body))
    return path


def make_store(
    folder: Path,
    version: int = 1,
    documents: list[tuple[str, str, str, str]] = (),  # type: ignore[assignment]
    persons: list[tuple[str, str, npt.ArrayLike]] = (),  # type: ignore[assignment]
) -> tuple[WatchStore, Ed25519PrivateKey]:
    """A store in ``folder`` with one imported version; returns it and its issuer's key."""
    issuer = signer()
    store = WatchStore.init(folder, KEY, public_pem(issuer), PACK, SIZE)
    import_signed(store, issuer, content(version, documents, persons))
    return store, issuer


def import_signed(store: WatchStore, issuer: Ed25519PrivateKey, body: dict[str, Any]) -> int:
    from gate.watch.bundle import parse_bundle, sign_bundle, verify_bundle

    data = verify_bundle(sign_bundle(body, issuer), store.signer_key())
    bundle = parse_bundle(data, store.meta()["signer"], store.pack, store.embedding_size)
    return store.import_bundle(bundle)


def mrz(
    number: str = "L898902C3",
    state: str = "UTO",
    nationality: str = "UTO",
    birth: str = "740812",
    expiry: str = "351231",
    kind: str = "P",
) -> str:
    """A TD3 MRZ with valid check digits."""
    from gate.icao.mrz import format_td3

    return format_td3(
        surname="ERIKSSON", given_names="ANNA MARIA", document_number=number,
        issuing_state=state, nationality=nationality, birth_date=birth, sex="F",
        expiry_date=expiry, document_type=kind,
    ).text  # fmt: skip
