"""The signed watchlist file an authority hands a gate, and its parser.

A file is JSON::

    {"format": "egate-watchlist/1", "signer": KEY_ID, "signature": B64, "content": B64}

``signature`` is Ed25519 over the bytes of ``content`` (base64-decoded), by the key whose id
(the first 16 hex digits of the SHA-256 of its raw public key) is ``signer``. The content is
JSON::

    {"version": N, "pack": "fusion", "embedding_size": 256,
     "lists": {"SLTD": "document", "wanted": "person"},
     "documents": [{"list": "SLTD", "ref": "D-1", "state": "UTO", "number": "L898902C3"}],
     "persons": [{"list": "wanted", "ref": "P-7", "template": B64 of float32 little-endian}]}

``version`` is the issuer's sequence number; a list named in ``lists`` is replaced as a whole
by the file's entries. Every refusal is one ``InputError`` line; nothing is parsed before the
signature is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.errors import InputError

FORMAT = "egate-watchlist/1"
MAX_BUNDLE_BYTES = 1 << 30
LIST_KINDS = ("document", "person")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_REF = 64


@dataclass(frozen=True)
class DocumentEntry:
    list: str
    ref: str
    state: str
    number: str


@dataclass(frozen=True)
class PersonEntry:
    list: str
    ref: str
    template: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Bundle:
    version: int
    pack: str
    embedding_size: int
    lists: dict[str, str]  # name -> "document" | "person"
    documents: tuple[DocumentEntry, ...]
    persons: tuple[PersonEntry, ...]
    signer: str
    sha256: str


def public_key_id(public: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise InputError(f"watchlist file: {what} is not base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InputError(f"watchlist file: {what} is not valid base64 (truncated?)") from exc


def _json(data: bytes, what: str) -> dict[str, Any]:
    from gate.json_files import parse_json

    try:
        value = parse_json(data.decode("utf-8"), what, error=InputError)
    except (UnicodeDecodeError, InputError) as exc:
        raise InputError(f"watchlist file: {what} is not complete JSON (truncated?)") from exc
    if not isinstance(value, dict):
        raise InputError(f"watchlist file: {what} is not a JSON object")
    return value


def sign_bundle(content: dict[str, Any], private_key: Any) -> bytes:
    """A signed watchlist file of ``content`` (for issuers, tests and the demo)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private_key, Ed25519PrivateKey):
        raise InputError("a watchlist is signed with an Ed25519 private key")
    body = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    envelope = {
        "format": FORMAT,
        "signer": public_key_id(private_key.public_key()),
        "signature": base64.b64encode(private_key.sign(body)).decode(),
        "content": base64.b64encode(body).decode(),
    }
    return json.dumps(envelope, indent=1).encode() + b"\n"


def template_text(template: npt.ArrayLike) -> str:
    """A template as the file carries it (base64 of float32 little-endian)."""
    return base64.b64encode(np.asarray(template, dtype="<f4").reshape(-1).tobytes()).decode()


@dataclass(frozen=True)
class Envelope:
    """A signed file's parts, not yet checked against a key."""

    signer: str
    signature: bytes = field(repr=False)
    content: bytes = field(repr=False)


def open_envelope(data: bytes) -> Envelope:
    """The parts of a signed file (its format checked, its signature not yet)."""
    if data.lstrip()[:1] != b"{":  # before scanning what may be megabytes of something else
        raise InputError("watchlist file: not a signed watchlist (no JSON object)")
    envelope = _json(data, "the file")
    if envelope.get("format") != FORMAT:
        raise InputError(f"watchlist file: format is not {FORMAT!r}")
    content = _b64(envelope.get("content"), "content")
    signature = _b64(envelope.get("signature"), "signature")
    return Envelope(str(envelope.get("signer"))[:16], signature, content)


def check_signature(envelope: Envelope, trusted: Any) -> bytes:
    """The content bytes, once the signature was checked against the ``trusted`` Ed25519
    public key."""
    from cryptography.exceptions import InvalidSignature

    expected = public_key_id(trusted)
    if envelope.signer != expected:
        raise InputError(
            f"watchlist file: signed by key {envelope.signer!r}, the store trusts {expected}"
        )
    try:
        trusted.verify(envelope.signature, envelope.content)
    except InvalidSignature as exc:
        raise InputError("watchlist file: bad signature (altered or not from the signer)") from exc
    return envelope.content


def verify_bundle(data: bytes, trusted: Any) -> bytes:
    """``open_envelope`` then ``check_signature``."""
    return check_signature(open_envelope(data), trusted)


def _text(entry: dict[str, Any], key: str, where: str, limit: int = MAX_REF) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InputError(f"watchlist file: {where}: {key!r} must be text of 1-{limit} characters")
    if not value.isprintable():
        raise InputError(f"watchlist file: {where}: {key!r} has control characters")
    return value


def _list_name(entry: dict[str, Any], lists: dict[str, str], kind: str, where: str) -> str:
    name = _text(entry, "list", where)
    if lists.get(name) != kind:
        raise InputError(f"watchlist file: {where}: list {name!r} is not a {kind} list")
    return name


def _entries(content: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = content.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"watchlist file: {key!r} must be a list of objects")
    return value


def parse_bundle(content: bytes, signer: str, pack: str, embedding_size: int) -> Bundle:
    """The checked entries of verified ``content`` for a store of ``pack``."""
    body = _json(content, "content")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 2**53:
        raise InputError("watchlist file: 'version' must be a positive integer")
    if body.get("pack") != pack or body.get("embedding_size") != embedding_size:
        raise InputError(
            f"watchlist file: templates of pack {str(body.get('pack'))[:40]!r} "
            f"(size {str(body.get('embedding_size'))[:12]}); this store holds pack {pack!r} "
            f"(size {embedding_size})"
        )
    raw_lists = body.get("lists")
    if not isinstance(raw_lists, dict) or not raw_lists:
        raise InputError("watchlist file: 'lists' must name at least one list and its kind")
    lists: dict[str, str] = {}
    for name, kind in raw_lists.items():
        if not NAME.fullmatch(str(name)) or kind not in LIST_KINDS:
            raise InputError(
                f"watchlist file: list {str(name)[:64]!r}: a name of letters, digits, '_.-' "
                f"and a kind of {' or '.join(LIST_KINDS)}"
            )
        lists[str(name)] = str(kind)
    documents = []
    for i, entry in enumerate(_entries(body, "documents")):
        where = f"document {i + 1}"
        documents.append(
            DocumentEntry(
                _list_name(entry, lists, "document", where),
                _text(entry, "ref", where),
                _text(entry, "state", where, 3),
                _text(entry, "number", where, 40),
            )
        )
    persons = []
    for i, entry in enumerate(_entries(body, "persons")):
        where = f"person {i + 1}"
        name = _list_name(entry, lists, "person", where)
        raw = _b64(entry.get("template"), f"{where}: template")
        template = np.frombuffer(raw, dtype="<f4").astype(np.float32) if len(raw) % 4 == 0 else None
        if template is None or template.size != embedding_size:
            raise InputError(
                f"watchlist file: {where}: a template of {len(raw) // 4} values, "
                f"pack {pack} has {embedding_size} (a template of another pack?)"
            )
        if not np.all(np.isfinite(template)):
            raise InputError(f"watchlist file: {where}: the template has non-finite values")
        persons.append(PersonEntry(name, _text(entry, "ref", where), template))
    return Bundle(
        version,
        pack,
        embedding_size,
        lists,
        tuple(documents),
        tuple(persons),
        signer,
        hashlib.sha256(content).hexdigest(),
    )
