"""``egate bench render-fidelity`` (the ``--conditions`` option is ``gate.cli.conditions``).

Render fidelity: how much of each genuine pair's identity the simulated traveller keeps
through the renderer and the gate's own capture (``bench.render_fidelity``,
docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gate.cli import args as argtypes
from gate.cli.base import EXIT_OK, Registry
from gate.cli.conditions import add_conditions_option
from gate.cli.options import add_json_output, add_pack_option, add_seed_option

DEFAULT_FIDELITY_PAIRS = 20


def register(registry: Registry) -> None:
    p = registry.command(
        "bench render-fidelity",
        "how much identity the simulated traveller keeps: each genuine pair rendered and "
        "captured by the gate's pipeline, against the matcher on the original images",
        _render_fidelity,
    )
    p.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="PATH",
        help="a pairs .csv, an LFW pairs.txt or a folder of identity folders",
    )
    p.add_argument(
        "--root", type=argtypes.directory, metavar="DIR", help="image root of an LFW pairs.txt"
    )
    add_conditions_option(p, default="ideal")
    p.add_argument(
        "--limit",
        type=argtypes.int_range(1, 100_000, "limit"),
        default=DEFAULT_FIDELITY_PAIRS,
        metavar="N",
        help=f"genuine pairs drawn (default {DEFAULT_FIDELITY_PAIRS})",
    )
    add_seed_option(p, "seed of the draw (default 0)")
    add_pack_option(p)
    p.add_argument("--target-fmr", default="1e-3", help="the gate's target FMR (threshold)")
    add_json_output(p, "the figures")


def _render_fidelity(args: argparse.Namespace) -> int:
    from bench.dataset_formats import load_dataset
    from bench.render_fidelity import genuine_pairs, pair_fidelity, summarise, summary_line
    from gate.errors import InputError
    from gate.simulate.faces import PhotoLibrary
    from models.engine import load_engine

    dataset = load_dataset(args.dataset, root=args.root, seed=args.seed)
    pairs = genuine_pairs(dataset, args.limit, args.seed)
    if not pairs:
        raise InputError(f"{args.dataset}: no genuine pairs")
    engine = load_engine(args.pack)
    world = load_engine("dlib-cc0")  # the simulator's own (gate.simulate.runner)
    photos = PhotoLibrary(lambda image: world.analyze(image, min_face=40))
    threshold = float(engine.threshold(args.target_fmr))
    out: dict[str, Any] = {"pack": engine.pack_id, "threshold": threshold, "conditions": {}}
    for conditions in args.conditions:
        results = []
        for number, pair in enumerate(pairs):
            left, right = (
                dataset.images[int(dataset.left[pair])],
                dataset.images[int(dataset.right[pair])],
            )
            if left.path is None or right.path is None:
                raise InputError(f"{args.dataset}: render-fidelity needs image files")
            result = pair_fidelity(
                engine,
                photos,
                pair,
                str(left.path),
                str(right.path),
                conditions=conditions,
                seed=args.seed * 1000 + number,
            )
            results.append(result)
            kept = result.margin_kept(threshold)
            print(
                f"[{conditions.name}] pair {pair}: {result.status}, matcher "
                f"{_num(result.matcher_distance)}, gate {_num(result.gate_distance)}, "
                f"margin kept {_num(kept, '.2f')}, best shot to original "
                f"{_num(result.best_shot_distance)}, render "
                f"{result.render_ms_per_frame:.1f} ms/frame, capture "
                f"{result.capture_ms_per_frame:.1f} ms/frame",
                file=sys.stderr,
            )
        summary = summarise(results, threshold)
        print(f"[{conditions.name}] {summary_line(summary)}")
        out["conditions"][conditions.name] = {
            "conditions": conditions.describe(),
            "summary": summary,
            "pairs": [r.as_dict(threshold) for r in results],
        }
    if args.json == "-":
        print(json.dumps(out, indent=2))
    elif args.json:
        from gate.simulate.report import write_json

        write_json(Path(args.json), out)
    return EXIT_OK


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "n/a" if value is None else format(value, fmt)
