"""Signed chain heads: how many rows the chain had and its last MAC, kept outside the table.

The chain alone cannot show rows cut off at its newest end. So the writer signs a head
(lane, row count, last MAC, time) with a key derived from the installation's secret, every
``every`` rows and when the log is closed, and replaces the checkpoint file with it
atomically (a fresh 0600 file made with ``O_EXCL``, fsync'd, then renamed over the old).
A head is written only after its rows are committed, so it never covers a row a crash
could lose. ``egate audit verify --checkpoint FILE`` then names rows missing after the end
of the database or export, and a chain rewritten after the head.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gate.errors import AuditError
from gate.files import read_regular_file

HEAD_FORMAT = "egate-audit-head/1"
MAX_HEAD_BYTES = 4096
_HEAD_LABEL = b"egate audit head/1"
_FIELDS = ("format", "lane", "rows", "last_mac", "at", "signature")


class ForgedCheckpointError(AuditError):
    """A checkpoint whose signature does not match this installation's key."""


def head_key(secret: bytes) -> bytes:
    """The key that signs chain heads (derived from the secret, apart from the chain's)."""
    return hmac.new(secret, _HEAD_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class ChainHead:
    """The chain as it stood: ``rows`` rows, the last one's MAC ``last_mac``."""

    lane: str
    rows: int
    last_mac: str
    at: float

    def _payload(self) -> bytes:
        values = [HEAD_FORMAT, self.lane, self.rows, self.last_mac, self.at]
        return json.dumps(values, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def signature(self, key: bytes) -> str:
        return hmac.new(key, self._payload(), hashlib.sha256).hexdigest()

    def describe(self) -> str:
        moment = datetime.fromtimestamp(self.at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        shown = self.lane and self.lane.isprintable() and len(self.lane) <= 64
        lane = f" (lane {self.lane})" if shown else ""
        return f"the checkpoint of {moment}{lane}"

    def to_json(self, key: bytes) -> str:
        values = [HEAD_FORMAT, self.lane, self.rows, self.last_mac, self.at, self.signature(key)]
        return json.dumps(dict(zip(_FIELDS, values, strict=True)), ensure_ascii=True) + "\n"


def write_head(path: Path, head: ChainHead, key: bytes) -> None:
    """Replace ``path`` with ``head`` atomically: a new 0600 file, then a rename."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temporary, flags, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(head.to_json(key))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise AuditError(
            f"cannot write the audit checkpoint {path}: {exc.strerror or exc}"
        ) from exc


def read_head(path: Path, key: bytes) -> ChainHead:
    """The head in ``path``, its signature checked with ``key``. A file that is not a
    checkpoint is an ``AuditError`` naming it; a wrong signature a ``ForgedCheckpointError``."""
    from gate.audit.jsontext import load_json

    raw = read_regular_file(path, "audit checkpoint", max_bytes=MAX_HEAD_BYTES, error=AuditError)
    source = f"audit checkpoint {path}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuditError(f"{source}: not UTF-8 text") from exc
    data = load_json(text, source, max_depth=1)
    if not isinstance(data, dict) or tuple(sorted(data)) != tuple(sorted(_FIELDS)):
        raise AuditError(f"{source}: not a checkpoint (expected the fields {', '.join(_FIELDS)})")
    fmt, lane, rows, last_mac, at, signature = (data[name] for name in _FIELDS)
    if fmt != HEAD_FORMAT:
        raise AuditError(f"{source}: not a checkpoint of format {HEAD_FORMAT}")
    if (
        not isinstance(lane, str)
        or type(rows) is not int
        or rows < 0
        or not isinstance(last_mac, str)
        or type(at) is not float
        or not isinstance(signature, str)
    ):
        raise AuditError(f"{source}: a field has the wrong type")
    head = ChainHead(lane, rows, last_mac, at)
    if not hmac.compare_digest(head.signature(key).encode(), signature.encode("utf-8", "replace")):
        raise ForgedCheckpointError(
            f"{source}: its signature does not match this log's key "
            "(changed, forged, or from another installation)"
        )
    return head
