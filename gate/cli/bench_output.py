"""What the ``egate bench`` command modules share: the group's help and where a report's
JSON goes (``--json OUT``, ``-`` for stdout)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gate.cli.options import json_on_stdout

BENCH_HELP = "benchmarks: accuracy, threshold calibration, lane throughput, liveness (PAD)"


def emit_json(report: dict[str, Any], target: str | None) -> None:
    """Write ``report`` to the file ``target``, print it (``-``) or do nothing (``None``);
    NaN and infinity are refused (JSON has neither)."""
    import json

    from bench.report import write_json

    if target is None:
        return
    if json_on_stdout(target):
        sys.stdout.write(json.dumps(report, indent=2, allow_nan=False) + "\n")
    else:
        write_json(report, Path(target))
