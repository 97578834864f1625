"""The lane-event messages and officer commands as they travel (JSON, UTF-8).

Topic: ``egate/<site>/<lane>/<kind>``. Payload: ``{"v": 1, "kind", "tid", "state",
"detail", "sent", "data"}``; ``sent`` is the lane's wall-clock time at the event (the
console's lane-to-browser latency is measured from it). Commands go the other way on
``egate/<site>/<lane>/command``, signed (``gate.console.signing``) and checked by the lane
(``gate.lane.command_auth``). Every message from the outside is checked here before it
is used: a bad one is refused with one line saying why (``WireError``), and nothing of it is
kept. Images (the referral's chip photo and best shot, live previews) travel as base64 JPEG
and only inside messages; no document number ever does.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.errors import InputError

VERSION = 1
PREFIX = "egate"
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
KINDS = frozenset(
    {
        "state", "transaction", "decision", "door", "alarm", "referral", "fail_safe", "error",
        "officer", "capture", "preview", "health", "audit", "challenge",
    }
)  # fmt: skip
MAX_PAYLOAD = 1 << 20  # a referral with two JPEGs is ~100 kB; anything near 1 MB is hostile
MAX_TEXT = 500
MAX_IMAGE_B64 = 400_000


class WireError(InputError):
    """A message or command that is not what the protocol allows."""


@dataclass(frozen=True)
class LaneMessage:
    site: str
    lane: str
    kind: str
    tid: str | None
    state: str
    detail: str
    sent: float
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


def topic(site: str, lane: str, kind: str) -> str:
    return f"{PREFIX}/{site}/{lane}/{kind}"


def open_referral_topic(site: str, lane: str, tid: str) -> str:
    """Where a lane keeps its open referral (retained) until an officer decides it."""
    return f"{PREFIX}/{site}/{lane}/referral/{tid}"


def check_name(value: str, what: str) -> str:
    if not NAME.fullmatch(value):
        raise WireError(f"{what} {value[:40]!r}: use 1-32 letters, digits, '-' or '_'")
    return value


def encode(message: LaneMessage) -> bytes:
    body = {
        "v": VERSION,
        "kind": message.kind,
        "tid": message.tid,
        "state": message.state,
        "detail": message.detail,
        "sent": message.sent,
        "data": dict(message.data),
    }
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(topic_name: str, payload: bytes) -> LaneMessage:
    """A lane's message from the broker, checked; raises ``WireError`` saying what is wrong."""
    parts = topic_name.split("/")
    retained = len(parts) == 5 and parts[3] == "referral"  # egate/S/L/referral/TID: retained
    if (len(parts) != 4 and not retained) or parts[0] != PREFIX:
        raise WireError(f"topic {topic_name[:80]!r} is not egate/<site>/<lane>/<kind>")
    _, site, lane, kind = parts[:4]
    check_name(site, "site")
    check_name(lane, "lane")
    if kind not in KINDS:
        raise WireError(f"topic {topic_name[:80]!r}: unknown kind {kind[:20]!r}")
    body = _json_object(payload, topic_name)
    if body.get("v") != VERSION or body.get("kind") != kind:
        raise WireError(f"{topic_name}: version or kind does not match the topic")
    sent = body.get("sent")
    if not isinstance(sent, (int, float)) or isinstance(sent, bool) or not math.isfinite(sent):
        raise WireError(f"{topic_name}: 'sent' is not a time")
    tid = body.get("tid")
    if tid is not None and not isinstance(tid, str):
        raise WireError(f"{topic_name}: 'tid' is not a transaction id")
    if tid is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tid):
        raise WireError(f"{topic_name}: 'tid' is not a transaction id")
    if retained and tid != parts[4]:
        raise WireError(f"{topic_name}: 'tid' is not the topic's")
    state, detail, data = body.get("state"), body.get("detail"), body.get("data")
    if not isinstance(state, str) or len(state) > 32 or not isinstance(detail, str):
        raise WireError(f"{topic_name}: 'state' and 'detail' must be short strings")
    if len(detail) > MAX_TEXT or not isinstance(data, dict):
        raise WireError(f"{topic_name}: 'detail' too long or 'data' not an object")
    return LaneMessage(site, lane, kind, tid, state, detail, float(sent), data)


def _json_object(payload: bytes, where: str) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise WireError(f"{where}: message of {len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        body = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"{where}: not JSON ({type(exc).__name__})") from exc
    if not isinstance(body, dict):
        raise WireError(f"{where}: not a JSON object")
    return body


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def image_b64(jpeg: bytes) -> str:
    return base64.b64encode(jpeg).decode("ascii")


def image_bytes(data: Mapping[str, Any], key: str) -> bytes | None:
    """The JPEG under ``key`` (base64), checked to be a JPEG of bounded size; else None."""
    value = data.get(key)
    if not isinstance(value, str) or len(value) > MAX_IMAGE_B64:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw if raw.startswith(b"\xff\xd8") else None
