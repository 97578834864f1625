"""What the console holds per lane, referral and alarm (in memory; ``gate.console.store``
keeps the referrals and alarms, never their photos)."""

from __future__ import annotations

import math
import re
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gate.console.wire import image_bytes
from gate.lane import ACCEPT_ROLES
from gate.outcome import Decision

OFFLINE_AFTER_S = 4.0  # no heartbeat for this long: the lane is shown lost
MAX_HISTORY = 5000
# The queue's order: a traveller held after an alarm first, a mismatch next, then the rest.
PRIORITY = {
    "TAILGATING": 0,
    "REFER_WATCHLIST": 0,
    "REJECT_MISMATCH": 1,
    "AUDIT_FAILED": 1,
    "REFER_LIVENESS": 2,
}


def document_data(value: Any) -> dict[str, str]:
    """The lane's masked document view, checked: a few short strings, nothing else (with the
    page-chip checks' results when the lane read a page: ``page_mrz``, ``page_portrait``)."""
    if not isinstance(value, dict):
        return {}
    keys = ("type", "issuing_state", "name", "nationality", "expiry", "number", "page_mrz",
            "page_portrait")  # fmt: skip
    return {k: str(value[k])[:64] for k in keys if isinstance(value.get(k), str)}


_LABEL = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_CUES = 40


def liveness_view(value: Any) -> dict[str, Any]:
    """The lane's liveness evidence for the referral card, checked: the score, the passive
    verdict, each cue's value (short names, finite numbers) and the challenge asked and its
    result (short labels); anything else is dropped. Numbers and labels only."""
    if not isinstance(value, dict):
        return {}

    def label(key: str) -> str | None:
        text = value.get(key)
        return text if isinstance(text, str) and _LABEL.fullmatch(text) else None

    cues = value.get("cues")
    view: dict[str, Any] = {
        "score": finite(value.get("score")),
        "verdict": label("verdict"),
        "cues": {
            k: finite(v)
            for k, v in sorted(cues.items())[:MAX_CUES]
            if isinstance(k, str) and _LABEL.fullmatch(k) and finite(v) is not None
        }
        if isinstance(cues, dict)
        else {},
        "challenge": label("challenge"),
        "challenge_result": label("challenge_result"),
        "challenge_ms": finite(value.get("challenge_ms")),
        "challenge_peak": finite(value.get("challenge_peak")),
    }
    return view if view["score"] is not None else {}


@dataclass
class LaneTile:
    site: str
    lane: str
    state: str = "unknown"
    last_outcome: str = ""
    doors: str = "locked"
    health: str = "unknown"
    last_error: str = ""
    devices: dict[str, str] = field(default_factory=dict)
    in_service: bool = True
    online: bool = False
    last_seen: float = 0.0  # console's monotonic clock
    last_seen_wall: float = 0.0
    lost: bool = False  # shown lost (no report within OFFLINE_AFTER_S, or its last will)
    current_tid: str | None = None
    stages: list[str] = field(default_factory=list)
    capture: dict[str, Any] = field(default_factory=dict)
    preview: bytes | None = field(default=None, repr=False)
    preview_seq: int = 0
    preview_face: dict[str, Any] = field(default_factory=dict)  # box, quality of the preview
    finished: deque[tuple[float, str, dict[str, float]]] = field(
        default_factory=lambda: deque(maxlen=MAX_HISTORY)
    )
    referral_reasons: Counter[str] = field(default_factory=Counter)
    referral_day: str = ""

    def take_capture(self, detail: str, data: Mapping[str, Any]) -> None:
        box = data.get("face_box")
        self.capture = {
            "status": detail[:20],
            "quality": number(data.get("quality")),
            "liveness": number(data.get("liveness")),
            "face_box": [float(v) for v in box[:4]] if isinstance(box, list) else None,
        }

    def take_preview(self, data: Mapping[str, Any]) -> None:
        image = image_bytes(data, "image")
        if image is not None:
            self.preview, self.preview_seq = image, self.preview_seq + 1
            box = data.get("face_box")
            self.preview_face = {
                "face_box": [float(v) for v in box[:4]] if isinstance(box, list) else None,
                "quality": number(data.get("quality")),
            }

    def alive(self, now: float) -> bool:
        return self.online and now - self.last_seen < OFFLINE_AFTER_S

    def view(self, now: float) -> dict[str, Any]:
        hour_ago = time.time() - 3600
        return {
            "site": self.site,
            "lane": self.lane,
            "state": self.state,
            "last_outcome": self.last_outcome,
            "doors": self.doors,
            "health": self.health,
            "last_error": self.last_error,
            "devices": dict(self.devices),
            "in_service": self.in_service,
            "online": self.alive(now),
            "last_seen": self.last_seen_wall,
            "travellers_per_hour": sum(1 for at, _, _ in self.finished if at >= hour_ago),
            "referrals_today": dict(self.referral_reasons),
            "current_tid": self.current_tid,
            "stages": list(self.stages),
            "capture": dict(self.capture),
            "preview_seq": self.preview_seq,
            "preview_face": dict(self.preview_face),
        }


@dataclass
class Referral:
    rid: str  # the transaction id
    site: str
    lane: str
    reason: str
    decision: str
    at: float
    checks: dict[str, Any]
    chip_photo: bytes | None = field(default=None, repr=False)
    best_shot: bytes | None = field(default=None, repr=False)
    pending: str = ""  # the officer's decision sent, not yet confirmed by the lane
    pending_at: float = 0.0  # monotonic time it was sent (it times out)
    claim: dict[str, Any] | None = None  # the first decision: officer, role, decision, at
    document: dict[str, str] = field(default_factory=dict, repr=False)  # memory only
    left: bool = False  # the traveller walked back out (or a later one came): no accept
    refused: str = ""  # the lane refused the last decision sent, and why

    def accept_roles(self) -> frozenset[str]:
        """Who may open the exit over this outcome (the lane's own rule)."""
        try:
            return ACCEPT_ROLES.get(Decision(self.decision), frozenset())
        except ValueError:
            return frozenset()

    def record(self) -> dict[str, Any]:
        """What the store keeps (no photos)."""
        return {
            "id": self.rid,
            "site": self.site,
            "lane": self.lane,
            "reason": self.reason,
            "decision": self.decision,
            "at": self.at,
            "checks": self.checks,
            "left": self.left,
            "claim": self.claim,
        }

    def view(self, lane_online: bool = True) -> dict[str, Any]:
        return {
            "id": self.rid,
            "site": self.site,
            "lane": self.lane,
            "reason": self.reason,
            "decision": self.decision,
            "at": self.at,
            "checks": self.checks,
            "has_chip_photo": self.chip_photo is not None,
            "has_best_shot": self.best_shot is not None,
            "pending": self.pending,
            "left": self.left,
            "refused": self.refused,
            "claim": self.claim,
            "document": dict(self.document),
            "priority": PRIORITY.get(self.decision, 3),
            "lane_online": lane_online,
            "accept_roles": sorted(self.accept_roles()),
        }


@dataclass
class Alarm:
    aid: str
    site: str
    lane: str
    tid: str | None
    detail: str
    at: float
    acknowledged_by: str = ""

    def view(self) -> dict[str, Any]:
        return {
            "id": self.aid,
            "site": self.site,
            "lane": self.lane,
            "tid": self.tid,
            "detail": self.detail,
            "at": self.at,
            "acknowledged_by": self.acknowledged_by,
        }


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def finite(value: Any) -> float | None:
    number_ = number(value)
    return number_ if number_ is not None and math.isfinite(number_) else None


def scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:32]
