"""The console's picture of the hall, built only from the lanes' messages.

Per lane: a tile (state, last outcome, doors, health, travellers per hour, today's referrals
by reason), the current transaction's stages, the last capture's face box and quality, and
the latest camera preview. Open referrals hold the chip photo and the best shot in memory
until an officer decides (then they are dropped); nothing here is ever written to disk.
``listen`` hands each change to the web layer as a small dict for the browsers (no images).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gate.console.wire import LaneMessage, WireError, decode, image_bytes
from gate.lane import ACCEPT_ROLES
from gate.outcome import Decision

log = logging.getLogger("gate.console")
OFFLINE_AFTER_S = 4.0  # no heartbeat for this long: the lane is shown offline
MAX_REFERRALS = 100
MAX_ALARMS = 500
MAX_HISTORY = 5000
Listener = Callable[[dict[str, Any]], None]


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
            "online": self.online and now - self.last_seen < OFFLINE_AFTER_S,
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
    left: bool = False  # the traveller walked back out (or a later one came): no accept
    refused: str = ""  # the lane refused the last decision sent, and why

    def accept_roles(self) -> frozenset[str]:
        """Who may open the exit over this outcome (the lane's own rule)."""
        try:
            return ACCEPT_ROLES.get(Decision(self.decision), frozenset())
        except ValueError:
            return frozenset()

    def view(self) -> dict[str, Any]:
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


class Hall:
    """Thread-safe: messages come from the broker's or the hub's thread, reads from the web."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lanes: dict[str, LaneTile] = {}
        self.referrals: OrderedDict[str, Referral] = OrderedDict()
        self.alarms: OrderedDict[str, Alarm] = OrderedDict()
        self.rejected = 0
        self.last_rejection = ""
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # -- incoming -------------------------------------------------------------------------------
    def receive(self, topic_name: str, payload: bytes) -> bool:
        """One raw message from a lane; a bad one is counted, logged in one line and dropped.
        Officer commands (consoles' own, on ``.../command``) are not lane messages: ignored."""
        if topic_name.endswith("/command"):
            return False
        try:
            message = decode(topic_name, payload)
        except WireError as exc:
            with self._lock:
                self.rejected += 1
                self.last_rejection = str(exc)[:200]
            log.warning("lane message refused: %s", exc)
            return False
        self.apply(message)
        return True

    def apply(self, m: LaneMessage) -> None:
        with self._lock:
            tile = self.lanes.get(m.lane)
            if tile is None:
                tile = self.lanes[m.lane] = LaneTile(m.site, m.lane)
            tile.online, tile.last_seen = True, time.monotonic()
            if m.kind != "health" or m.state:
                tile.state = m.state
            handler = getattr(self, f"_on_{m.kind}", None)
            if handler is not None:
                handler(tile, m)
            listeners = tuple(self._listeners)
        if m.kind == "preview":
            update = {"kind": "preview", "lane": m.lane, "seq": tile.preview_seq, "sent": m.sent}
        else:
            update = {
                "kind": m.kind,
                "lane": m.lane,
                "site": m.site,
                "tid": m.tid,
                "state": m.state,
                "detail": m.detail,
                "sent": m.sent,
            }
        for listener in listeners:
            listener(update)

    def _on_health(self, tile: LaneTile, m: LaneMessage) -> None:
        tile.health = str(m.data.get("health", "unknown"))[:20]
        tile.last_error = str(m.data.get("last_error", ""))[:200]
        tile.in_service = bool(m.data.get("in_service", True))
        devices = m.data.get("devices")
        if isinstance(devices, dict):
            tile.devices = {str(k)[:20]: str(v)[:10] for k, v in list(devices.items())[:8]}
        tile.online = bool(m.data.get("online", True))

    def _on_transaction(self, tile: LaneTile, m: LaneMessage) -> None:
        if m.detail == "started":  # a new traveller: every earlier one on this lane has gone
            for referral in self.referrals.values():
                referral.left = referral.left or referral.lane == m.lane
        if m.detail == "started":
            tile.current_tid, tile.stages, tile.capture = m.tid, ["started"], {}
            return
        summary = m.data.get("transaction")
        if m.detail == "finished" and isinstance(summary, dict):
            decision = str(summary.get("decision", ""))[:32]
            tile.last_outcome = decision
            stages = summary.get("stage_ms")
            stage_ms = (
                {str(k)[:40]: float(v) for k, v in stages.items() if isinstance(v, (int, float))}
                if isinstance(stages, dict)
                else {}
            )
            tile.finished.append((m.sent, decision, stage_ms))
            tile.stages.append("finished")
            tile.doors = "locked"  # every transaction ends by locking both doors

    def _on_state(self, tile: LaneTile, m: LaneMessage) -> None:
        if m.tid is not None and m.tid == tile.current_tid:
            tile.stages.append(m.state)

    def _on_door(self, tile: LaneTile, m: LaneMessage) -> None:
        text = m.detail
        if text == "walked_out" and m.tid is not None and m.tid in self.referrals:
            self.referrals[m.tid].left = True  # the referred traveller has gone
        if text == "exit_open_commanded":
            tile.doors = "exit open"
        elif text == "entry_open_commanded":
            tile.doors = "entry open"
        elif text.endswith("door_opened") and tile.doors == "locked":
            tile.doors = "open"  # opened without a command: forced or emergency
        elif text.endswith("door_closed"):
            tile.doors = "locked"

    def _on_capture(self, tile: LaneTile, m: LaneMessage) -> None:
        box = m.data.get("face_box")
        tile.capture = {
            "status": m.detail[:20],
            "quality": _number(m.data.get("quality")),
            "liveness": _number(m.data.get("liveness")),
            "face_box": [float(v) for v in box[:4]] if isinstance(box, list) else None,
        }

    def _on_preview(self, tile: LaneTile, m: LaneMessage) -> None:
        image = image_bytes(m.data, "image")
        if image is not None:
            tile.preview, tile.preview_seq = image, tile.preview_seq + 1
            box = m.data.get("face_box")
            tile.preview_face = {
                "face_box": [float(v) for v in box[:4]] if isinstance(box, list) else None,
                "quality": _number(m.data.get("quality")),
            }

    def _on_decision(self, tile: LaneTile, m: LaneMessage) -> None:
        tile.stages.append(f"decision {m.detail[:32]}")

    def _on_referral(self, tile: LaneTile, m: LaneMessage) -> None:
        if m.tid is None or "decision" not in m.data:
            return  # a follow-up note on a referral (traveller still in the lane)
        today = dt.date.today().isoformat()
        if tile.referral_day != today:
            tile.referral_reasons, tile.referral_day = Counter(), today
        decision = str(m.data.get("decision"))[:32]
        tile.referral_reasons[decision] += 1
        keys = ("passive_auth", "active_auth", "chip_auth", "liveness", "score", "threshold")
        checks: dict[str, Any] = {k: _scalar(m.data.get(k)) for k in (*keys, "quality")}
        self.referrals[m.tid] = Referral(
            m.tid,
            m.site,
            m.lane,
            m.detail[:200],
            decision,
            m.sent,
            checks,
            image_bytes(m.data, "chip_photo"),
            image_bytes(m.data, "best_shot"),
        )
        while len(self.referrals) > MAX_REFERRALS:
            self.referrals.popitem(last=False)

    def _on_alarm(self, tile: LaneTile, m: LaneMessage) -> None:
        aid = uuid.uuid4().hex[:16]
        self.alarms[aid] = Alarm(aid, m.site, m.lane, m.tid, m.detail[:200], m.sent)
        while len(self.alarms) > MAX_ALARMS:
            self.alarms.popitem(last=False)

    def _on_officer(self, tile: LaneTile, m: LaneMessage) -> None:
        referral = self.referrals.get(m.tid) if m.tid is not None else None
        if m.tid is not None and m.detail in ("accept", "refuse"):
            self.referrals.pop(m.tid, None)  # decided: the photos leave memory now
        elif referral is not None and " refused: " in m.detail:
            referral.pending, referral.refused = "", m.detail[:200]
            referral.left = referral.left or "has left" in m.detail

    # -- reading ------------------------------------------------------------------------------
    def hall_view(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            return [self.lanes[name].view(now) for name in sorted(self.lanes)]

    def lane_view(self, lane: str) -> dict[str, Any] | None:
        with self._lock:
            tile = self.lanes.get(lane)
            return None if tile is None else tile.view(time.monotonic())

    def preview(self, lane: str) -> bytes | None:
        with self._lock:
            tile = self.lanes.get(lane)
            return None if tile is None else tile.preview

    def referral_views(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.view() for r in reversed(self.referrals.values())]

    def referral(self, rid: str) -> Referral | None:
        with self._lock:
            return self.referrals.get(rid)

    def mark_pending(self, rid: str, what: str) -> None:
        with self._lock:
            if rid in self.referrals:
                self.referrals[rid].pending = what

    def alarm_views(self) -> list[dict[str, Any]]:
        with self._lock:
            return [a.view() for a in reversed(self.alarms.values())]

    def alarm(self, aid: str) -> Alarm | None:
        with self._lock:
            return self.alarms.get(aid)

    def acknowledge(self, aid: str, officer: str) -> None:
        with self._lock:
            if aid in self.alarms:
                self.alarms[aid].acknowledged_by = officer

    def history(self) -> list[tuple[str, float, str, dict[str, float]]]:
        """(lane, wall time, decision, stage ms) of every finished transaction seen."""
        with self._lock:
            return [
                (tile.lane, at, decision, stages)
                for tile in self.lanes.values()
                for at, decision, stages in tile.finished
            ]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:32]
