"""``egate simulate --dataset DIR`` on an approach dataset: ``<traveller>/chip.jpg`` with the
traveller's own ``approach.mp4`` or ``approach/`` frames (``gate.simulate.approaches``).

The travellers go through one or more simulated lanes as any dataset's do, and the system
report gives the gate's FTA, FRR and FAR; the matcher-alone column is empty (there are no
image pairs to compare without the gate)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from gate.cli.base import EXIT_FAILURE, EXIT_OK
from gate.cli.options import json_on_stdout
from gate.cli.recording import no_matcher, rate
from gate.errors import InputError
from gate.outcome import Decision


def simulate_approaches(args: argparse.Namespace, options: Any) -> int:
    from bench.system_report import system_report, write_system_report
    from gate.simulate.approaches import approach_scenario
    from gate.simulate.lanes import run_lanes
    from gate.simulate.report import format_table, write_json

    refused = [flag for flag, given in (("--root", args.root is not None),
               ("--impostors similar", args.impostors == "similar"),
               ("--travellers", args.travellers is not None)) if given]  # fmt: skip
    if refused:
        raise InputError(f"{', '.join(refused)}: not with an approach dataset")
    scenario = approach_scenario(args.dataset, args.limit)
    started = time.perf_counter()
    results = run_lanes(scenario, options, args.lanes)
    wall = time.perf_counter() - started
    print(format_table(results))
    run = {
        "scenario": scenario.name,
        "dataset": f"approaches: {args.dataset}",
        "limit": args.limit,
        "lanes": args.lanes,
        "wall_s": wall,
        "speed": options.speed,
        "pcsc": options.use_pcsc,
        "target_fmr": options.policy.target_fmr,
    }
    report = system_report(results, no_matcher(results), run)
    s = report["system"]
    print(f"system: FTA {rate(s['fta'])}  FRR {rate(s['frr'])}  FAR {rate(s['far'])}; "
          f"{args.lanes} lane(s), {wall:.1f} s")  # fmt: skip
    if json_on_stdout(args.json):
        print(json.dumps(report, indent=2))
    elif args.json:
        write_json(Path(args.json), report)
    if args.report is not None:
        print(f"report: {write_system_report(report, Path(args.report))}", file=sys.stderr)
    failures = (Decision.REFER_DEVICE, Decision.TIMEOUT, Decision.AUDIT_FAILED)
    return EXIT_FAILURE if all(r.actual in failures for r in results) else EXIT_OK
