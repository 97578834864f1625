"""The turnstile emulator for a test lane (issue 25): it reports each door move, and with
``auto_pass`` walks the traveller out once the exit is fully open, so a lane driven by
``egate run`` ends its passage without anyone typing ``pass``."""

from __future__ import annotations

import threading

from drivers.turnstile.emulator import Physics, start_emulator
from drivers.turnstile.registry import open_turnstile
from gate.turnstile import Door, DoorState, EventKind


def test_door_moves_are_reported_and_the_traveller_passes_by_itself() -> None:
    reported: list[str] = []
    changed = threading.Condition()

    def report(text: str) -> None:
        with changed:
            reported.append(text)
            changed.notify_all()

    stop = threading.Event()
    with start_emulator("gatectl", physics=Physics(time_scale=0.1)) as emulator:
        watcher = emulator.watch_doors(stop, report, auto_pass_s=0.05)
        turnstile = open_turnstile(emulator.address)
        try:
            turnstile.open_exit()
            with changed:
                assert changed.wait_for(lambda: "traveller passed" in reported, 20), reported
            kinds = []
            while (event := turnstile.next_event(5.0)) is not None:
                kinds.append(event.kind)
                if event.kind is EventKind.PASSAGE_COMPLETED:
                    break
            assert EventKind.PASSAGE_COMPLETED in kinds
            assert emulator.wait_door(Door.EXIT, DoorState.CLOSED, timeout=20)
        finally:
            turnstile.close()
            stop.set()
            watcher.join(5)
    exit_moves = [line for line in reported if line.startswith("door exit ")]
    assert exit_moves[:2] == ["door exit moving", "door exit open"]
    assert reported.index("door exit open") < reported.index("traveller passed")
    assert not watcher.is_alive()
