"""``egate run`` (a kiosk lane on real devices), ``egate simulate`` and ``egate demo``.

``simulate`` and ``demo`` describe their run as one ``LaneRun`` (``lane_run``: the options
both take, and what ``simulate`` adds) and hand it to ``simulate_lane``; the demo is that
run with the built-in scenario and a temporary audit log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING, Any

from gate.cli import args as argtypes
from gate.cli import recording
from gate.cli.base import EXIT_FAILURE, EXIT_OK, Registry, sigterm_sets
from gate.cli.conditions import add_conditions_option, lane_conditions, scenario_with_conditions
from gate.cli.lane_console import LaneWatch, lane_console
from gate.cli.options import (
    MAX_TRAVELLERS,
    add_audit_option,
    add_capture_timeout_option,
    add_json_output,
    add_lane_options,
    add_no_pcsc_option,
    add_pack_option,
    add_report_option,
    add_scenario_option,
    add_seed_option,
    add_travellers_option,
    json_on_stdout,
)
from gate.errors import InputError

if TYPE_CHECKING:
    from gate.lane import Observer
    from gate.record import RecordSettings
    from gate.simulate.runner import SimulationOptions
    from gate.simulate.scenario import Scenario


def _quiet_opencv() -> None:
    """OpenCV's FFmpeg backend reports every closed MJPEG stream on stderr; the simulator
    closes streams on purpose, so keep it to errors (the user's settings win)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


@dataclass(frozen=True)
class LaneRun:
    """One simulated run as a command asks for it; what a command does not ask for keeps
    the defaults here (the built-in scenario at real speed, the default pack, gatectl)."""

    scenario: Path | None = None
    travellers: int | None = None
    speed: float = 1.0
    use_pcsc: bool = True
    pack: str | None = None
    audit: Path | None = None
    protocol: str = "gatectl"
    capture_timeout: float = 8.0
    json: str | None = None
    lane: str = "lane-1"
    conditions: tuple[Any, ...] | None = None  # --conditions: one for a scenario run
    watch: LaneWatch = field(default_factory=LaneWatch)
    keep_serving: bool = False
    record: RecordSettings | None = None
    ocr_pages: bool = False  # each data page read by OCR (egate demo)

    def options(self, observers: tuple[Observer, ...] = ()) -> SimulationOptions:
        """The simulator's options for this run (status on stderr)."""
        from gate.config import TimeoutsConfig
        from gate.simulate.runner import SimulationOptions

        return SimulationOptions(
            speed=self.speed,
            use_pcsc=self.use_pcsc,
            pack=self.pack,
            audit_path=self.audit,
            protocol=self.protocol,
            timeouts=TimeoutsConfig(capture_s=self.capture_timeout),
            status=sys.stderr,
            observers=observers,
            record=self.record,
            ocr_pages=self.ocr_pages,
        )


def lane_run(args: argparse.Namespace, **simulate_only: Any) -> LaneRun:
    """The run described by the options of ``add_run_options`` (``simulate`` and ``demo``
    take them alike), with the fields only ``simulate`` has options for."""
    return LaneRun(
        use_pcsc=not args.no_pcsc,
        audit=Path(args.audit) if args.audit else None,
        capture_timeout=args.capture_timeout,
        json=args.json,
        lane=args.lane,
        watch=LaneWatch.from_args(args),
        **simulate_only,
    )


def simulate_lane(run: LaneRun) -> int:
    """Put the run's scenario through one lane (watched when the run asks for it); the
    table, the JSON summary, and the exit code: every traveller as expected or not."""
    from gate.simulate.runner import Simulation

    _quiet_opencv()
    scenario = _scenario(run)
    with lane_console(run.watch, run.lane) as linked:
        observers = linked.observers  # the reporter, the traveller's screen
        with Simulation(scenario, run.options(observers)) as simulation:
            linked.attach(simulation.lane, simulation.options.audit_path or simulation.audit_path)
            code = _report(run, scenario.name, simulation.run())
            if run.keep_serving or run.watch.console:
                print("the lane keeps serving (officer actions); Ctrl-C ends", file=sys.stderr)
                sys.stdout.flush()
                with sigterm_sets(Event()) as stop, contextlib.suppress(KeyboardInterrupt):
                    simulation.lane.serve(stop)
    return code


def _simulate(args: argparse.Namespace) -> int:
    run = lane_run(
        args,
        scenario=args.scenario,
        travellers=args.travellers,
        speed=args.speed,
        pack=args.pack,
        protocol=args.protocol,
        keep_serving=args.keep_serving,
        conditions=lane_conditions(args),
        record=recording.record_settings(args, "egate simulate"),
    )
    _check_simulate_options(args, run)
    recording.check_replay_options(args)
    _quiet_opencv()
    if args.replay is not None:
        return recording.simulate_replay(args)
    if args.dataset is not None:
        from gate.cli.simulate_dataset import simulate_dataset

        return simulate_dataset(args, run.options())
    if args.lanes > 1:
        from gate.simulate.lanes import run_lanes

        scenario = _scenario(run)
        return _report(run, scenario.name, run_lanes(scenario, run.options(), args.lanes))
    return simulate_lane(run)


def _scenario(run: LaneRun) -> Scenario:
    from gate.simulate.scenario import load_scenario

    scenario: Scenario = scenario_with_conditions(load_scenario(run.scenario), run.conditions)
    return scenario if run.travellers is None else scenario.repeated(run.travellers)


def _check_simulate_options(args: argparse.Namespace, run: LaneRun) -> None:
    """Options that need --dataset, and those that watch one lane (not with --lanes N or a
    dataset run), refused with one line naming them."""
    dataset = args.dataset is not None
    dataset_only = [
        flag
        for flag, given in (
            ("--report", args.report is not None),
            ("--limit", args.limit is not None),
            ("--root", args.root is not None),
            ("--impostors", args.impostors != "listed"),
        )
        if given
    ]
    if dataset_only and not (dataset or args.replay is not None):
        raise InputError(f"{', '.join(dataset_only)} need(s) --dataset")
    one_lane = run.watch.given() + (["--keep-serving"] if run.keep_serving else [])
    if one_lane and (dataset or args.lanes > 1):
        raise InputError(f"{', '.join(one_lane)} watch(es) one lane: not with --dataset or --lanes")


def _report(run: LaneRun, name: str, results: list[Any]) -> int:
    """Print the table (and the JSON summary); the exit code: all as expected or not."""
    import json

    from gate.outcome import Decision
    from gate.simulate.report import format_table, summary, write_json

    print(format_table(results))
    extra: dict[str, object] = {
        "speed": run.speed,
        "pcsc": run.use_pcsc,
        "protocol": run.protocol,
    }
    if run.audit is not None:
        from gate.audit import AuditLog
        from gate.errors import AuditError

        # Read-only: on a full disk the count still works, and a log that cannot be read
        # is reported in the table's footer and the summary, not as a lost run (exit 2).
        try:
            with AuditLog.open_readonly(run.audit) as audit:
                extra["audit_rows"] = audit.count()
            print(f"audit log {run.audit}: {extra['audit_rows']} rows")
        except AuditError as exc:
            extra["audit_rows"], extra["audit_error"] = None, str(exc)
            print(f"audit log {run.audit}: not readable ({exc})")
    failed = sum(r.actual is Decision.AUDIT_FAILED for r in results)
    if failed:
        print(f"audit: {failed} of {len(results)} travellers not recorded (AUDIT_FAILED)")
    if json_on_stdout(run.json):
        print(json.dumps(summary(name, results, extra), indent=2))
    elif run.json:
        write_json(Path(run.json), summary(name, results, extra))
    sys.stdout.flush()
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURE


def _demo(args: argparse.Namespace) -> int:
    """The built-in scenario through one lane, with PC/SC unless --no-pcsc."""
    import shutil
    from dataclasses import replace

    from drivers.runtime_dir import owned_temp_dir, remove_stale_temp_dirs

    run = lane_run(args, ocr_pages=True)  # the page reader as a camera: the MRZ by OCR
    remove_stale_temp_dirs("egate-")  # demos killed before their clean-up
    tmp = owned_temp_dir("egate-demo-")
    try:
        if run.audit is None:
            run = replace(run, audit=tmp / "audit.db")
        code = simulate_lane(run)
        if args.audit is None:
            print("(the demo's audit database was temporary; keep one with --audit PATH)")
        return code
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    """One kiosk lane on real devices until the MRZ source ends or the process is stopped."""
    _quiet_opencv()  # before cv2 is imported: FFmpeg and OpenCV noise stays out of the log
    _operator_logging(args)
    from gate.config import load_config
    from gate.lane import OperatorLog, build_lane, log_startup, serve

    config = load_config(Path(args.config))
    record = recording.record_settings(args, "egate run")
    log_startup(config)
    with lane_console(
        LaneWatch.from_args(args), config.lane.name, config.lane.trusted_consoles
    ) as linked:
        observers: tuple[Observer, ...] = (OperatorLog(), *linked.observers)
        # real time: the capture runs with the chip read, a second engine enrols meanwhile
        lane = build_lane(config, observers=observers, real_time=True)
        with lane, sigterm_sets(Event()) as stop:
            linked.attach(lane, config.audit.path)
            with recording.recorded(lane, record):  # opt-in: personal data
                serve(lane, config.lane.name, stop, max_transactions=args.max_travellers)
    return EXIT_OK


def _operator_logging(args: argparse.Namespace) -> None:
    """A kiosk logs at INFO (start-up and one line per traveller) unless -v asks for more;
    ``--log-format json``: one JSON object per line."""
    import logging

    root = logging.getLogger()
    if root.level > logging.INFO:  # the lane's own lines; other INFO needs -v
        logging.getLogger("gate.lane").setLevel(logging.INFO)
    if args.log_format == "json":
        from gate.lane import JsonLogFormatter

        for handler in root.handlers:
            handler.setFormatter(JsonLogFormatter())
    with contextlib.suppress(ImportError, AttributeError):
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _kiosk_install(args: argparse.Namespace) -> int:
    from gate.cli.kiosk_unit import install
    from gate.config import load_config

    config = load_config(Path(args.config))
    unit = install(Path(args.config), config, args.unit_dir, args.user)
    print(f"unit: {unit}")
    print(f"audit folder: {config.audit.path.parent} (mode 0750; chown it to {args.user})")
    print(f"next: useradd --system {args.user}; systemctl daemon-reload; "
          f"systemctl enable --now {unit.name}")  # fmt: skip
    return EXIT_OK


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options ``simulate`` and ``demo`` both take (read by ``lane_run``)."""
    add_no_pcsc_option(p)
    add_json_output(p, "the summary")
    add_audit_option(p)
    add_capture_timeout_option(p)
    add_lane_options(p)
    p.add_argument("--lane", default="lane-1", help="lane name in the event topics")


def register(registry: Registry) -> None:
    p = registry.command("run", "run a kiosk lane on real devices from a TOML config", _run)
    p.add_argument("--config", required=True, help="kiosk config (see docs/kiosk-config.md)")
    p.add_argument("--max-travellers", type=argtypes.count, help="stop after this many travellers")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text or one JSON object per line (journald, collectors)",
    )
    recording.add_record_options(p)
    add_lane_options(p)

    registry.group("kiosk", "install a kiosk lane as a service")
    p = registry.command(
        "kiosk install", "write a systemd unit for `egate run --config F`, and its folders",
        _kiosk_install,
    )  # fmt: skip
    p.add_argument("--config", required=True, help="kiosk config (see docs/kiosk-config.md)")
    p.add_argument(
        "--unit-dir",
        type=Path,
        required=True,
        help="where the unit goes (e.g. /etc/systemd/system): named, never assumed",
    )
    p.add_argument("--user", default="egate", help="the dedicated user it runs as (egate)")

    p = registry.command(
        "simulate", "put a scenario's travellers through the gate and its emulators", _simulate
    )
    source = p.add_mutually_exclusive_group()
    add_scenario_option(source)
    recording.add_replay_options(p, source)
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
    add_seed_option(p, "with --dataset: seed of the draw")
    p.add_argument(
        "--lanes",
        type=argtypes.int_range(1, 64, "lanes"),
        default=1,
        metavar="N",
        help="N lanes in N processes, each with its own reader, turnstile, camera and audit "
        "log (with PC/SC, one vpcd reader each)",
    )
    add_report_option(
        p, "with --dataset: write the system report (report.md, report.json, plots) here"
    )
    add_travellers_option(p, None, "how many travellers (cycles)")
    p.add_argument(
        "--speed", type=argtypes.speed, default=1.0, help="time acceleration of the lane"
    )
    add_pack_option(p)
    add_conditions_option(p, sweep=True)
    p.add_argument(
        "--protocol", default="gatectl", choices=("gatectl", "modbus"), help="turnstile emulator"
    )
    add_run_options(p)
    p.add_argument(
        "--keep-serving",
        action="store_true",
        help="after the scenario, keep the lane serving (officer actions) until Ctrl-C",
    )
    recording.add_record_options(p)

    p = registry.command("demo", "the default scenario through the full path (make demo)", _demo)
    add_run_options(p)


__all__ = ["LaneRun", "lane_run", "register", "simulate_lane"]
