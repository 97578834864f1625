"""``egate simulate --dataset PATH``: a scenario test on identity-labelled data.

The travellers come from the dataset's pairs (``bench.system_test``), go through one or
more simulated lanes (``gate.simulate.lanes``), and the system report (``bench
.system_report``) sets the gate's FTA, FRR and FAR beside the matcher alone on the same pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gate.cli.base import EXIT_FAILURE, EXIT_OK
from gate.cli.options import json_on_stdout
from gate.errors import InputError
from gate.simulate.approaches import is_approach_dataset


def simulate_dataset(args: argparse.Namespace, options: Any) -> int:
    from bench.dataset_formats import load_dataset
    from bench.system_report import system_report, write_system_report
    from bench.system_test import matcher_figures, travellers_from_dataset
    from gate.simulate.lanes import run_lanes
    from gate.simulate.report import format_table, write_json
    from models.engine import load_engine

    if is_approach_dataset(args.dataset):  # <traveller>/chip.jpg + approach.mp4 or frames
        from gate.cli.simulate_approaches import simulate_approaches

        return simulate_approaches(args, options)
    if args.travellers is not None:
        raise InputError("--travellers repeats a scenario; with --dataset use --limit")
    dataset = load_dataset(args.dataset, root=args.root, seed=args.seed)
    engine = load_engine(args.pack)  # the gate's own pack, for the matcher-only figures
    embeddings = None
    if args.impostors == "similar":
        from bench.accuracy import EmbedOptions, embed_images

        print(f"embedding {len(dataset.images)} images to find lookalikes", file=sys.stderr)
        embeddings = embed_images(engine, dataset, progress=True, options=EmbedOptions())
    people = travellers_from_dataset(
        dataset,
        limit=args.limit,
        seed=args.seed,
        impostors=args.impostors,
        engine=engine,
        embeddings=embeddings,
    )
    threshold = engine.threshold(options.policy.target_fmr)
    matcher = matcher_figures(engine, dataset, people, threshold, embeddings=embeddings)
    started = time.perf_counter()
    results = run_lanes(people.scenario, options, args.lanes)
    wall = time.perf_counter() - started
    print(format_table(results))
    run: dict[str, Any] = {
        "scenario": people.scenario.name,
        "dataset": dataset.describe(),
        "impostors": args.impostors,
        "limit": args.limit,
        "seed": args.seed,
        "lanes": args.lanes,
        "wall_s": wall,
        "travellers_per_hour": 3600.0 * len(results) / wall if wall > 0 else None,
        "speed": options.speed,
        "pcsc": options.use_pcsc,
        "target_fmr": options.policy.target_fmr,
    }
    report = system_report(results, matcher, run)
    s = report["system"]
    print(
        f"system: FTA {_rate(s['fta'])}  FRR {_rate(s['frr'])}  FAR {_rate(s['far'])}; "
        f"matcher alone: FNMR {_value(matcher['fnmr'])}  FMR {_value(matcher['fmr'])}; "
        f"{args.lanes} lane(s), {wall:.1f} s"
    )
    if json_on_stdout(args.json):
        print(json.dumps(report, indent=2))
    elif args.json:
        write_json(Path(args.json), report)
    if args.report is not None:
        page = write_system_report(report, Path(args.report))
        print(f"report: {page}", file=sys.stderr)
    if every_transaction_failed(results):
        print(
            f"every one of {len(results)} travellers ended in a failure of the gate itself "
            "(REFER_DEVICE, TIMEOUT or AUDIT_FAILED): the figures measure nothing",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def every_transaction_failed(results: Sequence[Any]) -> bool:
    """True when no traveller got a decision of the gate's own: each ended in a device,
    time or audit failure (a tampered pack, a lost audit disk), so rates mean nothing."""
    from gate.outcome import Decision

    failures = (Decision.REFER_DEVICE, Decision.TIMEOUT, Decision.AUDIT_FAILED)
    return bool(results) and all(r.actual in failures for r in results)


def _rate(rate: dict[str, Any]) -> str:
    return _value(rate["rate"]) + f" ({rate['count']}/{rate['of']})"


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
