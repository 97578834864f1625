"""``egate bench``: accuracy of face packs on verification datasets, threshold calibration.

Heavy imports (numpy, the engine, matplotlib) stay inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gate.cli import EXIT_FAILURE, EXIT_OK, Registry
from gate.cli import args as argtypes
from gate.errors import InputError

MAX_TRAVELLERS = 100_000  # per throughput run; weeks of lane time at speed 1
MAX_UPSAMPLE = 3  # each doubling quadruples the pixels


def register(registry: Registry) -> None:
    registry.group(
        "bench", "benchmarks: accuracy, threshold calibration, lane throughput, liveness (PAD)"
    )
    accuracy = registry.command(
        "bench accuracy",
        "verification accuracy (EER, TAR at FMR, FTA) of one or more packs on a dataset",
        _accuracy,
    )
    source = accuracy.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pairs",
        type=argtypes.regular_file,
        metavar="PAIRS.csv",
        help="pairs CSV with header left,right,same (paths relative to its folder)",
    )
    source.add_argument(
        "--dataset",
        type=Path,
        metavar="PATH",
        help="a pairs .csv, an LFW pairs.txt, an InsightFace .bin or a folder of identity folders",
    )
    _dataset_options(accuracy)
    accuracy.add_argument(
        "--pack",
        nargs="+",
        action="extend",
        metavar="P",
        help="pack id(s) or folder(s) to compare side by side (default: fusion)",
    )
    accuracy.add_argument(
        "--impostors",
        type=argtypes.impostors,
        metavar="all|N",
        help="expand impostors across identities: every pair ('all') or N seeded pairs "
        "(default: the dataset's listed pairs)",
    )
    accuracy.add_argument(
        "--json", type=_output, metavar="OUT", help="write the JSON report ('-': stdout)"
    )
    accuracy.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.md, report.json, det.png and scores.png into DIR",
    )
    accuracy.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: Ray Data actors embed, Ray tasks score (pip extra 'ray')",
    )
    accuracy.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="with --engine ray: a running cluster ('auto' or host:port; default: start a "
        "private local Ray)",
    )
    accuracy.add_argument(
        "--workers",
        type=argtypes.int_range(1, 4096, "workers"),
        default=2,
        metavar="N",
        help="with --engine ray: embedding actors and scoring tasks (default 2)",
    )
    accuracy.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --engine ray: embedding shard cache (default ~/.cache/egate/embeddings)",
    )

    calibrate = registry.command(
        "bench calibrate",
        "write thresholds for FMR 1e-2, 1e-3, 1e-4 into a pack's manifest",
        _calibrate,
    )
    calibrate.add_argument("--pack", required=True, metavar="P", help="pack id or folder")
    calibrate.add_argument("--dataset", required=True, type=Path, metavar="PATH")
    _dataset_options(calibrate)
    calibrate.add_argument(
        "--impostors",
        type=argtypes.impostors,
        default="all",
        metavar="all|N",
        help="impostors across identities (default: all)",
    )
    calibrate.add_argument(
        "--dry-run", action="store_true", help="print the thresholds, leave the manifest alone"
    )
    calibrate.add_argument(
        "--json", type=_output, metavar="OUT", help="write the JSON report ('-': stdout)"
    )

    throughput = registry.command(
        "bench throughput",
        "travellers per hour, per-stage p50/p95/p99, CPU and dropped frames of a simulated lane",
        _throughput,
    )
    throughput.add_argument(
        "--travellers",
        type=argtypes.int_range(1, MAX_TRAVELLERS, "travellers"),
        default=100,
        help="travellers per run",
    )
    throughput.add_argument(
        "--speed",
        type=argtypes.speed,
        nargs="+",
        default=[1.0],
        metavar="S",
        help="time scales to run (1 = real physical timings; e.g. --speed 1 10)",
    )
    throughput.add_argument("--no-pcsc", action="store_true", help="chips in process, not PC/SC")
    throughput.add_argument("--pack", default=None, metavar="P", help="face pack id or folder")
    throughput.add_argument("--scenario", type=Path, default=None, help="scenario TOML")
    throughput.add_argument(
        "--json", type=_output, metavar="OUT", help="write the JSON ('-': stdout)"
    )
    throughput.add_argument("--report", type=Path, metavar="DIR", help="write report.md/.json")

    soak = registry.command(
        "bench soak",
        "many travellers through one simulated lane: RSS, threads and open files per traveller",
        _soak,
    )
    soak.add_argument(
        "--travellers",
        type=argtypes.int_range(1, MAX_TRAVELLERS, "travellers"),
        default=200,
        help="travellers in the run",
    )
    soak.add_argument("--speed", type=argtypes.speed, default=1.0, help="time scale of the lane")
    soak.add_argument("--no-pcsc", action="store_true", help="chips in process, not PC/SC")
    soak.add_argument("--pack", default=None, metavar="P", help="face pack id or folder")
    soak.add_argument("--scenario", type=Path, default=None, help="scenario TOML")
    soak.add_argument("--json", type=_output, metavar="OUT", help="write the JSON ('-': stdout)")
    soak.add_argument("--report", type=Path, metavar="DIR", help="write soak.md/.json")

    pad = registry.command(
        "bench pad",
        "APCER per attack type and BPCER of the liveness check on synthetic scenes",
        _pad,
    )
    pad.add_argument("--pack", default=None, metavar="P", help="face pack id or folder")
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
    pad.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    pad.add_argument("--json", type=_output, metavar="OUT", help="write the JSON ('-': stdout)")
    pad.add_argument("--report", type=Path, metavar="DIR", help="write pad.md/.json/.png")
    pad.add_argument(
        "--videos", type=Path, metavar="FOLDER", help="real clips instead (bench.pad_videos)"
    )


def _output(text: str) -> Path:
    return Path(argtypes.output_file(text))


def _pad(args: argparse.Namespace) -> int:
    from bench.environment import describe_environment
    from bench.pad import DEFAULT_PHOTOS, markdown, plot_scores, run_pad

    if args.videos is not None:
        from bench.pad_videos import run_videos, summary_lines

        report = run_videos(args.videos, args.pack, args.threshold, not args.no_progress)
        _emit_json(report, args.json)
        print("\n".join(summary_lines(report)))
        return 0
    summary, scores = run_pad(
        args.pack,
        photos=args.photos or DEFAULT_PHOTOS,
        seeds=args.seeds,
        frames=args.frames,
        threshold=args.threshold,
        progress=not args.no_progress,
    )
    summary["environment"] = describe_environment()
    _emit_json(summary, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(summary, args.report / "pad.json")
        plot_scores(scores, summary["threshold"], args.report / "pad_scores.png")
        (args.report / "pad.md").write_text(markdown(summary), encoding="utf-8")
        print(f"report: {args.report / 'pad.md'}", file=sys.stderr)
    if args.json is None or str(args.json) != "-":
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
        if args.json is None or str(args.json) != "-":
            print(
                f"speed {speed:g}: {run['as_expected']}/{run['travellers']} as expected, "
                f"{run['travellers_per_hour']:.0f} travellers/h, "
                f"CPU {run['cpu_percent_of_one_core']:.0f} % of a core"
            )
    report = {"runs": runs, "environment": describe_environment()}
    _emit_json(report, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(report, args.report / "throughput.json")
        (args.report / "throughput.md").write_text(markdown(report), encoding="utf-8")
        print(f"report: {args.report / 'throughput.md'}", file=sys.stderr)
    return EXIT_OK


def _soak(args: argparse.Namespace) -> int:
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
    if args.json is None or str(args.json) != "-":
        sys.stdout.write(markdown(report))
    _emit_json(report, args.json)
    if args.report is not None:
        from bench.report import write_json

        write_json(report, args.report / "soak.json")
        (args.report / "soak.md").write_text(markdown(report), encoding="utf-8")
    return EXIT_OK if report["share_as_expected"] >= 0.99 else EXIT_FAILURE


def _dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=argtypes.directory, metavar="DIR", help="image root of an LFW pairs.txt"
    )
    parser.add_argument(
        "--seed", type=argtypes.seed, default=0, help="seed for sampled pairs (default 0)"
    )
    parser.add_argument(
        "--limit",
        type=argtypes.count,
        metavar="N",
        help="use only N listed pairs, spread evenly (quick runs)",
    )
    parser.add_argument(
        "--threads", type=argtypes.threads, default=0, help="ONNX Runtime threads (0: auto)"
    )
    parser.add_argument(
        "--upsample",
        type=argtypes.int_range(0, MAX_UPSAMPLE, "upsample"),
        default=0,
        metavar="N",
        help="double every image N times before embedding (faces smaller than the detector "
        "finds; like dlib's number_of_times_to_upsample; the engine already doubles "
        "pictures of 150x150 and the like)",
    )
    parser.add_argument(
        "--face",
        choices=("centre", "largest"),
        default="centre",
        help="which face of a picture with several: the one nearest the centre (default: "
        "datasets label the centred person) or the largest (the gate's own policy)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _embed_options(args: argparse.Namespace) -> Any:
    from bench.accuracy import EmbedOptions

    return EmbedOptions(upsample=args.upsample, face=args.face)


def _load(args: argparse.Namespace, path: Path) -> Any:
    from bench.accuracy import parse_impostors
    from bench.dataset_formats import load_dataset
    from bench.datasets import subset

    impostors = parse_impostors(args.impostors)
    dataset = load_dataset(
        path,
        root=args.root,
        seed=args.seed,
        impostors_per_folder_set=impostors if isinstance(impostors, int) else None,
    )
    if args.limit is not None:
        dataset = subset(dataset, args.limit)
    return dataset, impostors


def _emit_json(report: dict[str, Any], target: Path | None) -> None:
    import json

    from bench.report import write_json

    if target is None:
        return
    if str(target) == "-":
        sys.stdout.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
    else:
        write_json(report, target)


def _accuracy(args: argparse.Namespace) -> int:
    from bench.accuracy import accuracy_report, evaluate_pack, open_engine
    from bench.environment import describe_environment
    from bench.report import write_report

    dataset, impostors = _load(args, args.pairs if args.pairs is not None else args.dataset)
    packs: list[str | None] = list(args.pack) if args.pack else [None]
    engines = [open_engine(pack, threads=args.threads) for pack in packs]
    if args.engine == "ray":
        results = _accuracy_on_ray(args, dataset, impostors, packs, engines)
    else:
        if args.address is not None:
            raise InputError("--address needs --engine ray")
        results = [
            evaluate_pack(
                engine,
                dataset,
                impostors,
                seed=args.seed,
                progress=not args.no_progress,
                options=_embed_options(args),
            )
            for engine in engines
        ]
    report = accuracy_report(
        dataset, results, describe_environment(engines), impostors, seed=args.seed
    )
    report["engine"] = {"kind": args.engine}
    if args.engine == "ray":
        report["engine"].update(workers=args.workers, address=args.address or "local")
    _emit_json(report, args.json)
    if args.report is not None:
        page = write_report(report, results, args.report)
        print(f"report: {page}", file=sys.stderr)
    if args.json is None or str(args.json) != "-":
        for result in results:
            print(_summary_line(result.summary))
    return EXIT_OK


def _accuracy_on_ray(
    args: argparse.Namespace,
    dataset: Any,
    impostors: Any,
    packs: list[str | None],
    engines: list[Any],
) -> list[Any]:
    from bench.accuracy import score_pack
    from bench.embedding_cache import default_cache_dir
    from bench.ray_engine import embed_with_ray, ray_scorer, ray_session

    options = _embed_options(args)
    progress = not args.no_progress
    cache = args.cache if args.cache is not None else default_cache_dir()
    with ray_session(args.address, args.workers) as ray:
        embeddings = embed_with_ray(
            ray, packs, engines, dataset, options, cache, args.workers, progress=progress
        )
        return [
            score_pack(
                engine,
                dataset,
                emb,
                impostors,
                seed=args.seed,
                progress=progress,
                options=options,
                scorer=ray_scorer(ray, pack, args.workers),
            )
            for pack, engine, emb in zip(packs, engines, embeddings, strict=True)
        ]


def _summary_line(s: dict[str, Any]) -> str:
    tars = " ".join(
        f"TAR@{key}={value:.4f}{'' if s['operating_points'][key]['supported'] else '(few)'}"
        for key, value in s["tar_at_fmr"].items()
    )
    acc = s["accuracy_at_default_threshold"]
    acc_text = "n/a" if acc is None else f"{acc:.4f}"
    return (
        f"{s['pack']}: pairs={s['pairs']} fta_images={s['fta_images']} eer={s['eer']:.4f} "
        f"{tars} impostor_comparisons={s['impostor_comparisons']} "
        f"accuracy@default={acc_text} images/s={s['images_per_second'] or 0:.1f}"
    )


def _normalise_fusion(args: argparse.Namespace, engine: Any, dataset: Any, impostors: Any) -> Any:
    """A fusion pack: measure each component's impostor mean/sd first (written unless
    --dry-run); the thresholds are then calibrated on the new fused distance."""
    from bench.fusion_calibration import measure_normalisation

    spec = measure_normalisation(
        engine,
        dataset,
        impostors,
        seed=args.seed,
        progress=not args.no_progress,
        options=_embed_options(args),
    )
    for c in spec.components:
        print(
            f"{c.name}: impostor mean {c.impostor_mean:.4f} sd {c.impostor_sd:.4f} "
            f"weight {c.weight:g}",
            file=sys.stderr,
        )
    if not args.dry_run:
        from models.pack import write_fusion

        write_fusion(args.pack, spec)
    return engine.with_fusion(spec)


def _calibrate(args: argparse.Namespace) -> int:
    from bench.accuracy import accuracy_report, calibrate, open_engine
    from bench.environment import describe_environment

    dataset, impostors = _load(args, args.dataset)
    if impostors is None:
        raise InputError("--impostors must be 'all' or a count for calibration")
    engine = open_engine(args.pack, threads=args.threads)
    if getattr(getattr(engine, "manifest", None), "fusion", None) is not None:
        engine = _normalise_fusion(args, engine, dataset, impostors)
    thresholds, note, result = calibrate(
        engine,
        dataset,
        impostors,
        seed=args.seed,
        progress=not args.no_progress,
        options=_embed_options(args),
    )
    if not args.dry_run:
        from models.pack import write_thresholds

        written = write_thresholds(args.pack, thresholds, note)
        print(f"thresholds written to {written}", file=sys.stderr)
    report = accuracy_report(
        dataset, [result], describe_environment([engine]), impostors, seed=args.seed
    )
    report["calibrated_thresholds"] = thresholds
    report["calibration_note"] = note
    _emit_json(report, args.json)
    if args.json is None or str(args.json) != "-":
        for key, value in thresholds.items():
            point = result.summary["operating_points"][key]
            flag = "" if point["supported"] else "  (too few impostors)"
            print(f"FMR {key}: threshold {value:.6f}  TAR {point['tar']:.4f}{flag}")
        print(note)
    return EXIT_OK
