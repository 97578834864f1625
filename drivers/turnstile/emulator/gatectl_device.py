"""A gatectl gate controller: firmware on top of the physical lane (docs/gatectl.md)."""

from __future__ import annotations

import time

from drivers.turnstile import gatectl as g
from drivers.turnstile.emulator.base import EmulatorBase, Faults
from drivers.turnstile.emulator.physics import PhysEvent, Physics
from drivers.turnstile.passage import PassageTracker
from gate.turnstile import Door, DoorState, EventKind

DEFAULT_WATCHDOG_S = 1.0
EVENT_RETRY_S = 0.1
EVENT_TRIES = 5
JAM_FACTOR = 2.0  # a door that has not arrived after this many travel times is jammed
RETRY_WINDOW_S = 2.0  # a repeat of the same frame after this long is a new command

_DOOR_CODE = {Door.ENTRY: g.DoorCode.ENTRY, Door.EXIT: g.DoorCode.EXIT}
_STATE_CODE = {
    DoorState.CLOSED: g.StateCode.CLOSED,
    DoorState.OPEN: g.StateCode.OPEN,
    DoorState.MOVING: g.StateCode.MOVING,
    DoorState.JAMMED: g.StateCode.JAMMED,
    DoorState.UNKNOWN: g.StateCode.UNKNOWN,
}
_EVENT_CODE = {
    EventKind.PASSAGE_COMPLETED: g.EventCode.PASSAGE_COMPLETED,
    EventKind.TAILGATING: g.EventCode.TAILGATING,
}


class GatectlEmulator(EmulatorBase):
    protocol = "gatectl"

    def __init__(self, physics: Physics, faults: Faults, link: str | None) -> None:
        super().__init__(physics, faults, link)
        self.decoder = g.FrameDecoder()
        self.on_power_up()

    def on_power_up(self) -> None:
        self.decoder = g.FrameDecoder()
        self.watchdog_s = DEFAULT_WATCHDOG_S
        self.last_heard: float | None = None  # armed by the first frame from a host
        self.watchdog_fired = False  # tripped since the host last spoke (trips once)
        # the STATUS flag: set by a trip, kept until an OPEN is accepted (docs/gatectl.md)
        self.watchdog_tripped = False
        # an OPEN waiting for the other door's closed contact: (door, other, give up at)
        self.interlock: tuple[Door, Door, float] | None = None
        self.seq = 0
        self.pending: dict[int, tuple[bytes, float, int]] = {}  # seq -> frame, sent, tries
        # the last command (whole frame), when it came, our answer: to recognise retries
        self.last_command: tuple[g.Frame, float, bytes] | None = None
        self.tracker = PassageTracker()
        self.beam_bits = sum(1 << i for i, b in enumerate(self.lane.beams) if b)
        self.moving_since: dict[Door, float] = {}
        self.jam_reported: set[Door] = set()

    # ---- host -> controller ----------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        for frame in self.decoder.feed(data):
            self.last_heard = now
            self.watchdog_fired = False
            if frame.command == g.Command.ACK:
                self.pending.pop(frame.seq, None)  # the host got our event
                continue
            last = self.last_command
            if (
                last is not None
                and last[0] == frame
                and now - last[1] < RETRY_WINDOW_S
                and frame.command not in (g.Command.HEARTBEAT, g.Command.STATUS)
            ):
                self.reply(last[2])  # a retry: our ACK was lost, do not act twice
                continue
            answer = self.execute(frame, now)
            self.last_command = (frame, now, answer)
            self.reply(answer)

    def execute(self, frame: g.Frame, now: float) -> bytes:
        def ack(payload: bytes = b"") -> bytes:
            return g.Frame(frame.seq, g.Command.ACK, payload).encode()

        def nak(reason: g.NakReason) -> bytes:
            return g.Frame(frame.seq, g.Command.NAK, bytes((reason,))).encode()

        cmd, payload = frame.command, frame.payload
        if cmd == g.Command.HEARTBEAT and not payload:
            return ack()
        if cmd == g.Command.STATUS and not payload:
            return ack(self.status_payload().encode())
        if cmd == g.Command.LOCK and not payload:
            self.record("lock")
            self.lock_doors(now)
            return ack()
        if cmd == g.Command.OPEN and len(payload) == 1 and payload[0] in (1, 2):
            door = Door.ENTRY if payload[0] == g.DoorCode.ENTRY else Door.EXIT
            self.record(f"open {door.value}")
            if self.lane.emergency:
                return nak(g.NakReason.EMERGENCY_ACTIVE)
            if self.lane.door_state(door) is DoorState.JAMMED:
                return nak(g.NakReason.DOOR_FAULT)
            self.watchdog_tripped = False  # a new authorisation: the host is in charge again
            other = Door.EXIT if door is Door.ENTRY else Door.ENTRY
            self.move(other, False, now)  # interlock: never both doors open
            self.tracker.cancel()
            self.interlock = None
            if self.lane.door_state(other) is DoorState.CLOSED:
                self.start_opening(door, now)
            else:  # the door moves once the other one's closed contact is made
                travel = self.physics.scaled(self.physics.door_travel_s)
                self.interlock = (door, other, now + JAM_FACTOR * travel + 0.05)
            return ack()
        if cmd == g.Command.SET_WATCHDOG and len(payload) == 2:
            self.watchdog_s = int.from_bytes(payload, "big") / 1000.0
            return ack()
        if cmd in (g.Command.HEARTBEAT, g.Command.STATUS, g.Command.LOCK, g.Command.OPEN):
            return nak(g.NakReason.BAD_PAYLOAD)
        if cmd == g.Command.SET_WATCHDOG:
            return nak(g.NakReason.BAD_PAYLOAD)
        return nak(g.NakReason.UNKNOWN_COMMAND)

    def lock_doors(self, now: float) -> None:
        self.tracker.cancel()
        self.interlock = None
        for door in Door:
            self.move(door, False, now)

    def start_opening(self, door: Door, now: float) -> None:
        self.move(door, True, now)
        self.tracker.authorise(door)

    def move(self, door: Door, open_: bool, now: float) -> None:
        self.lane.command(door, open_)
        if self.lane.doors[door].position != (1.0 if open_ else 0.0):
            self.moving_since[door] = now
            self.jam_reported.discard(door)

    def status_payload(self) -> g.StatusPayload:
        beams = sum(1 << i for i, b in enumerate(self.lane.beams) if b)
        flags = (g.FLAG_EMERGENCY if self.lane.emergency else 0) | (
            g.FLAG_WATCHDOG_TRIPPED if self.watchdog_tripped else 0
        )
        return g.StatusPayload(
            _STATE_CODE[self.lane.door_state(Door.ENTRY)],
            _STATE_CODE[self.lane.door_state(Door.EXIT)],
            beams,
            len(self.lane.beams),
            flags,
        )

    # ---- controller -> host ----------------------------------------------------------
    def push(self, code: g.EventCode, door: Door | None, now: float) -> None:
        self.seq = (self.seq + 1) & 0xFF
        door_code = _DOOR_CODE[door] if door else g.DoorCode.NONE
        payload = g.EventPayload(code, door_code, self.beam_bits)
        frame = g.Frame(self.seq, g.Command.EVENT, payload.encode()).encode()
        self.pending[self.seq] = (frame, now, 1)
        self.reply(frame)

    def on_physics(self, event: PhysEvent, door: Door | None, beam: int, now: float) -> None:
        if not self._powered:
            return
        if event is PhysEvent.DOOR_LEFT_CLOSED and door is not None:
            model = self.lane.doors[door]
            if model.target == 0.0 and not self.lane.emergency:
                self.push(g.EventCode.DOOR_FORCED, door, now)
        elif event in (PhysEvent.DOOR_OPENED, PhysEvent.DOOR_CLOSED) and door is not None:
            self.moving_since.pop(door, None)
            opened = event is PhysEvent.DOOR_OPENED
            self.push(g.EventCode.DOOR_OPENED if opened else g.EventCode.DOOR_CLOSED, door, now)
        elif event in (PhysEvent.BEAM_BROKEN, PhysEvent.BEAM_CLEARED):
            # several beams may change in one tick: report each change with the beam
            # states as they were right after it, in order
            broken = event is PhysEvent.BEAM_BROKEN
            self.beam_bits = (
                self.beam_bits | (1 << beam) if broken else self.beam_bits & ~(1 << beam)
            )
            code = g.EventCode.BEAM_BROKEN if broken else g.EventCode.BEAM_CLEARED
            self.push(code, None, now)
            states = tuple(bool(self.beam_bits >> i & 1) for i in range(len(self.lane.beams)))
            for kind, passage_door in self.tracker.update(states):
                self.push(_EVENT_CODE[kind], passage_door, now)
                if kind is EventKind.PASSAGE_COMPLETED:
                    self.move(passage_door, False, now)  # relock behind the traveller

    def on_tick(self, now: float) -> None:
        self.interlock_tick(now)
        travel = self.physics.scaled(self.physics.door_travel_s)
        for door, since in list(self.moving_since.items()):
            late = now - since > JAM_FACTOR * travel + 0.05
            if (
                late
                and door not in self.jam_reported
                and self.lane.door_state(door) is DoorState.JAMMED
            ):
                self.jam_reported.add(door)
                self.push(g.EventCode.DOOR_JAMMED, door, now)
        if (
            self.last_heard is not None
            and not self.watchdog_fired
            and self.watchdog_s > 0
            and now - self.last_heard > self.watchdog_s
        ):
            self.watchdog_fired = self.watchdog_tripped = True
            self.record("watchdog")
            self.lock_doors(now)
            self.push(g.EventCode.WATCHDOG_LOCKED, None, now)
        for seq, (frame, sent, tries) in list(self.pending.items()):
            if now - sent >= EVENT_RETRY_S:
                if tries >= EVENT_TRIES:
                    del self.pending[seq]
                else:
                    self.pending[seq] = (frame, now, tries + 1)
                    self.reply(frame)

    def interlock_tick(self, now: float) -> None:
        """Start the door an OPEN is waiting for once the other door is closed; when it
        does not close in time, lock both and report the other door jammed."""
        if self.interlock is None:
            return
        door, other, give_up = self.interlock
        if self.lane.door_state(other) is DoorState.CLOSED:
            self.interlock = None
            self.start_opening(door, now)
        elif now >= give_up:
            self.lock_doors(now)
            if other not in self.jam_reported:
                self.jam_reported.add(other)
                self.push(g.EventCode.DOOR_JAMMED, other, now)

    # ---- scripting -----------------------------------------------------------------------
    def set_emergency(self, on: bool) -> None:
        with self.lock:
            self.lane.emergency = on
            code = g.EventCode.EMERGENCY_OPEN if on else g.EventCode.EMERGENCY_CLEARED
            self.push(code, None, time.monotonic())
