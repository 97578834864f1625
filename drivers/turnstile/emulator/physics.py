"""The physical lane the emulators drive: two doors with travel time, presence beams and
travellers walking through them. Pure state advanced by ``tick(now)``; thread-safety is the
emulator's job (it holds one lock around every call).

Beams are numbered from the entry side: 0 behind the entry door, 1 mid-lane, 2 before the
exit door. A traveller standing in the lane breaks beam 1.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from gate.turnstile import Door, DoorState

BEAM_COUNT = 3


@dataclass(frozen=True)
class Physics:
    """Durations of the real lane, in seconds; ``time_scale`` multiplies them all
    (0.1 runs a simulation ten times faster). ``baud`` emulates line speed (None: off)."""

    door_travel_s: float = 0.8
    beam_step_s: float = 0.5  # a walker reaches the next beam after this
    beam_dwell_s: float = 0.6  # and breaks each beam this long (> step: never unseen)
    follow_gap_s: float = 0.5  # a tailgater starts this long after the traveller
    time_scale: float = 1.0
    baud: int | None = None

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale


class PhysEvent(enum.Enum):
    """What the physical world did; each emulator's firmware decides what to report."""

    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    DOOR_LEFT_CLOSED = "door_left_closed"  # moved off its closed position (forced or commanded)
    BEAM_BROKEN = "beam_broken"
    BEAM_CLEARED = "beam_cleared"


@dataclass
class DoorModel:
    position: float = 0.0  # 0 closed and locked, 1 fully open
    target: float = 0.0
    jammed: bool = False
    forced: bool = False  # pushed open by hand: stays open until released

    @property
    def state(self) -> DoorState:
        if self.position <= 0.0:
            return DoorState.CLOSED
        if self.position >= 1.0:
            return DoorState.OPEN
        return DoorState.MOVING


@dataclass
class Walker:
    start: float
    path: tuple[int, ...]  # beams in the order they are crossed
    waits_for: Door | None  # walks once this door is fully open


@dataclass
class Lane:
    physics: Physics = field(default_factory=Physics)
    doors: dict[Door, DoorModel] = field(
        default_factory=lambda: {Door.ENTRY: DoorModel(), Door.EXIT: DoorModel()}
    )
    beams: list[bool] = field(default_factory=lambda: [False] * BEAM_COUNT)
    emergency: bool = False
    walkers: list[Walker] = field(default_factory=list)
    opened_count: dict[Door, int] = field(
        default_factory=lambda: {Door.ENTRY: 0, Door.EXIT: 0}
    )  # how often each door left its closed position: tests check "no door opened"
    # how often both doors were off their closed positions at once without the emergency
    # input: the interlock was broken (tests check it stays 0)
    interlock_breaches: int = 0
    _both_off_closed: bool = False
    _last: float | None = None

    def command(self, door: Door, open_: bool) -> None:
        self.doors[door].target = 1.0 if open_ else 0.0

    def reset(self) -> None:
        """Power loss: the motors release and the doors fall closed (spring return)."""
        for door in self.doors.values():
            door.target = 0.0
            if not door.jammed:
                door.position = 0.0

    def add_walker(self, path: tuple[int, ...], waits_for: Door | None, delay: float) -> None:
        self.walkers.append(Walker(start=delay, path=path, waits_for=waits_for))

    @property
    def busy(self) -> bool:
        moving = any(d.position != d.target for d in self.doors.values() if not d.jammed)
        return moving or bool(self.walkers)

    def tick(self, now: float) -> list[tuple[PhysEvent, Door | None, int]]:
        """Advance to ``now`` (monotonic seconds); returns (event, door, beam) in order."""
        last = now if self._last is None else self._last
        dt = max(0.0, now - last)
        self._last = now
        events: list[tuple[PhysEvent, Door | None, int]] = []
        travel = self.physics.scaled(self.physics.door_travel_s) or 1e-9
        for name, door in self.doors.items():
            before = door.state
            target = 1.0 if (self.emergency or door.forced) else door.target
            if not door.jammed and door.position != target:
                step = dt / travel
                if door.position < target:
                    door.position = min(target, door.position + step)
                else:
                    door.position = max(target, door.position - step)
            after = door.state
            if before is DoorState.CLOSED and after is not DoorState.CLOSED:
                self.opened_count[name] += 1
                events.append((PhysEvent.DOOR_LEFT_CLOSED, name, -1))
            if after is not before and after is DoorState.OPEN:
                events.append((PhysEvent.DOOR_OPENED, name, -1))
            if after is not before and after is DoorState.CLOSED:
                events.append((PhysEvent.DOOR_CLOSED, name, -1))
        both = all(d.position > 0.0 for d in self.doors.values())
        if both and not self._both_off_closed and not self.emergency:
            self.interlock_breaches += 1
        self._both_off_closed = both
        events.extend(self._walk(now))
        return events

    def _walk(self, now: float) -> list[tuple[PhysEvent, Door | None, int]]:
        step = self.physics.scaled(self.physics.beam_step_s)
        dwell = self.physics.scaled(self.physics.beam_dwell_s)
        wanted = [False] * BEAM_COUNT
        still: list[Walker] = []
        for w in self.walkers:
            if w.waits_for is not None:
                if self.doors[w.waits_for].state is not DoorState.OPEN:
                    still.append(w)
                    continue
                # the door is open: the walk starts now, plus the walker's own delay
                w.start = now + w.start
                w.waits_for = None
            t = now - w.start
            if t < len(w.path) * step + dwell - step:
                still.append(w)
            for i, beam in enumerate(w.path):
                if 0 <= t - i * step < dwell:
                    wanted[beam] = True
        self.walkers = still
        events: list[tuple[PhysEvent, Door | None, int]] = []
        for beam, (was, now_broken) in enumerate(zip(self.beams, wanted, strict=True)):
            if now_broken and not was:
                events.append((PhysEvent.BEAM_BROKEN, None, beam))
            elif was and not now_broken:
                events.append((PhysEvent.BEAM_CLEARED, None, beam))
        self.beams = wanted
        return events

    def door_state(self, door: Door) -> DoorState:
        model = self.doors[door]
        if model.jammed and model.position != model.target:
            return DoorState.JAMMED
        return model.state
