"""``egate run`` (a kiosk lane on real devices), ``egate simulate`` and ``egate demo``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from threading import Event
from typing import Any

from gate.cli import EXIT_ERROR, EXIT_FAILURE, EXIT_OK, Registry
from gate.cli import args as argtypes
from gate.cli.console_cmd import add_lane_options
from gate.cli.render_cmd import add_conditions_option, scenario_with_conditions
from gate.errors import InputError

MAX_TRAVELLERS = 100_000  # a scenario is expanded in memory; weeks of lane time at speed 1


def _quiet_opencv() -> None:
    """OpenCV's FFmpeg backend reports every closed MJPEG stream on stderr; the simulator
    closes streams on purpose, so keep it to errors (the user's settings win)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def _simulate(args: argparse.Namespace) -> int:
    _quiet_opencv()
    from gate.cli import sigterm_sets
    from gate.cli.console_cmd import lane_console
    from gate.config import TimeoutsConfig
    from gate.simulate.runner import Simulation, SimulationOptions
    from gate.simulate.scenario import load_scenario

    _check_lane_options(args)
    if getattr(args, "dataset", None) is not None:
        from gate.cli.simulate_dataset import simulate_dataset

        return simulate_dataset(args, _plain_options(args))
    scenario = load_scenario(Path(args.scenario) if args.scenario else None)
    scenario = scenario_with_conditions(scenario, getattr(args, "conditions", None))
    if args.travellers is not None:
        scenario = scenario.repeated(args.travellers)
    if getattr(args, "lanes", 1) > 1:
        from gate.simulate.lanes import run_lanes

        return _report(args, scenario.name, run_lanes(scenario, _plain_options(args), args.lanes))
    audit_path = Path(args.audit) if args.audit else None
    with lane_console(args, args.lane) as linked:
        reporter = linked.reporter
        observers = (reporter,) if reporter is not None else ()
        options = SimulationOptions(
            speed=args.speed,
            use_pcsc=not args.no_pcsc,
            pack=args.pack,
            audit_path=audit_path,
            protocol=args.protocol,
            timeouts=TimeoutsConfig(capture_s=args.capture_timeout),
            status=sys.stderr,
            observers=observers,
        )
        with Simulation(scenario, options) as simulation:
            linked.attach(simulation.lane, simulation.options.audit_path or simulation.audit_path)
            results = simulation.run()
            code = _report(args, scenario.name, results)
            if args.keep_serving or args.console:
                print("the lane keeps serving (officer actions); Ctrl-C ends", file=sys.stderr)
                sys.stdout.flush()
                with sigterm_sets(Event()) as stop, contextlib.suppress(KeyboardInterrupt):
                    simulation.lane.serve(stop)
    return code


def _check_lane_options(args: argparse.Namespace) -> None:
    """Options that need --dataset, and those that watch one lane (not with --lanes N or a
    dataset run), refused with one line naming them."""
    dataset = getattr(args, "dataset", None) is not None
    dataset_only = [
        flag
        for flag, given in (
            ("--report", getattr(args, "report", None) is not None),
            ("--limit", getattr(args, "limit", None) is not None),
            ("--root", getattr(args, "root", None) is not None),
            ("--impostors", getattr(args, "impostors", "listed") != "listed"),
        )
        if given
    ]
    if dataset_only and not dataset:
        raise InputError(f"{', '.join(dataset_only)} need(s) --dataset")
    one_lane = [
        flag
        for flag, given in (
            ("--console", getattr(args, "console", None) is not None),
            ("--broker", getattr(args, "broker", None) is not None),
            ("--keep-serving", bool(getattr(args, "keep_serving", False))),
        )
        if given
    ]
    if one_lane and (dataset or getattr(args, "lanes", 1) > 1):
        raise InputError(f"{', '.join(one_lane)} watch(es) one lane: not with --dataset or --lanes")


def _plain_options(args: argparse.Namespace) -> Any:
    """The simulation options of a run without console or broker."""
    from gate.config import TimeoutsConfig
    from gate.simulate.runner import SimulationOptions

    return SimulationOptions(
        speed=args.speed,
        use_pcsc=not args.no_pcsc,
        pack=args.pack,
        audit_path=Path(args.audit) if args.audit else None,
        protocol=args.protocol,
        timeouts=TimeoutsConfig(capture_s=args.capture_timeout),
        status=sys.stderr,
    )


def _report(args: argparse.Namespace, name: str, results: list[Any]) -> int:
    """Print the table (and the JSON summary); the exit code: all as expected or not."""
    import json

    from gate.outcome import Decision
    from gate.simulate.report import format_table, summary, write_json

    print(format_table(results))
    extra: dict[str, object] = {
        "speed": args.speed,
        "pcsc": not args.no_pcsc,
        "protocol": args.protocol,
    }
    if args.audit:
        from gate.audit import AuditLog
        from gate.errors import AuditError

        # Read-only: on a full disk the count still works, and a log that cannot be read
        # is reported in the table's footer and the summary, not as a lost run (exit 2).
        try:
            with AuditLog.open_readonly(Path(args.audit)) as audit:
                extra["audit_rows"] = audit.count()
            print(f"audit log {args.audit}: {extra['audit_rows']} rows")
        except AuditError as exc:
            extra["audit_rows"], extra["audit_error"] = None, str(exc)
            print(f"audit log {args.audit}: not readable ({exc})")
    failed = sum(r.actual is Decision.AUDIT_FAILED for r in results)
    if failed:
        print(f"audit: {failed} of {len(results)} travellers not recorded (AUDIT_FAILED)")
    if args.json == "-":
        print(json.dumps(summary(name, results, extra), indent=2))
    elif args.json:
        write_json(Path(args.json), summary(name, results, extra))
    sys.stdout.flush()
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURE


def _demo(args: argparse.Namespace) -> int:
    import shutil

    from drivers.runtime_dir import owned_temp_dir, remove_stale_temp_dirs

    remove_stale_temp_dirs("egate-")  # demos killed before their clean-up
    tmp = owned_temp_dir("egate-demo-")
    try:
        audit = args.audit or str(tmp / "audit.db")
        ns = argparse.Namespace(
            scenario=None,
            travellers=None,
            speed=1.0,
            no_pcsc=args.no_pcsc,
            pack=None,
            audit=audit,
            protocol="gatectl",
            capture_timeout=args.capture_timeout,
            json=args.json,
            console=args.console,
            broker=args.broker,
            site=args.site,
            lane=args.lane,
            users=args.users,
            keep_serving=False,
        )
        code = _simulate(ns)
        if args.audit is None:
            print("(the demo's audit database was temporary; keep one with --audit PATH)")
        return code
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    """One kiosk lane on real devices until the MRZ source ends or the process is stopped."""
    from gate.cli import sigterm_sets
    from gate.cli.console_cmd import lane_console
    from gate.config import load_config
    from gate.lane import build_lane, log_event, serve

    config = load_config(Path(args.config))
    with lane_console(args, config.lane.name) as linked:
        reporter = linked.reporter
        observers = (log_event, reporter) if reporter is not None else (log_event,)
        with build_lane(config, observers=observers) as lane, sigterm_sets(Event()) as stop:
            linked.attach(lane, config.audit.path)
            serve(lane, config.lane.name, stop, max_transactions=args.max_travellers)
    return EXIT_OK


def register(registry: Registry) -> None:
    p = registry.command("run", "run a kiosk lane on real devices from a TOML config", _run)
    p.add_argument("--config", required=True, help="kiosk config (see docs/kiosk-config.md)")
    p.add_argument(
        "--max-travellers",
        type=argtypes.count,
        default=None,
        help="stop after this many transactions",
    )
    add_lane_options(p)
    p.set_defaults(lane=None)

    p = registry.command(
        "simulate", "put a scenario's travellers through the gate and its emulators", _simulate
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--scenario", default=None, help="scenario TOML (default: the built-in one)"
    )
    source.add_argument(
        "--dataset",
        type=Path,
        default=None,
        metavar="PATH",
        help="travellers from a dataset bench accuracy reads (pairs CSV, LFW pairs.txt, "
        "identity folders): a system test with its report (docs/evaluation.md)",
    )
    p.add_argument(
        "--root", type=argtypes.directory, metavar="DIR", help="image root of an LFW pairs.txt"
    )
    p.add_argument(
        "--impostors",
        choices=("listed", "similar"),
        default="listed",
        help="with --dataset: the listed impostor pairs (zero effort) or, for each passport "
        "photo, the most similar other identity by the pack (lookalikes)",
    )
    p.add_argument(
        "--limit",
        type=argtypes.int_range(1, MAX_TRAVELLERS, "limit"),
        default=None,
        metavar="N",
        help="with --dataset: N travellers drawn (genuine and impostor in proportion)",
    )
    p.add_argument("--seed", type=argtypes.seed, default=0, help="with --dataset: seed of the draw")
    p.add_argument(
        "--lanes",
        type=argtypes.int_range(1, 64, "lanes"),
        default=1,
        metavar="N",
        help="N lanes in N processes, each with its own reader, turnstile, camera and audit "
        "log (with PC/SC, one vpcd reader each)",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --dataset: write the system report (report.md, report.json, plots) here",
    )
    p.add_argument(
        "--travellers",
        type=argtypes.int_range(1, MAX_TRAVELLERS, "travellers"),
        default=None,
        help="how many travellers (cycles)",
    )
    p.add_argument(
        "--speed", type=argtypes.speed, default=1.0, help="time acceleration of the lane"
    )
    p.add_argument("--no-pcsc", action="store_true", help="chips in process, not via pcscd")
    add_conditions_option(p)
    p.add_argument(
        "--json", type=argtypes.output_file, default=None, help="write the summary as JSON here"
    )
    p.add_argument("--audit", default=None, help="audit database (default: a temporary one)")
    p.add_argument("--pack", default=None, help="face model pack id or folder")
    p.add_argument(
        "--protocol", default="gatectl", choices=("gatectl", "modbus"), help="turnstile emulator"
    )
    p.add_argument(
        "--capture-timeout",
        type=argtypes.timeout,
        default=8.0,
        help="seconds before failure to acquire",
    )
    add_lane_options(p)
    p.add_argument("--lane", default="lane-1", help="lane name in the event topics")
    p.add_argument(
        "--keep-serving",
        action="store_true",
        help="after the scenario, keep the lane serving (officer actions) until Ctrl-C",
    )

    p = registry.command("demo", "the default scenario through the full path (make demo)", _demo)
    p.add_argument("--no-pcsc", action="store_true", help="chips in process, not via pcscd")
    p.add_argument(
        "--json", type=argtypes.output_file, default=None, help="write the summary as JSON here"
    )
    p.add_argument("--audit", default=None, help="keep the audit database at this path")
    p.add_argument(
        "--capture-timeout",
        type=argtypes.timeout,
        default=8.0,
        help="seconds before failure to acquire",
    )
    add_lane_options(p)
    p.set_defaults(lane="lane-1")


__all__ = ["EXIT_ERROR", "register"]
