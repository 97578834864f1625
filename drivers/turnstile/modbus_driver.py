"""Driver for Modbus RTU door I/O modules (relay coils + discrete inputs).

The module has no logic, so this driver is the controller: the service thread polls the
inputs, turns contact and beam edges into events, tracks passages and tailgating, relocks a
door after its passage, and reports a door that does not reach its commanded position within
``jam_timeout`` as jammed. On (re)connect, and when the module answers again after missing
``FAULT_AFTER_MISSED_POLLS`` polls, both coils are switched off (doors locked).

Opening a door first switches the other door's coil off and waits for its closed contact
(at most ``jam_timeout``); a door that does not close fails safe: both coils off, and a
DeviceError naming it. An exception reply from the module is a DeviceError naming the
exception.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from pymodbus.pdu import ModbusPDU

from drivers.turnstile import modbus as mb
from drivers.turnstile.link import SerialDriver, SerialFactory, other_door
from drivers.turnstile.passage import PassageTracker
from gate.errors import (
    DeviceError,
    DeviceGoneError,
    DeviceTimeoutError,
    GateError,
    ProtocolError,
)
from gate.turnstile import DEFAULT_TIMEOUT, Door, DoorState, EventKind, TurnstileStatus

log = logging.getLogger(__name__)

FAULT_AFTER_MISSED_POLLS = 5
FRESH_INPUTS_POLLS = 5  # a poll this many periods old (or 0.25 s) still shows a closed door


class ModbusTurnstile(SerialDriver):
    name = "modbus"

    def __init__(
        self,
        factory: SerialFactory,
        *,
        url: str = "",
        mapping: mb.ModbusMap | None = None,
        poll: float = 0.02,
        jam_timeout: float = 2.0,
        reply_timeout: float = 0.1,
        retries: int = 3,
        backoff: float = 0.05,
        connect_timeout: float = 2.0,
    ) -> None:
        self.mapping = mapping or mb.ModbusMap()
        self._poll_s = poll
        self._jam_timeout = jam_timeout
        self._reply_timeout = reply_timeout
        self._retries = retries
        self._codec = mb.RtuCodec(is_server=False)
        self._io_lock = threading.RLock()  # Modbus is master/slave: one transaction at a time
        self._state_lock = threading.RLock()
        self._coil: dict[Door, bool] = {Door.ENTRY: False, Door.EXIT: False}
        self._commanded_at: dict[Door, float] = {}
        self._jammed: set[Door] = set()
        self._inputs: mb.Inputs | None = None
        self._inputs_at = 0.0
        self._tracker = PassageTracker()
        self._missed = 0
        self._ready = threading.Event()
        super().__init__(factory, url=url, backoff=backoff, connect_timeout=connect_timeout)
        if not self._ready.wait(connect_timeout):
            self.close()
            if _refused(self._last_exc):  # it answered, but refused
                raise DeviceError(f"modbus: cannot lock the doors: {self._last_error}")
            raise DeviceTimeoutError(f"modbus: unit {self.mapping.unit} on {url} does not answer")

    # ---- transactions ----------------------------------------------------------------------
    def transaction(self, request: ModbusPDU, timeout: float = DEFAULT_TIMEOUT) -> ModbusPDU:
        deadline = time.monotonic() + timeout
        if not self._io_lock.acquire(timeout=max(0.0, timeout)):
            raise DeviceTimeoutError(f"modbus: line busy for {timeout:.2f} s")
        try:
            frame = self._codec.encode(request)
            for _attempt in range(self._retries + 1):
                if time.monotonic() >= deadline:
                    break
                self._drain()
                self.write(frame)
                until = min(deadline, time.monotonic() + self._reply_timeout)
                while time.monotonic() < until:
                    data = self.read()
                    for reply in self._codec.feed(data) if data else ():
                        if reply.dev_id == request.dev_id:
                            return mb.check_reply(request, reply)
            raise DeviceTimeoutError(
                f"modbus: unit {request.dev_id} did not answer function "
                f"{request.function_code} on {self._url} within {timeout:.2f} s"
            )
        finally:
            self._io_lock.release()

    def _drain(self) -> None:
        """Drop stale bytes (late replies, noise) before a new request."""
        port = self._require_port()
        try:
            # socket:// ports report 1 while anything is waiting: loop until empty
            for _ in range(1024):
                waiting = port.in_waiting
                if not waiting:
                    break
                port.read(waiting)
        except Exception:  # a vanished port shows up on the write that follows
            pass
        self._codec.clear()

    def _set_coil(self, door: Door, on: bool, timeout: float) -> None:
        m = self.mapping
        address = m.entry_coil if door is Door.ENTRY else m.exit_coil
        self.transaction(mb.write_coil(m.unit, address, on), timeout)
        with self._state_lock:
            if self._coil[door] != on:
                self._commanded_at[door] = time.monotonic()
                self._jammed.discard(door)
            self._coil[door] = on

    def _read_inputs(self, timeout: float) -> mb.Inputs:
        first, count = self.mapping.input_span
        reply = self.transaction(mb.read_inputs(self.mapping.unit, first, count), timeout)
        return mb.Inputs.from_bits(list(reply.bits), self.mapping)

    # ---- the Turnstile interface -------------------------------------------------------------
    def _open(self, door: Door, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self._close_other_first(door, deadline)
        with self._state_lock:
            self._tracker.authorise(door)
        try:
            self._set_coil(door, True, max(0.0, deadline - time.monotonic()))
        except GateError:
            # the module may have switched the coil although its echo was lost: switch it
            # off again (best effort), so a failed open never leaves a door open
            with self._state_lock:
                self._tracker.cancel()
                self._coil[door] = True  # unknown: it may be on; later interlocks switch it off
            with contextlib.suppress(GateError):
                self._set_coil(door, False, 0.5)
            raise

    def _close_other_first(self, door: Door, deadline: float) -> None:
        """Interlock: the other door's coil off and its closed contact made before ``door``
        opens; when it does not close within ``jam_timeout``, both coils go off."""
        other = other_door(door)
        if self._coil[other]:
            self._set_coil(other, False, max(0.0, deadline - time.monotonic()))
        else:
            with self._state_lock:
                inputs, at = self._inputs, self._inputs_at
            fresh = time.monotonic() - at <= max(0.25, FRESH_INPUTS_POLLS * self._poll_s)
            if inputs is not None and fresh and _closed(inputs, other):
                return  # its coil was off and the last poll saw the contact made
        started = time.monotonic()
        give_up = min(deadline, started + self._jam_timeout)
        while True:
            inputs = self._read_inputs(max(0.0, deadline - time.monotonic()))
            if _closed(inputs, other):
                return
            if time.monotonic() >= give_up:
                break
            self._closing.wait(min(self._poll_s, max(0.0, give_up - time.monotonic())))
        with self._state_lock:
            self._tracker.cancel()
        with contextlib.suppress(GateError):  # fail safe; the error below says why
            self.lock(0.5)
        raise DeviceError(
            f"modbus: {other.value} door did not close within "
            f"{time.monotonic() - started:.2f} s: {door.value} door not opened"
        )

    def open_entry(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(Door.ENTRY, timeout)

    def open_exit(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._open(Door.EXIT, timeout)

    def lock(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self._state_lock:
            self._tracker.cancel()
        for door in Door:
            self._set_coil(door, False, max(0.0, deadline - time.monotonic()))

    def status(self, timeout: float = DEFAULT_TIMEOUT) -> TurnstileStatus:
        """The inputs read now; while the link is down, ``connected=False`` and doors
        UNKNOWN. A module that is up but slower than ``timeout`` raises."""
        try:
            inputs = self._read_inputs(timeout)
        except (DeviceGoneError, DeviceTimeoutError, ProtocolError):
            if self.connected:
                raise
            return self._down_status()
        with self._state_lock:
            return TurnstileStatus(
                entry=self._door_state(Door.ENTRY, inputs.entry_closed),
                exit=self._door_state(Door.EXIT, inputs.exit_closed),
                beams=inputs.beams,
                emergency=inputs.emergency,
                connected=self.connected,
                fault="jammed: " + ",".join(sorted(d.value for d in self._jammed))
                if self._jammed
                else "",
            )

    def _door_state(self, door: Door, closed: bool) -> DoorState:
        if door in self._jammed:
            return DoorState.JAMMED
        if closed:
            return DoorState.CLOSED
        # only a closed contact exists: an unclosed door with its coil on is taken as open
        return DoorState.OPEN if self._coil[door] else DoorState.MOVING

    def _fail_safe(self) -> None:
        for door in Door:
            self._set_coil(door, False, 0.5)

    # ---- the service thread ------------------------------------------------------------------
    def _on_connect(self, reconnect: bool) -> None:
        self._codec = mb.RtuCodec(is_server=False)
        self._lock_up(1.0)
        self._ready.set()

    def _lock_up(self, timeout: float) -> None:
        """Coils off and the inputs read: the link is up (after a loss: RECONNECTED)."""
        with self._state_lock:
            self._tracker.cancel()
        self._fail_safe()
        inputs = self._read_inputs(timeout)
        with self._state_lock:
            self._inputs, self._inputs_at = inputs, time.monotonic()
        self._missed = 0
        self._mark_up("coils off, doors locked")

    def _on_lost(self) -> None:
        self._ready.clear()

    def _service(self) -> None:
        self._closing.wait(self._poll_s)
        try:
            if not self.connected:  # missed polls: the module must answer a lock first
                self._lock_up(self._reply_timeout * (self._retries + 1))
                return
            inputs = self._read_inputs(self._reply_timeout * (self._retries + 1))
        except DeviceGoneError:
            raise
        except GateError as exc:  # no answer, garbage, or a refusal: the poll is missed
            log.debug("%s", exc)
            self._last_exc = exc
            self._missed += 1
            if self._missed >= FAULT_AFTER_MISSED_POLLS or _refused(exc):
                self._mark_down(f"module not answering the input poll: {exc}")
            if not self.connected:
                self._retry_later()
            return
        self._missed = 0
        relock: list[Door] = []
        with self._state_lock:
            previous, self._inputs, self._inputs_at = self._inputs, inputs, time.monotonic()
            if previous is not None:
                self._edges(previous, inputs)
            for kind, door in self._tracker.update(inputs.beams):
                self.emit(kind, door)
                if kind is EventKind.PASSAGE_COMPLETED:
                    relock.append(door)
            self._check_jams(inputs)
        for door in relock:
            try:
                self._set_coil(door, False, 0.5)
            except GateError as exc:
                log.warning("modbus: relock of %s door failed: %s", door.value, exc)

    def _edges(self, old: mb.Inputs, new: mb.Inputs) -> None:
        for door, was, now in (
            (Door.ENTRY, old.entry_closed, new.entry_closed),
            (Door.EXIT, old.exit_closed, new.exit_closed),
        ):
            if was and not now:
                forced = not self._coil[door] and not new.emergency
                self.emit(EventKind.DOOR_FORCED if forced else EventKind.DOOR_OPENED, door)
            elif now and not was:
                self.emit(EventKind.DOOR_CLOSED, door)
        for i, (was_b, now_b) in enumerate(zip(old.beams, new.beams, strict=False)):
            if now_b != was_b:
                kind = EventKind.BEAM_BROKEN if now_b else EventKind.BEAM_CLEARED
                self.emit(kind, detail=f"beam {i}")
        if new.emergency != old.emergency:
            self.emit(EventKind.EMERGENCY_OPEN if new.emergency else EventKind.EMERGENCY_CLEARED)

    def _check_jams(self, inputs: mb.Inputs) -> None:
        now = time.monotonic()
        for door, closed in ((Door.ENTRY, inputs.entry_closed), (Door.EXIT, inputs.exit_closed)):
            since = self._commanded_at.get(door)
            if since is None or door in self._jammed or now - since < self._jam_timeout:
                continue
            # with only a closed contact: "open" is reached once it leaves closed
            arrived = (not closed) if self._coil[door] else closed
            if arrived:
                self._commanded_at.pop(door, None)
            elif not inputs.emergency:
                self._jammed.add(door)
                self.emit(
                    EventKind.DOOR_JAMMED, door, detail=f"no movement in {self._jam_timeout} s"
                )


def _closed(inputs: mb.Inputs, door: Door) -> bool:
    return inputs.entry_closed if door is Door.ENTRY else inputs.exit_closed


def _refused(exc: BaseException | None) -> bool:
    """An exception reply: the module answered, but will not do it."""
    return isinstance(exc, DeviceError) and not isinstance(
        exc, (DeviceTimeoutError, DeviceGoneError, ProtocolError)
    )
