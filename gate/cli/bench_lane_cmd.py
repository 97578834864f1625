"""``egate bench throughput``, ``bench soak`` and ``bench pad``: benchmarks that run a
simulated lane or its capture on synthetic scenes (``gate.cli.bench_cmd`` has the ones on
datasets).

Heavy imports (the simulator, numpy, matplotlib) stay inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gate.cli import args as argtypes
from gate.cli.base import EXIT_FAILURE, EXIT_OK, Registry
from gate.cli.bench_output import BENCH_HELP, emit_json
from gate.cli.options import (
    add_json_output,
    add_no_pcsc_option,
    add_no_progress_option,
    add_pack_option,
    add_report_option,
    add_scenario_option,
    add_travellers_option,
    json_on_stdout,
)

AS_EXPECTED_SHARE = 0.99  # a lane benchmark counts when this share of travellers is right


def register(registry: Registry) -> None:
    registry.group("bench", BENCH_HELP)
    throughput = registry.command(
        "bench throughput",
        "travellers per hour, per-stage p50/p95/p99, CPU and dropped frames of a simulated lane",
        _throughput,
    )
    add_travellers_option(throughput, 100, "travellers per run")
    throughput.add_argument(
        "--speed",
        type=argtypes.speed,
        nargs="+",
        default=[1.0],
        metavar="S",
        help="time scales to run (1 = real physical timings; e.g. --speed 1 10)",
    )
    _lane_options(throughput, "throughput.md/.json")

    soak = registry.command(
        "bench soak",
        "many travellers through one simulated lane: RSS, threads and open files per traveller",
        _soak,
    )
    add_travellers_option(soak, 200, "travellers in the run")
    soak.add_argument("--speed", type=argtypes.speed, default=1.0, help="time scale of the lane")
    soak.add_argument(
        "--kiosk",
        action="store_true",
        help="soak `egate run` as its own process on the emulators (turnstile on a pty, "
        "MJPEG camera, pcscd + vpcd, MRZ on a FIFO): its fds, pcscd sockets, threads, RSS "
        "(--speed scales the door travel only)",
    )
    soak.add_argument(
        "--approach-s",
        type=argtypes.duration,
        default=1.0,
        help="--kiosk: seconds each traveller stands at the camera in the lane before the "
        "passport is scanned (default 1; 0: the scan comes as the traveller appears)",
    )
    _lane_options(soak, "soak.md/.json")

    pad = registry.command(
        "bench pad",
        "APCER per attack type and BPCER of the liveness check on synthetic scenes",
        _pad,
    )
    add_pack_option(pad)
    pad.add_argument(
        "--photos",
        nargs="+",
        type=argtypes.sample_or_path,
        metavar="PHOTO",
        help="photos of the travellers (paths or sample:NAME[#i]; default: 4 sample faces)",
    )
    pad.add_argument(
        "--seeds",
        type=argtypes.int_range(1, 10_000, "seeds"),
        default=3,
        help="scenes per photo and kind (default 3)",
    )
    pad.add_argument(
        "--frames",
        type=argtypes.int_range(2, 10_000, "frames"),
        default=16,
        help="frames per scene (default 16)",
    )
    pad.add_argument(
        "--threshold",
        type=argtypes.unit_interval,
        default=None,
        help="liveness threshold (default: the gate's decision policy)",
    )
    add_no_progress_option(pad)
    add_json_output(pad, "the report")
    add_report_option(pad, "write pad.md/.json/.png into DIR")
    pad.add_argument(
        "--videos", type=Path, metavar="FOLDER", help="real clips instead (bench.pad_videos)"
    )
    pad.add_argument(
        "--window",
        type=argtypes.float_range(0.0, 60.0, "window in seconds", low_open=True),
        default=3.0,
        help="with --videos: window length in seconds (default 3, the lane's best-shot window)",
    )


def _lane_options(p: argparse.ArgumentParser, report: str) -> None:
    """What throughput and soak take alike: the lane's chips, pack and scenario, and where
    the results go."""
    add_no_pcsc_option(p)
    add_pack_option(p)
    add_scenario_option(p)
    add_json_output(p, "the report")
    add_report_option(p, f"write {report} into DIR")


def _pad(args: argparse.Namespace) -> int:
    from bench.environment import describe_environment
    from bench.pad import DEFAULT_PHOTOS, markdown, plot_scores, run_pad

    if args.videos is not None:
        from bench.pad_videos import run_videos, summary_lines

        report = run_videos(
            args.videos, args.pack, args.threshold, not args.no_progress, args.window
        )
        emit_json(report, args.json)
        print("\n".join(summary_lines(report)))
        return EXIT_OK
    summary, scores = run_pad(
        args.pack,
        photos=args.photos or DEFAULT_PHOTOS,
        seeds=args.seeds,
        frames=args.frames,
        threshold=args.threshold,
        progress=not args.no_progress,
    )
    summary["environment"] = describe_environment()
    emit_json(summary, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(summary, args.report / "pad.json")
        plot_scores(scores, summary["threshold"], args.report / "pad_scores.png")
        (args.report / "pad.md").write_text(markdown(summary), encoding="utf-8")
        print(f"report: {args.report / 'pad.md'}", file=sys.stderr)
    if not json_on_stdout(args.json):
        bona = summary["bona_fide"]
        parts = [f"BPCER {bona['bpcer']:.3f} (n={bona['presentations']})"]
        for kind, entry in summary["attacks"].items():
            parts.append(f"APCER[{kind}] {entry['apcer']:.3f} (n={entry['presentations']})")
        print(", ".join(parts))
    return EXIT_OK


def _throughput(args: argparse.Namespace) -> int:
    from bench.environment import describe_environment
    from bench.throughput import markdown, run_throughput

    runs = []
    for speed in args.speed:
        run = run_throughput(
            args.travellers,
            speed,
            use_pcsc=not args.no_pcsc,
            pack=args.pack,
            scenario_path=args.scenario,
        )
        runs.append(run)
        if not json_on_stdout(args.json):
            print(
                f"speed {speed:g}: {run['as_expected']}/{run['travellers']} as expected, "
                f"{run['travellers_per_hour']:.0f} travellers/h, "
                f"CPU {run['cpu_percent_of_one_core']:.0f} % of a core"
            )
    report = {"runs": runs, "environment": describe_environment()}
    emit_json(report, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(report, args.report / "throughput.json")
        (args.report / "throughput.md").write_text(markdown(report), encoding="utf-8")
        print(f"report: {args.report / 'throughput.md'}", file=sys.stderr)
    # A throughput of travellers the lane got wrong (a tampered pack refers everyone) is no
    # measurement: below the soak's bar of 99 % as expected, the run fails (exit 1).
    wrong = [r for r in runs if r["as_expected"] < AS_EXPECTED_SHARE * r["travellers"]]
    for run in wrong:
        print(
            f"speed {run['speed']:g}: only {run['as_expected']} of {run['travellers']} "
            "travellers as expected; the throughput does not count",
            file=sys.stderr,
        )
    return EXIT_FAILURE if wrong else EXIT_OK


def _soak(args: argparse.Namespace) -> int:
    if args.kiosk:
        return _kiosk_soak(args)
    from bench.environment import describe_environment
    from bench.soak import markdown, run_soak

    report = run_soak(
        args.travellers,
        speed=args.speed,
        use_pcsc=not args.no_pcsc,
        pack=args.pack,
        scenario_path=args.scenario,
        show_progress=sys.stderr.isatty(),
    )
    report["environment"] = describe_environment()
    if not json_on_stdout(args.json):
        sys.stdout.write(markdown(report))
    emit_json(report, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(report, args.report / "soak.json")
        (args.report / "soak.md").write_text(markdown(report), encoding="utf-8")
    return EXIT_OK if report["share_as_expected"] >= AS_EXPECTED_SHARE else EXIT_FAILURE


def _kiosk_soak(args: argparse.Namespace) -> int:
    from bench.environment import describe_environment
    from bench.kiosk_report import kiosk_markdown
    from bench.kiosk_soak import run_kiosk_soak

    report = run_kiosk_soak(
        args.travellers,
        door_time_scale=1.0 / args.speed,
        show_progress=sys.stderr.isatty(),
        approach_s=args.approach_s,
    )
    report["environment"] = describe_environment()
    if not json_on_stdout(args.json):
        sys.stdout.write(kiosk_markdown(report))
    emit_json(report, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(report, args.report / "soak.json")
        (args.report / "soak.md").write_text(kiosk_markdown(report), encoding="utf-8")
    return EXIT_OK if report["as_expected"] == report["travellers"] else EXIT_FAILURE
