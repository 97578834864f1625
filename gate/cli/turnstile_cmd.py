"""``egate turnstile``: commissioning a lane's doors; ``egate emulate turnstile``: a device
emulator on a pty for drivers, simulations and integrators without hardware."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli import args as argtypes
from gate.cli.base import EXIT_OK, Registry, sigterm_sets
from gate.cli.options import add_json_flag
from gate.errors import ConfigError

if TYPE_CHECKING:
    from drivers.turnstile.emulator import EmulatorHandle
    from gate.turnstile import Turnstile, TurnstileEvent

ACTIONS = ("status", "open-entry", "open-exit", "lock", "watch")
WORLD_HELP = (
    "stdin commands: pass | tailgate | back | jam DOOR | unjam DOOR | force DOOR | "
    "release DOOR | emergency on|off | noise N | silent on|off | unplug | replug | status | quit"
)


def register(registry: Registry) -> None:
    p = registry.command(
        "turnstile",
        "talk to a lane's doors: status, open-entry, open-exit, lock, watch events",
        _turnstile,
    )
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument(
        "--status-socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="status: read the emulator's status socket (egate emulate turnstile "
        "--status-socket PATH) instead of the port, e.g. while a lane holds the port",
    )
    p.add_argument(
        "--device",
        default=os.environ.get("EGATE_TURNSTILE"),
        help="turnstile address, e.g. gatectl:/dev/ttyUSB0, modbus:socket://host:502?unit=1, "
        "lcus:/dev/ttyUSB1 (default: $EGATE_TURNSTILE); see docs/turnstile.md",
    )
    add_json_flag(p, "one JSON object per line")
    p.add_argument(
        "--timeout", type=argtypes.timeout, default=2.0, help="seconds to wait for an answer"
    )
    p.add_argument(
        "--hold",
        type=argtypes.duration,
        default=3.0,
        help="open-*: seconds to keep the link up and print events before locking again "
        "(ends early on a completed passage)",
    )
    p.add_argument(
        "--seconds",
        type=argtypes.positive_duration,
        default=None,
        help="watch: stop after this long",
    )
    p.add_argument(
        "--count", type=argtypes.count, default=None, help="watch: stop after this many events"
    )

    registry.group("emulate", "run device emulators")
    e = registry.command(
        "emulate turnstile",
        "emulate a turnstile device on a pseudo-terminal; " + WORLD_HELP,
        _emulate,
    )
    e.add_argument("--protocol", required=True, choices=("gatectl", "modbus", "lcus"))
    e.add_argument("--link", default=None, help="path of the symlink to the port to create")
    e.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="latency=S drop=P corrupt=P noise=BYTES_PER_S jam=entry|exit seed=N silent "
        "(repeatable)",
    )
    e.add_argument(
        "--time-scale",
        type=argtypes.float_range(0, 1000, "time scale", low_open=True),
        default=1.0,
        help="physical durations factor",
    )
    e.add_argument(
        "--baud",
        type=argtypes.int_range(50, 4_000_000, "baud"),
        default=None,
        help="emulate this line speed",
    )
    e.add_argument(
        "--seconds", type=argtypes.positive_duration, default=None, help="stop after this long"
    )
    e.add_argument(
        "--status-socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="also serve the doors' and beams' state on this Unix socket, one JSON line per "
        "connection (egate turnstile status --status-socket PATH, while a lane holds the port)",
    )
    e.add_argument(
        "--auto-pass",
        type=argtypes.positive_duration,
        default=None,
        metavar="SECONDS",
        help="walk the traveller out this long after the exit is fully open (no `pass` to type)",
    )


def _print(obj: dict[str, object], as_json: bool, text: str) -> None:
    print(json.dumps(obj) if as_json else text, flush=True)


def _event_text(ev: TurnstileEvent) -> str:
    door = f" {ev.door.value}" if ev.door else ""
    extra = f" ({ev.detail})" if ev.detail else ""
    return f"{time.strftime('%H:%M:%S')} {ev.kind.value}{door}{extra}"


def _turnstile(args: argparse.Namespace) -> int:
    from drivers.turnstile.registry import open_turnstile

    if args.status_socket is not None:
        return _emulator_status(args)
    if not args.device:
        raise ConfigError("no turnstile address: give --device or set EGATE_TURNSTILE")
    lane = open_turnstile(args.device, connect_timeout=args.timeout)
    try:
        if args.action == "status":
            st = lane.status(args.timeout)
            beams = "".join("X" if b else "." for b in st.beams) or "-"
            text = (
                f"entry={st.entry.value} exit={st.exit.value} beams={beams} "
                f"emergency={'on' if st.emergency else 'off'}"
                + (" (assumed: no read-back)" if st.assumed else "")
                + ("" if st.connected else " connected=no")
                + (f" fault={st.fault}" if st.fault else "")
            )
            _print(st.to_json(), args.json, text)
        elif args.action == "lock":
            lane.lock(args.timeout)
            _print({"ok": True, "action": "lock"}, args.json, "locked")
        elif args.action in ("open-entry", "open-exit"):
            (lane.open_entry if args.action == "open-entry" else lane.open_exit)(args.timeout)
            _print({"ok": True, "action": args.action}, args.json, f"{args.action}: acknowledged")
            _watch(lane, args, seconds=args.hold, until_passage=True)
        else:
            # on stderr, so that stdout stays one event a line: the link is up from here on
            print(f"watching {args.device}", file=sys.stderr, flush=True)
            _watch(lane, args, seconds=args.seconds, until_passage=False)
    finally:
        lane.close()  # locks the doors where the hardware allows
    return EXIT_OK


def _emulator_status(args: argparse.Namespace) -> int:
    """``status`` read from an emulator's status socket (the port may be a lane's)."""
    from drivers.turnstile.emulator.status_socket import read_status_socket

    if args.action != "status":
        raise ConfigError(f"--status-socket reads the status only, not {args.action}")
    st = read_status_socket(args.status_socket, args.timeout)
    beams = "".join("X" if b else "." for b in st.get("beams", ())) or "-"
    text = (
        f"entry={st.get('entry')} exit={st.get('exit')} beams={beams} "
        f"emergency={'on' if st.get('emergency') else 'off'}"
        + ("" if st.get("plugged", True) else " plugged=no")
    )
    _print(st, args.json, text)
    return EXIT_OK


def _watch(
    lane: Turnstile, args: argparse.Namespace, seconds: float | None, until_passage: bool
) -> None:
    from gate.turnstile import EventKind

    end = None if seconds is None else time.monotonic() + seconds
    seen = 0
    while end is None or time.monotonic() < end:
        wait = 0.5 if end is None else max(0.0, min(0.5, end - time.monotonic()))
        ev = lane.next_event(wait)
        if ev is None:
            continue
        _print(ev.to_json(), args.json, _event_text(ev))
        seen += 1
        if args.count is not None and not until_passage and seen >= args.count:
            return
        if until_passage and ev.kind is EventKind.PASSAGE_COMPLETED:
            return


def _emulate(args: argparse.Namespace) -> int:
    from drivers.turnstile.emulator import Faults, Physics, start_emulator
    from drivers.turnstile.emulator.status_socket import StatusSocket, world_status

    faults = Faults.parse(args.fault)
    physics = Physics(time_scale=args.time_scale, baud=args.baud)
    with sigterm_sets(threading.Event()) as stop:
        handle = start_emulator(args.protocol, faults=faults, physics=physics, link=args.link)
        status: StatusSocket | None = None
        try:
            print(f"port: {handle.port}", flush=True)
            print(f"address: {handle.address}", flush=True)
            if args.status_socket is not None:
                status = StatusSocket(args.status_socket, partial(world_status, handle.device))
                print(f"status socket: {args.status_socket}", flush=True)
            print(WORLD_HELP, file=sys.stderr, flush=True)
            reader = threading.Thread(target=_world_commands, args=(handle, stop), daemon=True)
            reader.start()
            handle.watch_doors(stop, lambda text: print(text, flush=True), args.auto_pass)
            end = None if args.seconds is None else time.monotonic() + args.seconds
            while not stop.is_set() and (end is None or time.monotonic() < end):
                stop.wait(0.1 if end is None else max(0.0, min(0.1, end - time.monotonic())))
        finally:
            if status is not None:
                status.close()
            handle.close()
    return EXIT_OK


def _world_commands(handle: EmulatorHandle, stop: threading.Event) -> None:
    """Script the emulated world from stdin, one command a line (EOF just stops reading)."""
    from gate.turnstile import Door

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, rest = words[0], words[1:]
        try:
            door = Door(rest[0]) if rest and rest[0] in ("entry", "exit") else Door.EXIT
            if cmd == "pass":
                handle.traveller_passes()
            elif cmd == "tailgate":
                handle.traveller_passes(tailgater=True)
            elif cmd == "back":
                handle.traveller_walks_back()
            elif cmd in ("jam", "unjam"):
                handle.jam(door, cmd == "jam")
            elif cmd in ("force", "release"):
                handle.force(door, cmd == "force")
            elif cmd == "emergency":
                handle.emergency(not rest or rest[0] == "on")
            elif cmd == "noise":
                count = argtypes.ascii_int(rest[0]) if rest else 1000
                if count is None or not 0 < count <= 1_000_000:
                    raise ValueError("noise takes a byte count from 1 to 1000000")
                handle.inject_noise(count)
            elif cmd == "silent":  # the line cut with the port left open, or mended
                handle.silence(not rest or rest[0] == "on")
            elif cmd == "unplug":
                handle.unplug()
            elif cmd == "replug":
                handle.replug()
            elif cmd == "status":
                states = {d.value: handle.door_state(d).value for d in Door}
                print(f"doors={states} beams={handle.beams()}", file=sys.stderr, flush=True)
            elif cmd == "quit":
                stop.set()
                return
            else:
                print(f"unknown: {cmd}; {WORLD_HELP}", file=sys.stderr, flush=True)
                continue
            print(f"ok: {line.strip()}", file=sys.stderr, flush=True)
        except (ValueError, IndexError) as exc:
            print(f"bad command {line.strip()!r}: {exc}", file=sys.stderr, flush=True)
