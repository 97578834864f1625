"""Driver for gatectl gate controllers (docs/gatectl.md).

The service thread reads the line: ACK/NAK frames answer the one command in flight, EVENT
frames are acknowledged and queued. A heartbeat thread keeps the controller's watchdog fed,
sets the watchdog and locks the doors after every (re)connect before anything else, and
reports a controller that stops answering: when nothing has come back for one heartbeat
period after the host sent something, the link is down (DEVICE_FAULT, ``connected`` False)
until the set-up goes through again (RECONNECTED).

Opening a door first closes the other one and waits for its closed contact (read with
STATUS), as the controller itself does; the controller's interlock is the second layer.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import threading
import time

from drivers.turnstile import gatectl as g
from drivers.turnstile.link import SerialDriver, SerialFactory, nak_error, other_door
from gate.errors import DeviceError, DeviceGoneError, DeviceTimeoutError, GateError, ProtocolError
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
_CODE = {Door.ENTRY: g.DoorCode.ENTRY, Door.EXIT: g.DoorCode.EXIT}
# events after which a door may have left its closed position
_MAY_OPEN = frozenset({EventKind.DOOR_OPENED, EventKind.DOOR_FORCED, EventKind.DOOR_JAMMED})
INTERLOCK_POLL_S = 0.02  # STATUS period while waiting for the other door to close
WATCHDOG_TRIPPED = "watchdog tripped"


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
        self._waiting_cmd: int | None = None
        self._reply: g.Frame | None = None
        # a random start: a new session must not look like a retry of the last one's command
        self._seq = random.randrange(256)
        self._seen_events: collections.deque[int] = collections.deque(maxlen=16)
        self._last_tx = 0.0
        # when the host first sent something the controller has not answered (None: it
        # has answered everything so far); guarded by _reply_ready
        self._unanswered_since: float | None = None
        # doors that may be off their closed position, from STATUS answers, events and our
        # own OPENs: only for those does opening the other door cost a STATUS round trip
        self._may_be_open = {Door.ENTRY: True, Door.EXIT: True}
        self._setup_needed = threading.Event()
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
            if not self.port_open:
                raise DeviceGoneError(f"gatectl: {self._url} is disconnected")
            if self._silent_for() >= self._heartbeat_s:
                raise DeviceTimeoutError(f"gatectl: controller on {self._url} is not answering")
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
                self._waiting_seq, self._waiting_cmd, self._reply = seq, cmd, None
            for _attempt in range(self._retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with self._reply_ready:  # before the write: the answer may beat us back
                    if self._unanswered_since is None:
                        self._unanswered_since = time.monotonic()
                self.write(frame)
                self._last_tx = time.monotonic()
                wait_until = time.monotonic() + min(self._ack_timeout, remaining)
                with self._reply_ready:
                    while self._reply is None and self.port_open:
                        left = wait_until - time.monotonic()
                        if left <= 0:
                            break
                        self._reply_ready.wait(left)
                    reply = self._reply
                if not self.port_open:
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
                self._waiting_seq = self._waiting_cmd = None
            self._cmd_lock.release()

    def _status(self, timeout: float) -> TurnstileStatus:
        """One STATUS round trip (what it says of the doors is remembered by ``_service``,
        in line order with the events)."""
        st = g.StatusPayload.decode(self.command(g.Command.STATUS, b"", timeout).payload)
        return TurnstileStatus(
            entry=_STATE[st.entry],
            exit=_STATE[st.exit],
            beams=tuple(bool(st.beams >> i & 1) for i in range(st.beam_count)),
            emergency=bool(st.flags & g.FLAG_EMERGENCY),
            fault=WATCHDOG_TRIPPED if st.flags & g.FLAG_WATCHDOG_TRIPPED else "",
        )

    def _open(self, door: Door, timeout: float) -> None:
        left = self._wait_ready(timeout)  # blocks: read the clock after it
        deadline = time.monotonic() + left
        try:
            self._close_other_first(door, deadline)
            with self._reply_ready:
                self._may_be_open[door] = True
            self.command(
                g.Command.OPEN, bytes((_CODE[door],)), max(0.0, deadline - time.monotonic())
            )
        except GateError:
            # the controller may have acted on a command whose ACK was lost: lock again
            # (best effort; the controller's watchdog covers a dead link)
            with contextlib.suppress(GateError):
                if self.port_open:
                    self.command(g.Command.LOCK, b"", timeout=0.5)
            raise

    def _close_other_first(self, door: Door, deadline: float) -> None:
        """Interlock: the other door must be on its closed contact before ``door`` opens.
        Gives up ``ack`` seconds before the deadline, so the last STATUS has its time."""
        other = other_door(door)
        with self._reply_ready:
            if not self._may_be_open[other]:
                return
        st = self._status(max(0.0, deadline - time.monotonic()))
        state = st.entry if other is Door.ENTRY else st.exit
        if state is DoorState.CLOSED or st.emergency:
            return  # closed; or every door is open anyway and the controller refuses OPEN
        started = time.monotonic()
        self.command(g.Command.LOCK, b"", max(0.0, deadline - started))
        give_up = deadline - self._ack_timeout
        while state is not DoorState.CLOSED:
            if state is DoorState.JAMMED or time.monotonic() >= give_up:
                raise DeviceError(
                    f"gatectl: {other.value} door did not close"
                    + (" (jammed)" if state is DoorState.JAMMED else "")
                    + f" within {time.monotonic() - started:.2f} s: {door.value} door not opened"
                )
            self._closing.wait(max(0.0, min(INTERLOCK_POLL_S, give_up - time.monotonic())))
            st = self._status(max(0.0, deadline - time.monotonic()))
            state = st.entry if other is Door.ENTRY else st.exit

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(Door.ENTRY, timeout)

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(Door.EXIT, timeout)

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.command(g.Command.LOCK, b"", self._wait_ready(timeout))

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus:
        """The controller's STATUS; while the link is down, ``connected=False`` and doors
        UNKNOWN. A controller that is up but slower than ``timeout`` raises."""
        try:
            return self._status(self._wait_ready(timeout))
        except (DeviceGoneError, DeviceTimeoutError):
            if self.connected:
                raise
            return self._down_status()

    def _fail_safe(self) -> None:
        self.command(g.Command.LOCK, b"", timeout=1.0)

    # ---- the line --------------------------------------------------------------------------
    def _service(self) -> None:
        data = self.read()
        if not data:
            return
        for frame in self._decoder.feed(data):
            if frame.command in (g.Command.ACK, g.Command.NAK, g.Command.EVENT):
                with self._reply_ready:  # any good frame shows the controller is alive
                    self._unanswered_since = None
            if frame.command in (g.Command.ACK, g.Command.NAK):
                with self._reply_ready:
                    if frame.seq == self._waiting_seq and self._reply is None:
                        if self._waiting_cmd == g.Command.STATUS:
                            self._note_doors(frame)
                        self._reply = frame
                        self._reply_ready.notify_all()
            elif frame.command == g.Command.EVENT:
                self._on_event(frame)
            # anything else from a controller is not ours to act on: ignore it

    def _note_doors(self, frame: g.Frame) -> None:
        """Remember which doors a STATUS answer shows off their closed position (called with
        ``_reply_ready`` held, before the frames that follow on the line)."""
        if frame.command != g.Command.ACK:
            return
        try:
            st = g.StatusPayload.decode(frame.payload)
        except ProtocolError:
            return  # the caller sees the same error
        self._may_be_open[Door.ENTRY] = st.entry != g.StateCode.CLOSED
        self._may_be_open[Door.EXIT] = st.exit != g.StateCode.CLOSED

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
        kind, door = _EVENT[ev.code], _DOOR[ev.door]
        with self._reply_ready:
            if kind is EventKind.EMERGENCY_OPEN:
                self._may_be_open = {Door.ENTRY: True, Door.EXIT: True}
            elif door is not None and kind in _MAY_OPEN:
                self._may_be_open[door] = True
            elif door is not None and kind is EventKind.DOOR_CLOSED:
                self._may_be_open[door] = False
        broken = ",".join(str(i) for i in range(8) if ev.beams >> i & 1) or "none"
        self.emit(kind, door, detail=f"broken beams: {broken}")

    def _on_connect(self, reconnect: bool) -> None:
        self._decoder = g.FrameDecoder()
        self._seen_events.clear()
        with self._reply_ready:
            self._unanswered_since = None
            self._may_be_open = {Door.ENTRY: True, Door.EXIT: True}
        self._ready.clear()
        self._setup_needed.set()

    def _on_lost(self) -> None:
        self._ready.clear()
        with self._reply_ready:
            self._reply_ready.notify_all()

    # ---- the heartbeat thread --------------------------------------------------------------
    def _set_up(self) -> None:
        """After a (re)connect or a silence: watchdog on and doors locked before anything
        else; STATUS tells whether the controller's watchdog tripped meanwhile."""
        timeout = max(self._heartbeat_s, self._ack_timeout * (self._retries + 1))
        self.command(
            g.Command.SET_WATCHDOG, int(self._watchdog_s * 1000).to_bytes(2, "big"), timeout
        )
        self.command(g.Command.LOCK, b"", timeout)  # fail-safe first, whatever happened before
        tripped = self._status(timeout).fault == WATCHDOG_TRIPPED
        self._setup_needed.clear()
        self._ready.set()
        detail = "doors locked"
        if tripped:
            detail += "; the controller's watchdog had tripped"
        self._mark_up(detail)

    def _silent_for(self) -> float:
        with self._reply_ready:
            since = self._unanswered_since
        return 0.0 if since is None else time.monotonic() - since

    def _heartbeat_loop(self) -> None:
        while not self._closing.is_set():
            if not self.port_open:
                self._closing.wait(0.05)
                continue
            if self._setup_needed.is_set():
                try:
                    self._set_up()
                except GateError as exc:
                    log.debug("gatectl: set-up attempt failed: %s", exc)
                    self._last_exc = exc
                    self._retry_later()
                continue
            silent = self._silent_for()
            if silent >= self._heartbeat_s:
                # nothing back for a heartbeat period: report it once, lock on the controller's
                # watchdog meanwhile, and probe with the set-up until it answers
                self._ready.clear()
                self._setup_needed.set()
                self._mark_down(f"controller not answering for {silent:.2f} s")
                continue
            idle = time.monotonic() - self._last_tx
            if idle >= self._heartbeat_s:
                try:
                    self.command(g.Command.HEARTBEAT, b"", timeout=self._heartbeat_s)
                except GateError as exc:
                    log.debug("gatectl: heartbeat failed: %s", exc)  # the silence check reports
                continue
            due = self._heartbeat_s - max(idle, silent)
            self._closing.wait(max(0.005, min(0.05, due)))

    def close(self) -> None:
        super().close()
        if self._hb_thread.is_alive() and threading.current_thread() is not self._hb_thread:
            self._hb_thread.join(timeout=2.0)
