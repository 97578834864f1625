"""Passage logic from presence beams: who left through the authorised door, and how many.

Used by the gatectl controller firmware (in its emulator) and by the Modbus driver, whose
I/O module has no logic of its own. Beams are ordered entry side first.
"""

from __future__ import annotations

from gate.turnstile import Door, EventKind


class PassageTracker:
    def __init__(self) -> None:
        self.door: Door | None = None
        self.people_out = 0
        self._beams: tuple[bool, ...] = ()

    def authorise(self, door: Door) -> None:
        """One passage through ``door`` is allowed from now on."""
        self.door = door
        self.people_out = 0

    def cancel(self) -> None:
        self.door = None

    def update(self, beams: tuple[bool, ...]) -> list[tuple[EventKind, Door]]:
        """Feed the current beam states; returns the passage events they imply."""
        previous = self._beams or tuple(False for _ in beams)
        self._beams = beams
        door = self.door
        if door is None or not beams or len(previous) != len(beams):
            return []
        far = len(beams) - 1 if door is Door.EXIT else 0
        out: list[tuple[EventKind, Door]] = []
        if previous[far] and not beams[far]:
            self.people_out += 1
            if self.people_out == 2:  # a second person left on one authorisation
                out.append((EventKind.TAILGATING, door))
        if self.people_out and not any(beams):
            out.append((EventKind.PASSAGE_COMPLETED, door))
            self.door = None
        return out
