"""``--record DIR`` (``egate run``, ``egate simulate``) and ``egate simulate --replay DIR``.

Recording is opt-in and personal data (``docs/recording.md``): the options say so. A replay
plays each recorded transaction through the same lane again, with ``--pack`` or a kiosk's
``--config``, and reports the outcomes beside the recorded ones with the system report of
``--dataset`` runs; it exits 1 when any outcome differs from the recorded one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.cli import args as argtypes
from gate.cli.base import EXIT_FAILURE, EXIT_OK
from gate.cli.lane_console import LaneWatch
from gate.cli.options import json_on_stdout
from gate.errors import InputError

if TYPE_CHECKING:
    from gate.lane import Lane
    from gate.record import RecordSettings
    from gate.simulate.report import TravellerResult

RECORD_DAYS = 30


def add_record_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="record each transaction here (frames, MRZ, chip data groups, turnstile events, "
        "outcome): PERSONAL DATA, off by default; folder 0700, files 0600 (docs/recording.md)",
    )
    p.add_argument(
        "--record-days",
        type=argtypes.int_range(1, 3650, "record-days"),
        default=None,
        metavar="N",
        help=f"with --record: delete recorded transactions older than N days, at start and "
        f"every hour (default {RECORD_DAYS})",
    )


def record_settings(args: argparse.Namespace, producer: str) -> RecordSettings | None:
    """The recording asked for, or None; ``--record-days`` alone is refused."""
    from gate.record import RecordSettings, check_folder

    if args.record is None:
        if args.record_days is not None:
            raise InputError("--record-days needs --record")
        return None
    days = RECORD_DAYS if args.record_days is None else args.record_days
    settings = RecordSettings(args.record, days, producer)
    if getattr(args, "replay", None) is None:  # a replay refuses --record instead
        check_folder(settings)  # before any device opens
    return settings


def recorded(lane: Lane, settings: RecordSettings | None) -> AbstractContextManager[object]:
    """``lane`` recorded while the context lasts (``settings`` None: not recorded)."""
    if settings is None:
        return contextlib.nullcontext()
    from gate.record import record_lane

    return record_lane(lane, settings)


def add_replay_options(p: argparse.ArgumentParser, source: Any) -> None:
    source.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="DIR",
        help="play a recording (--record) through the lane again, with --pack or --config; "
        "outcomes beside the recorded ones",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --replay: a kiosk config whose face pack, capture, policy and timeouts "
        "the replayed lane uses",
    )


def check_replay_options(args: argparse.Namespace) -> None:
    """Options a replay cannot take, and ``--config`` without it, refused in one line."""
    if args.replay is None:
        if args.config is not None:
            raise InputError("--config needs --replay")
        return
    refused = [
        flag
        for flag, given in (
            ("--record", args.record is not None),
            ("--lanes", args.lanes != 1),
            ("--travellers", args.travellers is not None),
            ("--keep-serving", args.keep_serving),
            ("--limit", args.limit is not None),
            ("--root", args.root is not None),
            ("--impostors", args.impostors != "listed"),
        )
        if given
    ] + LaneWatch.from_args(args).given()
    if refused:
        raise InputError(f"{', '.join(refused)}: not with --replay")


def simulate_replay(args: argparse.Namespace) -> int:
    from bench.system_report import system_report, write_system_report
    from gate.config import TimeoutsConfig
    from gate.record import load_recording
    from gate.simulate.replay import ReplayOptions, replay, same_outcomes
    from gate.simulate.report import format_table, write_json

    recording = load_recording(args.replay)
    if not recording.transactions:
        raise InputError(f"{args.replay}: no complete transaction recorded")
    if recording.incomplete:
        print(f"{len(recording.incomplete)} incomplete transaction(s) left out",
              file=sys.stderr)  # fmt: skip
    options = ReplayOptions(
        pack=args.pack,
        config=args.config,
        audit_path=Path(args.audit) if args.audit else None,
        speed=args.speed,
        protocol=args.protocol,
        timeouts=TimeoutsConfig(capture_s=args.capture_timeout),
        status=sys.stderr,
    )
    started = time.perf_counter()
    results = replay(recording, options)
    wall = time.perf_counter() - started
    print(format_table(results).replace("outcomes as expected", "outcomes as recorded"))
    same = same_outcomes(results)
    run = {
        "scenario": f"replay of {recording.folder}",
        "recorded_by": recording.producer,
        "incomplete": len(recording.incomplete),
        "pack": args.pack,
        "config": str(args.config) if args.config else None,
        "lanes": 1,
        "wall_s": wall,
        "speed": args.speed,
        "as_recorded": same,
    }
    report = system_report(results, no_matcher(results), run)
    report["replay"] = [_beside(r) for r in results]
    s = report["system"]
    print(f"replay: {same}/{len(results)} outcomes as recorded; system: FTA {rate(s['fta'])}  "
          f"FRR {rate(s['frr'])}  FAR {rate(s['far'])}")  # fmt: skip
    if json_on_stdout(args.json):
        print(json.dumps(report, indent=2))
    elif args.json:
        write_json(Path(args.json), report)
    if args.report is not None:
        print(f"report: {write_system_report(report, Path(args.report))}", file=sys.stderr)
    return EXIT_OK if same == len(results) else EXIT_FAILURE


def _beside(result: TravellerResult) -> dict[str, Any]:
    tx = result.transaction
    return {
        "name": result.name,
        "kind": result.kind,
        "recorded": result.expected.value,
        "replayed": result.actual.value if result.actual else None,
        "same": result.ok,
        "score": tx.score if tx else None,
        "pack_id": tx.pack_id if tx else None,
        "detail": tx.detail if tx else result.error,
    }


def no_matcher(results: list[TravellerResult]) -> dict[str, Any]:
    """No original image pairs (a replay, captured approaches): the matcher column is empty."""
    from bench.metrics import wilson_interval

    tx = next((r.transaction for r in results if r.transaction is not None), None)
    empty = wilson_interval(0, 0).as_dict()
    return {
        "pack": (tx.pack_id if tx else None) or "-",
        "threshold": (tx.threshold if tx else None) or 0.0,
        "pairs": 0,
        "fta_pairs": 0,
        "genuine": 0,
        "impostor": 0,
        "fnmr": None,
        "fmr": None,
        "false_non_matches": 0,
        "false_matches": 0,
        "fnmr_ci95": empty,
        "fmr_ci95": empty,
        "note": "no original image pairs (a replay, captured approaches): no matcher-alone figures",
    }


def rate(figure: dict[str, Any]) -> str:
    """``12.5 % (1/8)``: a system report's rate for a summary line."""
    value = "n/a" if figure["rate"] is None else f"{100 * figure['rate']:.1f} %"
    return f"{value} ({figure['count']}/{figure['of']})"
