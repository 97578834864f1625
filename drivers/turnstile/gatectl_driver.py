"""Driver for gatectl gate controllers (docs/gatectl.md).

The service thread reads the line: ACK/NAK frames answer the one command in flight, EVENT
frames are acknowledged and queued. A heartbeat thread keeps the controller's watchdog fed
and, after every (re)connect, sets the watchdog and locks the doors before anything else.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import threading
import time

from drivers.turnstile import gatectl as g
from drivers.turnstile.link import SerialDriver, SerialFactory, nak_error
from gate.errors import DeviceGoneError, DeviceTimeoutError, GateError, ProtocolError
from gate.turnstile import (
    DEFAULT_TIMEOUT,
    Door,
    DoorState,
    EventKind,
    TurnstileStatus,
)

log = logging.getLogger(__name__)

_STATE = {
    g.StateCode.CLOSED: DoorState.CLOSED,
    g.StateCode.OPEN: DoorState.OPEN,
    g.StateCode.MOVING: DoorState.MOVING,
    g.StateCode.JAMMED: DoorState.JAMMED,
    g.StateCode.UNKNOWN: DoorState.UNKNOWN,
}
_EVENT = {
    g.EventCode.DOOR_OPENED: EventKind.DOOR_OPENED,
    g.EventCode.DOOR_CLOSED: EventKind.DOOR_CLOSED,
    g.EventCode.BEAM_BROKEN: EventKind.BEAM_BROKEN,
    g.EventCode.BEAM_CLEARED: EventKind.BEAM_CLEARED,
    g.EventCode.PASSAGE_COMPLETED: EventKind.PASSAGE_COMPLETED,
    g.EventCode.TAILGATING: EventKind.TAILGATING,
    g.EventCode.DOOR_FORCED: EventKind.DOOR_FORCED,
    g.EventCode.DOOR_JAMMED: EventKind.DOOR_JAMMED,
    g.EventCode.EMERGENCY_OPEN: EventKind.EMERGENCY_OPEN,
    g.EventCode.EMERGENCY_CLEARED: EventKind.EMERGENCY_CLEARED,
    g.EventCode.WATCHDOG_LOCKED: EventKind.WATCHDOG_LOCKED,
}
_DOOR = {g.DoorCode.NONE: None, g.DoorCode.ENTRY: Door.ENTRY, g.DoorCode.EXIT: Door.EXIT}


class GatectlTurnstile(SerialDriver):
    name = "gatectl"

    def __init__(
        self,
        factory: SerialFactory,
        *,
        url: str = "",
        heartbeat: float = 0.25,
        watchdog: float = 1.0,
        ack_timeout: float = 0.2,
        retries: int = 3,
        backoff: float = 0.05,
        connect_timeout: float = 2.0,
    ) -> None:
        self._heartbeat_s = heartbeat
        self._watchdog_s = watchdog
        self._ack_timeout = ack_timeout
        self._retries = retries
        self._decoder = g.FrameDecoder()
        self._cmd_lock = threading.Lock()  # one command in flight: ACKs match by seq
        self._reply_ready = threading.Condition()
        self._waiting_seq: int | None = None
        self._reply: g.Frame | None = None
        # a random start: a new session must not look like a retry of the last one's command
        self._seq = random.randrange(256)
        self._seen_events: collections.deque[int] = collections.deque(maxlen=16)
        self._last_tx = 0.0
        self._setup_needed = threading.Event()
        self._reconnected = False
        self._ready = threading.Event()  # set once the post-connect lock went through
        self._hb_thread = threading.Thread(
            target=self._heartbeat_loop, name="egate-gatectl-heartbeat", daemon=True
        )
        super().__init__(factory, url=url, backoff=backoff, connect_timeout=connect_timeout)
        self._hb_thread.start()
        if not self._ready.wait(connect_timeout):
            self.close()
            raise DeviceTimeoutError(f"gatectl: controller on {url} does not answer")

    def _wait_ready(self, timeout: float) -> float:
        """Block user commands until the post-connect lock went through; returns time left."""
        start = time.monotonic()
        if not self._ready.wait(timeout):
            if not self.connected:
                raise DeviceGoneError(f"gatectl: {self._url} is disconnected")
            raise DeviceTimeoutError(f"gatectl: controller on {self._url} is not ready")
        return max(0.0, timeout - (time.monotonic() - start))

    # ---- commands --------------------------------------------------------------------------
    def command(
        self, cmd: g.Command, payload: bytes = b"", timeout: float = DEFAULT_TIMEOUT
    ) -> g.Frame:
        """Send one command and return its ACK; retries on silence, raises on NAK."""
        deadline = time.monotonic() + timeout
        if not self._cmd_lock.acquire(timeout=max(0.0, timeout)):
            raise DeviceTimeoutError(f"gatectl: {cmd.name} waited {timeout:.2f} s for the line")
        try:
            self._seq = (self._seq + 1) & 0xFF
            seq = self._seq
            frame = g.Frame(seq, cmd, payload).encode()
            with self._reply_ready:
                self._waiting_seq, self._reply = seq, None
            for _attempt in range(self._retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.write(frame)
                self._last_tx = time.monotonic()
                wait_until = time.monotonic() + min(self._ack_timeout, remaining)
                with self._reply_ready:
                    while self._reply is None and self.connected:
                        left = wait_until - time.monotonic()
                        if left <= 0:
                            break
                        self._reply_ready.wait(left)
                    reply = self._reply
                if not self.connected:
                    raise DeviceGoneError(f"gatectl: {self._url} vanished during {cmd.name}")
                if reply is not None:
                    if reply.command == g.Command.NAK:
                        code = reply.payload[0] if reply.payload else 0
                        try:
                            reason = g.NakReason(code).name.lower()
                        except ValueError:
                            reason = f"reason code {code}"
                        raise nak_error("gatectl", cmd.name, reason)
                    return reply
            raise DeviceTimeoutError(
                f"gatectl: no acknowledgement for {cmd.name} from {self._url} within "
                f"{timeout:.2f} s"
            )
        finally:
            with self._reply_ready:
                self._waiting_seq = None
            self._cmd_lock.release()

    def _open(self, door: g.DoorCode, timeout: float) -> None:
        try:
            self.command(g.Command.OPEN, bytes((door,)), self._wait_ready(timeout))
        except GateError:
            # the controller may have acted on a command whose ACK was lost: lock again
            # (best effort; the controller's watchdog covers a dead link)
            with contextlib.suppress(GateError):
                if self.connected:
                    self.command(g.Command.LOCK, b"", timeout=0.5)
            raise

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(g.DoorCode.ENTRY, timeout)

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(g.DoorCode.EXIT, timeout)

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.command(g.Command.LOCK, b"", self._wait_ready(timeout))

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus:
        reply = self.command(g.Command.STATUS, b"", self._wait_ready(timeout))
        st = g.StatusPayload.decode(reply.payload)
        return TurnstileStatus(
            entry=_STATE[st.entry],
            exit=_STATE[st.exit],
            beams=tuple(bool(st.beams >> i & 1) for i in range(st.beam_count)),
            emergency=bool(st.flags & g.FLAG_EMERGENCY),
            fault="watchdog tripped" if st.flags & g.FLAG_WATCHDOG_TRIPPED else "",
        )

    def _fail_safe(self) -> None:
        self.command(g.Command.LOCK, b"", timeout=1.0)

    # ---- the line --------------------------------------------------------------------------
    def _service(self) -> None:
        data = self.read()
        if not data:
            return
        for frame in self._decoder.feed(data):
            if frame.command in (g.Command.ACK, g.Command.NAK):
                with self._reply_ready:
                    if frame.seq == self._waiting_seq and self._reply is None:
                        self._reply = frame
                        self._reply_ready.notify_all()
            elif frame.command == g.Command.EVENT:
                self._on_event(frame)
            # anything else from a controller is not ours to act on: ignore it

    def _on_event(self, frame: g.Frame) -> None:
        try:
            self.write(g.Frame(frame.seq, g.Command.ACK).encode())
        except DeviceGoneError:
            return
        if frame.seq in self._seen_events:
            return  # a retransmission: our ACK was lost
        self._seen_events.append(frame.seq)
        try:
            ev = g.EventPayload.decode(frame.payload)
        except ProtocolError as exc:
            log.warning("%s", exc)
            return
        broken = ",".join(str(i) for i in range(8) if ev.beams >> i & 1) or "none"
        self.emit(_EVENT[ev.code], _DOOR[ev.door], detail=f"broken beams: {broken}")

    def _on_connect(self, reconnect: bool) -> None:
        self._decoder = g.FrameDecoder()
        self._seen_events.clear()
        self._reconnected = reconnect
        self._ready.clear()
        self._setup_needed.set()

    def _on_lost(self) -> None:
        self._ready.clear()
        with self._reply_ready:
            self._reply_ready.notify_all()

    def _heartbeat_loop(self) -> None:
        while not self._closing.is_set():
            if self._setup_needed.is_set() and self.connected:
                try:
                    self.command(
                        g.Command.SET_WATCHDOG,
                        int(self._watchdog_s * 1000).to_bytes(2, "big"),
                        timeout=1.0,
                    )
                    self.command(
                        g.Command.LOCK, b"", timeout=1.0
                    )  # fail-safe first, whatever happened before
                    self._setup_needed.clear()
                    self._ready.set()
                    if self._reconnected:
                        self.emit(EventKind.RECONNECTED, detail="doors locked")
                except GateError as exc:
                    log.warning("gatectl: setup after connect failed: %s", exc)
                    self._closing.wait(0.05)
                continue
            if self.connected and time.monotonic() - self._last_tx >= self._heartbeat_s:
                try:
                    self.command(g.Command.HEARTBEAT, b"", timeout=self._heartbeat_s)
                except GateError as exc:
                    log.info("gatectl: heartbeat failed: %s", exc)
            self._closing.wait(min(0.05, self._heartbeat_s / 4))

    def close(self) -> None:
        super().close()
        if self._hb_thread.is_alive() and threading.current_thread() is not self._hb_thread:
            self._hb_thread.join(timeout=2.0)
