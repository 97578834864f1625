"""The console's picture of the hall, built only from the lanes' messages.

Truthful status: ``sweep`` (every half second, ``watch``) marks a lane that has not reported
for ``OFFLINE_AFTER_S`` (or whose last will arrived) as lost, tells the browsers at once,
and times out officer decisions the lane has not answered. Durable: with a ``Store`` the
open referrals (without photos), the alarms and who decided what survive a restart.

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
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from gate.console.cards import (
    Alarm,
    LaneTile,
    Referral,
    document_data,
    liveness_view,
    scalar,
)
from gate.console.store import Store
from gate.console.wire import LaneMessage, WireError, decode, image_bytes

log = logging.getLogger("gate.console")
MAX_REFERRALS = 100
MAX_ALARMS = 500
PENDING_TIMEOUT_S = 10.0  # a decision the lane has not answered in this time has timed out
SWEEP_S = 0.5
Listener = Callable[[dict[str, Any]], None]


class Hall:
    """Thread-safe: messages come from the broker's or the hub's thread, reads from the web."""

    def __init__(self, store: Store | None = None) -> None:
        self._lock = threading.Lock()
        self.lanes: dict[str, LaneTile] = {}
        self.referrals: OrderedDict[str, Referral] = OrderedDict()
        self.alarms: OrderedDict[str, Alarm] = OrderedDict()
        self.rejected = 0
        self.last_rejection = ""
        self._listeners: list[Listener] = []
        self.store = store
        self.link_status: Callable[[], tuple[bool, str]] = lambda: (True, "in process")
        self._link_seen: tuple[bool, str] | None = None
        self._stop = threading.Event()
        if store is not None:
            self._restore(store)

    def _restore(self, store: Store) -> None:
        """The open referrals (without photos: the lanes re-send them) and the alarms."""
        for r in store.open_referrals():
            self.referrals[r["id"]] = Referral(
                r["id"], r["site"], r["lane"], r["reason"], r["decision"], r["at"], r["checks"],
                left=r["left"], claim=r["claim"],
            )  # fmt: skip
            if r["lane"] not in self.lanes:  # known, not heard from yet: lost until it reports
                self.lanes[r["lane"]] = LaneTile(r["site"], r["lane"], lost=True)
        for a in store.alarms()[-MAX_ALARMS:]:
            self.alarms[a["id"]] = Alarm(
                a["id"], a["site"], a["lane"], a["tid"], a["detail"], a["at"], a["acknowledged_by"]
            )

    def watch(self) -> Hall:
        """Start the sweep (a daemon thread) until ``close``."""
        threading.Thread(target=self._watch, name="console-watch", daemon=True).start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(SWEEP_S):
            try:
                self.sweep()
            except Exception:  # the watch must outlive a bug in one sweep
                log.exception("console sweep failed")

    def close(self) -> None:
        self._stop.set()

    def _tell(self, updates: list[dict[str, Any]]) -> None:
        with self._lock:
            listeners = tuple(self._listeners)
        for update in updates:
            update.setdefault("sent", time.time())
            for listener in listeners:
                listener(update)

    def sweep(self) -> None:
        """Lanes gone quiet become lost, unanswered decisions time out; each is told."""
        now, updates = time.monotonic(), []
        with self._lock:
            for tile in self.lanes.values():
                if not tile.lost and not tile.alive(now):
                    tile.lost = True
                    updates.append(_status("lost", tile))
            for r in self.referrals.values():
                if r.pending and now - r.pending_at > PENDING_TIMEOUT_S:
                    r.refused = (
                        f"no answer from {r.lane} in {PENDING_TIMEOUT_S:.0f} s: "
                        f"the {r.pending} may not have been applied"
                    )
                    r.pending, r.claim = "", None
                    updates.append({"kind": "timeout", "lane": r.lane, "tid": r.rid})
                    self._save(r)
        link = self.link_status()
        if link != self._link_seen:
            self._link_seen = link
            updates.append(self.link_update())
        self._tell(updates)

    def link_update(self) -> dict[str, Any]:
        ok, text = self.link_status()
        return {"kind": "link", "ok": ok, "detail": text, "sent": time.time()}

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
        if topic_name.endswith("/command") or not payload:  # not payload: a retained one cleared
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
            tile.online, tile.last_seen, tile.last_seen_wall = True, time.monotonic(), time.time()
            if m.kind != "health" or m.state:
                tile.state = m.state
            handler = getattr(self, f"_on_{m.kind}", None)
            if handler is not None:
                handler(tile, m)
            listeners = tuple(self._listeners)
            status = None
            if tile.lost == tile.alive(time.monotonic()):  # lost and back, or a last will
                tile.lost = not tile.lost
                status = _status("lost" if tile.lost else "back", tile)
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
            if status is not None:
                listener(status)

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
                if referral.lane == m.lane and not referral.left:
                    referral.left = True
                    self._save(referral)
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
            self._save(self.referrals[m.tid])
        if text == "exit_open_commanded":
            tile.doors = "exit open"
        elif text == "entry_open_commanded":
            tile.doors = "entry open"
        elif text.endswith("door_opened") and tile.doors == "locked":
            tile.doors = "open"  # opened without a command: forced or emergency
        elif text.endswith("door_closed"):
            tile.doors = "locked"

    def _on_capture(self, tile: LaneTile, m: LaneMessage) -> None:
        tile.take_capture(m.detail, m.data)

    def _on_preview(self, tile: LaneTile, m: LaneMessage) -> None:
        tile.take_preview(m.data)

    def _on_decision(self, tile: LaneTile, m: LaneMessage) -> None:
        tile.stages.append(f"decision {m.detail[:32]}")

    def _on_referral(self, tile: LaneTile, m: LaneMessage) -> None:
        if m.tid is None or "decision" not in m.data:
            return  # a follow-up note on a referral (traveller still in the lane)
        known = self.referrals.get(m.tid)
        if known is not None:  # re-announced (retained): the photos come back, nothing else
            known.chip_photo = known.chip_photo or image_bytes(m.data, "chip_photo")
            known.best_shot = known.best_shot or image_bytes(m.data, "best_shot")
            known.document = known.document or document_data(m.data.get("document"))
            return
        if self.store is not None and self.store.closed_claim(m.tid) is not None:
            return  # decided while this console was away (a stale retained announcement)
        today = dt.date.today().isoformat()
        if tile.referral_day != today:
            tile.referral_reasons, tile.referral_day = Counter(), today
        decision = str(m.data.get("decision"))[:32]
        tile.referral_reasons[decision] += 1
        keys = ("passive_auth", "active_auth", "chip_auth", "liveness", "score", "threshold")
        checks: dict[str, Any] = {k: scalar(m.data.get(k)) for k in (*keys, "quality")}
        checks["liveness_evidence"] = liveness_view(m.data.get("liveness_evidence"))
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
            left=bool(m.data.get("left", False)),
            document=document_data(m.data.get("document")),
        )
        self._save(self.referrals[m.tid])
        while len(self.referrals) > MAX_REFERRALS:
            self.referrals.popitem(last=False)

    def _save(self, referral: Referral) -> None:
        if self.store is not None:
            self.store.put_referral(referral.record())

    def _on_alarm(self, tile: LaneTile, m: LaneMessage) -> None:
        aid = uuid.uuid4().hex[:16]
        self.alarms[aid] = Alarm(aid, m.site, m.lane, m.tid, m.detail[:200], m.sent)
        if self.store is not None:
            self.store.put_alarm(self.alarms[aid].view())
        while len(self.alarms) > MAX_ALARMS:
            self.alarms.popitem(last=False)

    def _on_officer(self, tile: LaneTile, m: LaneMessage) -> None:
        referral = self.referrals.get(m.tid) if m.tid is not None else None
        if m.tid is not None and m.detail in ("accept", "refuse"):
            decided = self.referrals.pop(m.tid, None)  # decided: the photos leave memory now
            officer = str(m.data.get("officer", ""))[:32]
            claim = {"officer": officer, "decision": m.detail, "at": m.sent}
            if decided is not None and decided.claim and decided.claim.get("officer") == officer:
                claim = {**decided.claim, "at": m.sent}
            if self.store is not None:
                self.store.close_referral(m.tid, claim)
        elif referral is not None and " refused: " in m.detail:
            referral.pending, referral.refused, referral.claim = "", m.detail[:200], None
            referral.left = referral.left or "has left" in m.detail
            self._save(referral)

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
        now = time.monotonic()
        with self._lock:
            alive = {name: tile.alive(now) for name, tile in self.lanes.items()}
            return [r.view(alive.get(r.lane, False)) for r in reversed(self.referrals.values())]

    def lane_alive(self, lane: str) -> bool:
        with self._lock:
            tile = self.lanes.get(lane)
            return tile is not None and tile.alive(time.monotonic())

    def referral(self, rid: str) -> Referral | None:
        with self._lock:
            return self.referrals.get(rid)

    def claim(self, rid: str, officer: str, role: str, decision: str) -> dict[str, Any] | None:
        """Make ``officer``'s decision the first on ``rid`` (``None``), or the first one
        already made (by anyone) while it is pending or decided; the others are told."""
        with self._lock:
            referral = self.referrals.get(rid)
            if referral is None:
                return self.store.closed_claim(rid) if self.store is not None else None
            if referral.claim:
                return dict(referral.claim)
            referral.claim = {
                "officer": officer,
                "role": role,
                "decision": decision,
                "at": time.time(),
            }
            referral.pending, referral.pending_at, referral.refused = decision, time.monotonic(), ""
            self._save(referral)
            lane = referral.lane
        claim = {"kind": "claim", "lane": lane, "tid": rid, "detail": f"{officer}: {decision}"}
        self._tell([claim])
        return None

    def release(self, rid: str) -> None:
        """The claimed decision was not sent: it is no one's."""
        with self._lock:
            referral = self.referrals.get(rid)
            if referral is not None:
                referral.claim, referral.pending = None, ""
                self._save(referral)

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
                if self.store is not None:
                    self.store.put_alarm(self.alarms[aid].view())

    def history(self) -> list[tuple[str, float, str, dict[str, float]]]:
        """(lane, wall time, decision, stage ms) of every finished transaction seen."""
        with self._lock:
            return [
                (tile.lane, at, decision, stages)
                for tile in self.lanes.values()
                for at, decision, stages in tile.finished
            ]


def _status(kind: str, tile: LaneTile) -> dict[str, Any]:
    return {"kind": kind, "lane": tile.lane, "site": tile.site, "sent": time.time()}
