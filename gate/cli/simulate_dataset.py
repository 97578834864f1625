"""``egate simulate --dataset PATH``: a scenario test on identity-labelled data.

The travellers come from the dataset's pairs (``bench.system_test``), go through one or
more simulated lanes (``gate.simulate.lanes``), and the system report (``bench
.system_report``) sets the gate's FTA, FRR and FAR beside the matcher alone on the same pairs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gate.cli.base import EXIT_FAILURE, EXIT_OK
from gate.cli.conditions import conditions_to_run
from gate.cli.options import json_on_stdout
from gate.errors import InputError
from gate.simulate.approaches import is_approach_dataset


def simulate_dataset(args: argparse.Namespace, options: Any) -> int:
    from bench.dataset_formats import load_dataset
    from bench.system_conditions import (
        conditions_summary,
        fidelity_line,
        write_conditions_page,
    )
    from bench.system_report import system_report, write_system_report
    from bench.system_test import matcher_figures, travellers_from_dataset
    from gate.simulate.lanes import run_lanes
    from gate.simulate.report import format_table, write_json
    from models.engine import load_engine

    if is_approach_dataset(args.dataset):  # <traveller>/chip.jpg + approach.mp4 or frames
        from gate.cli.simulate_approaches import simulate_approaches

        if getattr(args, "conditions", None) or getattr(args, "sweep", None) is not None:
            raise InputError("captured approaches are shown as recorded: no --conditions/--sweep")

        return simulate_approaches(args, options)
    if args.travellers is not None:
        raise InputError("--travellers repeats a scenario; with --dataset use --limit")
    sweep = getattr(args, "sweep", None)
    conditions = conditions_to_run(getattr(args, "conditions", None), sweep)
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
    reports: dict[str, Any] = {}
    every_result: list[Any] = []
    for condition in conditions:
        scenario = replace(people.scenario, conditions=condition)
        name = condition.name if condition is not None else ""
        started = time.perf_counter()
        results = run_lanes(scenario, options, args.lanes)
        every_result += results
        wall = time.perf_counter() - started
        print(format_table(results))
        run: dict[str, Any] = {
            "scenario": scenario.name,
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
            "conditions": condition.describe() if condition is not None else None,
        }
        report = system_report(results, matcher, run)
        s = report["system"]
        print(
            f"system{f' [{name}]' if name else ''}: FTA {_rate(s['fta'])}  "
            f"FRR {_rate(s['frr'])}  FAR {_rate(s['far'])}; "
            f"matcher alone: FNMR {_value(matcher['fnmr'])}  FMR {_value(matcher['fmr'])}; "
            f"{fidelity_line(s['fidelity'])}; {args.lanes} lane(s), {wall:.1f} s"
        )
        reports[name] = report
    swept = None
    if sweep is not None:
        from bench.system_sweep import sweep_line, sweep_summary

        swept = sweep_summary(sweep.axis, sweep.values, reports)
        print(sweep_line(swept))
    if len(reports) == 1 and swept is None:
        (report,) = reports.values()
        output: dict[str, Any] = report
    else:
        output = {"conditions": conditions_summary(reports), "reports": reports}
        if swept is not None:
            output["sweep"] = swept
    if json_on_stdout(args.json):
        print(json.dumps(output, indent=2))
    elif args.json:
        write_json(Path(args.json), output)
    if args.report is not None:
        folder = Path(args.report)
        if len(reports) == 1 and swept is None:
            page = write_system_report(report, folder)
        else:
            for name, each in reports.items():
                write_system_report(each, folder / report_folder(name))
            page = write_conditions_page(conditions_summary(reports), folder)
        if swept is not None:
            from bench.system_sweep import write_sweep_page

            page = write_sweep_page(swept, folder)
        print(f"report: {page}", file=sys.stderr)
    if every_transaction_failed(every_result):
        print(
            f"every one of {len(every_result)} travellers ended in a failure of the gate itself "
            "(REFER_DEVICE, TIMEOUT or AUDIT_FAILED): the figures measure nothing",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def report_folder(name: str) -> str:
    """A condition's report folder: its name with anything but letters, digits and
    ``.=-`` as ``_`` (a name from a conditions file never leaves the report folder)."""
    safe = re.sub(r"[^A-Za-z0-9.=-]+", "_", name).strip("._") or "conditions"
    return safe


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
