"""``egate mrz read`` (the MRZ of a page image, by OCR) and ``egate bench mrz`` (the reader on
rendered pages or on a folder of real document images), both over ``gate.page``."""

from __future__ import annotations

import argparse
import json
import sys

from gate.cli import args as argtypes
from gate.cli.base import EXIT_FAILURE, EXIT_OK, Registry
from gate.cli.bench_output import BENCH_HELP, emit_json
from gate.cli.options import (
    add_json_flag,
    add_json_output,
    add_no_progress_option,
    add_seed_option,
    json_on_stdout,
)

DEFAULT_PAGES = 1000


def register(registry: Registry) -> None:
    registry.group("mrz", "the machine readable zone of a document page image")
    p = registry.command(
        "mrz read",
        "find the MRZ on a page image (any rotation; TD1, TD2 or TD3) and read it; exit 1 "
        "when it is read but not valid",
        _read,
    )
    p.add_argument("image", type=argtypes.regular_file, metavar="IMAGE", help="the page image")
    add_json_flag(p, "print the lines, fields, validity and confidences as JSON")
    registry.group("bench", BENCH_HELP)
    b = registry.command(
        "bench mrz",
        "the MRZ reader on seeded rendered pages (exact reads, valid-but-wrong, time per "
        "page) or, with --folder, on real document images (how many give a valid MRZ)",
        _bench,
    )
    b.add_argument(
        "--pages",
        type=argtypes.int_range(1, 1_000_000, "pages"),
        default=DEFAULT_PAGES,
        metavar="N",
        help=f"rendered pages (default {DEFAULT_PAGES})",
    )
    b.add_argument(
        "--folder",
        type=argtypes.directory,
        default=None,
        metavar="DIR",
        help="read the images in DIR instead of rendered pages",
    )
    add_seed_option(b, "seed of the rendered pages (default 0)")
    add_no_progress_option(b)
    add_json_output(b, "the report (every miss included)")


def _read(args: argparse.Namespace) -> int:
    from gate.images import load_image
    from gate.page import read_mrz

    reading = read_mrz(load_image(args.image))
    if args.json:
        sys.stdout.write(json.dumps(reading.to_json(), indent=2) + "\n")
    else:
        print("\n".join(reading.lines))
        lowest = min(min(line) for line in reading.confidence)
        state = "valid" if reading.valid else "NOT valid"
        print(
            f"{reading.kind}, {state}, {reading.corrections} corrected, "
            f"lowest confidence {lowest:.2f}",
            file=sys.stderr,
        )
    return EXIT_OK if reading.valid else EXIT_FAILURE


def _bench(args: argparse.Namespace) -> int:
    from bench.mrz import image_files, run_folder, run_rendered, summary_line
    from gate.errors import InputError

    show = not args.no_progress
    if args.folder is not None:
        files = image_files(args.folder)
        if not files:
            raise InputError(f"{args.folder}: no image files")
        report = run_folder(files, show_progress=show)
    else:
        report = run_rendered(args.pages, args.seed, show_progress=show)
    emit_json(report, args.json)
    print(summary_line(report), file=sys.stderr if json_on_stdout(args.json) else sys.stdout)
    return EXIT_OK
