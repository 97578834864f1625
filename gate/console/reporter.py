"""The lane's reporter: an observer that turns ``GateEvent``s into wire messages.

The lane calls observers in its own thread, so ``LaneReporter.__call__`` only puts the
event in a bounded queue and returns (a full queue drops the event and counts it). Its
own thread encodes (JPEG for images) and hands messages to a
``Link``: the in-process ``LocalHub`` or ``MqttLink`` (paho + Mosquitto). Commands from
the console arrive through the link and are queued, still unchecked, on the lane
(``submit_officer_action``): the lane's own thread checks each one's signature, lane, nonce
and expiry against the console keys it trusts (``trust``) and what its state allows, and
writes every refusal to its audit log. Nothing runs in the console's or the broker's thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from gate.console.wire import (
    LaneMessage,
    WireError,
    check_name,
    encode,
    image_b64,
    open_referral_topic,
    topic,
)
from gate.errors import GateError
from gate.lane import ConsoleTrust, GateEvent, Lane
from gate.outcome import State, Transaction

log = logging.getLogger("gate.console")

# Messages the link keeps for a broker that comes back (the rest are "now or never").
KEPT_KINDS = frozenset({"transaction", "decision", "alarm", "referral", "fail_safe", "officer"})
HEARTBEAT_S = 1.0
# The devices a tile shows, and the words of the lane's fault reasons that name each.
DEVICES = {
    "turnstile": ("turnstile", "door", "lock", "entry", "exit"),
    "camera": ("camera", "capture"),
    "reader": ("document", "chip", "reader", "pcsc"),
    "face models": ("face models", "pack", "enrol", "verify"),
    "audit log": ("audit",),
}
QUEUE_SIZE = 2000
CommandHandler = Callable[[bytes], None]


class Link(Protocol):
    """Carries a lane's messages out and the console's commands in."""

    def send(self, topic_name: str, payload: bytes, keep: bool) -> None:
        """Hand over one message; never blocks for long. ``keep``: hold it for a broker
        that is away (within the link's bound)."""
        ...

    def retain(self, topic_name: str, payload: bytes) -> None:
        """Keep ``payload`` for every console that subscribes later (empty: clear it)."""
        ...

    def on_command(self, site: str, lane: str, handler: CommandHandler) -> None: ...

    def close(self) -> None: ...


def jpeg(image: Any, quality: int = 80) -> bytes | None:
    import cv2

    if image is None:
        return None
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return bytes(data) if ok else None


class LaneReporter:
    """Observer of one lane; ``start`` it, ``close`` it when the lane stops."""

    def __init__(
        self,
        site: str,
        lane_id: str,
        link: Link,
        lane: Lane | None = None,
        trust: ConsoleTrust | None = None,
    ) -> None:
        self.site = check_name(site, "site")
        self.lane_id = check_name(lane_id, "lane")
        self.link = link
        self.lane = lane
        self.trust = trust  # the console keys the lane believes (None: no command is believed)
        self.dropped = 0
        self.rejected_commands = 0
        self._queue: queue.Queue[tuple[GateEvent, float] | None] = queue.Queue(QUEUE_SIZE)
        self._state = State.IDLE.value
        self._last_error = ""
        self._devices = dict.fromkeys(DEVICES, "ok")
        self._served = 0
        self._thread = threading.Thread(target=self._run, name=f"reporter-{lane_id}", daemon=True)
        self._stopped = threading.Event()
        self._open: set[str] = set()  # the retained topics of this lane's open referrals

    def start(self) -> LaneReporter:
        if self.lane is not None:
            self.attach(self.lane)
        self._thread.start()
        return self

    def attach(self, lane: Lane) -> None:
        """Take commands for ``lane`` (when the reporter was made before the lane)."""
        self.lane = lane
        if self.trust is not None:
            lane.trust_consoles(self.lane_id, self.trust)
        lane.show_previews()
        self.link.on_command(self.site, self.lane_id, self._command)

    def __call__(self, event: GateEvent) -> None:
        try:
            self._queue.put_nowait((event, time.time()))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (for at most ``timeout``), then stop."""
        if self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put((None), timeout=timeout)
            self._stopped.set()
            self._thread.join(timeout)

    # -- the reporter's thread ------------------------------------------------------------------
    def _run(self) -> None:
        next_beat = 0.0
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_beat - time.monotonic()))
            except queue.Empty:
                item = ()  # type: ignore[assignment]
            if item is None:
                for name in sorted(self._open):  # the lane forgets them: so must consoles
                    self.link.retain(name, b"")
                self._heartbeat(online=False)
                return
            if item:
                event, sent = item
                try:
                    self._publish(event, sent)
                except Exception:  # a bad event must not end the reporting
                    log.exception("reporter: event %s not published", event.kind)
            if time.monotonic() >= next_beat:
                self._heartbeat(online=True)
                next_beat = time.monotonic() + HEARTBEAT_S

    def _heartbeat(self, online: bool) -> None:
        data = {
            "online": online,
            "in_service": self.lane.in_service if self.lane is not None else True,
            "served": self._served,
            "dropped": self.dropped,
            "last_error": self._last_error,
            "health": "fault" if self._state == State.FAIL_SAFE.value else "ok",
            "devices": dict(self._devices),
        }
        message = LaneMessage(self.site, self.lane_id, "health", None, self._state, "", time.time())
        self.link.send(
            topic(self.site, self.lane_id, "health"), encode(_with(message, data)), False
        )

    def _publish(self, event: GateEvent, sent: float) -> None:
        self._state = event.state.value
        data = self._data(event)
        if event.kind in ("error", "fail_safe"):
            self._last_error = event.detail[:200]
            self._note_device(event.detail)
        if event.kind == "decision" and event.detail == "ACCEPT":
            self._devices = dict.fromkeys(DEVICES, "ok")  # every device just did its part
        if event.kind == "transaction" and event.detail == "finished":
            self._served += 1
        message = LaneMessage(
            self.site,
            self.lane_id,
            event.kind,
            event.transaction_id,
            event.state.value,
            event.detail[:500],
            sent,
            data,
        )
        payload = encode(message)
        self.link.send(
            topic(self.site, self.lane_id, event.kind), payload, event.kind in KEPT_KINDS
        )
        tid = event.transaction_id
        if tid is None:
            return
        retained = open_referral_topic(self.site, self.lane_id, tid)
        if event.kind == "referral" and "decision" in data:  # re-announced to every console
            self._open.add(retained)
            self.link.retain(retained, payload)
        elif (
            event.kind == "officer"
            and event.detail in ("accept", "refuse")
            and retained in self._open
        ):
            self._open.discard(retained)
            self.link.retain(retained, b"")

    def _note_device(self, detail: str) -> None:
        """Which device a fault names (the lane's reasons start with the stage or device)."""
        text = detail.lower()
        for device, words in DEVICES.items():
            if any(word in text for word in words):
                self._devices[device] = "fault"

    @staticmethod
    def _data(event: GateEvent) -> dict[str, Any]:
        """What of the event's data travels: JSON values; images as JPEG; never the
        document number (``Transaction.summary`` leaves it out)."""
        out: dict[str, Any] = {}
        for key, value in event.data.items():
            if isinstance(value, Transaction):
                out[key] = value.summary()
            elif key in ("image", "chip_photo", "best_shot"):
                encoded = jpeg(value, 70 if key == "image" else 85)
                if encoded is not None:
                    out[key] = image_b64(encoded)
            elif value is None or isinstance(value, (str, int, float, bool)):
                out[key] = value
            elif isinstance(value, (tuple, list)):
                out[key] = [float(v) for v in value]
            elif key == "document" and isinstance(value, dict):  # already masked by the lane
                out[key] = {str(k)[:20]: str(v)[:64] for k, v in list(value.items())[:8]}
            elif key in ("liveness_evidence", "cues") and isinstance(value, dict):
                out[key] = _numbers_and_labels(value)  # gate.outcome.LivenessEvidence
        return out

    # -- commands from the console ---------------------------------------------------------
    def _command(self, payload: bytes) -> None:
        """In the link's thread: queue the bytes on the lane, which checks them in its own
        thread (and audits a refusal); nothing is believed or acted on here."""
        lane = self.lane
        try:
            if lane is None:
                raise WireError("command: this reporter has no lane to act on")
            lane.submit_officer_action(payload)
        except GateError as exc:
            self.rejected_commands += 1
            log.warning("lane %s: command refused: %s", self.lane_id, exc)


def last_will(site: str, lane: str) -> tuple[str, bytes]:
    """The health message the broker publishes for a lane that vanished: offline."""
    message = LaneMessage(site, lane, "health", None, "", "last will", time.time())
    return topic(site, lane, "health"), encode(_with(message, {"online": False, "health": "lost"}))


def _with(message: LaneMessage, data: dict[str, Any]) -> LaneMessage:
    return LaneMessage(
        message.site,
        message.lane,
        message.kind,
        message.tid,
        message.state,
        message.detail,
        message.sent,
        data,
    )


def _numbers_and_labels(value: dict[Any, Any], depth: int = 0) -> dict[str, Any]:
    """A liveness evidence dict as JSON can carry it: finite numbers, short labels, None,
    one level of nesting (the cues); anything else is left out."""
    out: dict[str, Any] = {}
    for key, item in list(value.items())[:64]:
        finite = isinstance(item, int | float) and math.isfinite(item)
        if item is None or isinstance(item, bool) or finite:
            out[str(key)[:32]] = item
        elif isinstance(item, str):
            out[str(key)[:32]] = item[:32]
        elif isinstance(item, dict) and depth == 0:
            out[str(key)[:32]] = _numbers_and_labels(item, depth + 1)
    return out
