"""``egate bench accuracy`` and ``bench calibrate``: accuracy of face packs on verification
datasets, threshold calibration (``gate.cli.bench_lane_cmd`` has the benchmarks that run a
lane).

Heavy imports (numpy, the engine, matplotlib, Ray) stay inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gate.cli import args as argtypes
from gate.cli.base import EXIT_OK, Registry
from gate.cli.bench_output import BENCH_HELP, emit_json
from gate.cli.options import (
    add_json_output,
    add_no_progress_option,
    add_pack_option,
    add_report_option,
    add_seed_option,
    add_threads_option,
    json_on_stdout,
)
from gate.errors import InputError

MAX_UPSAMPLE = 3  # each doubling quadruples the pixels


def register(registry: Registry) -> None:
    registry.group("bench", BENCH_HELP)
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
    add_pack_option(
        accuracy, "pack id(s) or folder(s) to compare side by side (default: fusion)", many=True
    )
    accuracy.add_argument(
        "--impostors",
        type=argtypes.impostors,
        metavar="all|N",
        help="expand impostors across identities: every pair ('all') or N seeded pairs "
        "(default: the dataset's listed pairs)",
    )
    add_json_output(accuracy, "the report")
    add_report_option(accuracy, "write report.md, report.json, det.png and scores.png into DIR")
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
    add_pack_option(calibrate, "pack id or folder", required=True)
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
    add_json_output(calibrate, "the report")


def _dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=argtypes.directory, metavar="DIR", help="image root of an LFW pairs.txt"
    )
    add_seed_option(parser, "seed for sampled pairs (default 0)")
    parser.add_argument(
        "--limit",
        type=argtypes.count,
        metavar="N",
        help="use only N listed pairs, spread evenly (quick runs)",
    )
    add_threads_option(parser)
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
    add_no_progress_option(parser)


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
    emit_json(report, args.json)
    if args.report is not None:
        page = write_report(report, results, args.report)
        print(f"report: {page}", file=sys.stderr)
    if not json_on_stdout(args.json):
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
    emit_json(report, args.json)
    if not json_on_stdout(args.json):
        for key, value in thresholds.items():
            point = result.summary["operating_points"][key]
            flag = "" if point["supported"] else "  (too few impostors)"
            print(f"FMR {key}: threshold {value:.6f}  TAR {point['tar']:.4f}{flag}")
        print(note)
    return EXIT_OK
